// Hostile input text and hostile tokenizer files: correct output or a clear error, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "attnscope/error.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_test_data.h"

using namespace tokenizer_test;
using attnscope::Error;
using attnscope::ErrorKind;
using attnscope::Tokenizer;

namespace {

const char* const kAll[] = {
    "tokenizers/gpt2",
    "llama.cpp-vocab/ggml-vocab-gpt-2.gguf",
    "llama.cpp-vocab/ggml-vocab-llama-spm.gguf",
    "tokenizers/llama3/tokenizer.json",
    "tokenizers/qwen3/tokenizer.json",
    "stories260K.gguf",
};

std::string temp_dir() {
  const auto d = std::filesystem::temp_directory_path() /
                 ("attnscope_tok_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(d);
  return d.string();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Encoding must keep every byte: decode gives the input back and every shown string is UTF-8.
void expect_lossless(const std::string& s, const std::string& what) {
  for (const char* path : kAll) {
    const Tokenizer& t = tok(path);
    std::vector<int32_t> ids;
    ASSERT_NO_THROW(ids = t.encode(s, false, false)) << path << ": " << what;
    EXPECT_EQ(t.decode(ids), s) << path << ": " << what;
    for (int32_t id : ids) {
      ASSERT_TRUE(attnscope::detail::utf8_valid(t.token_to_str(id))) << path << ": " << what;
    }
  }
}

std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(TokenizerHostile, InvalidUtf8IsKeptByteForByte) {
  expect_lossless(
      "\xFF\xFE"
      "abc\xC3",
      "stray bytes");
  expect_lossless("caf\xC3", "truncated 2-byte character at the end");
  expect_lossless("\xE2\x82 euro", "truncated 3-byte character");
  expect_lossless("\xC0\xAF overlong", "overlong slash");
  expect_lossless("\xF4\x90\x80\x80 above U+10FFFF", "code point above U+10FFFF");
  expect_lossless("\x80\x80\x80", "lone continuation bytes");
}

TEST(TokenizerHostile, SurrogatesEncodedAsBytes) {
  expect_lossless("\xED\xA0\x80", "lone high surrogate");
  expect_lossless("a\xED\xB0\x80z", "lone low surrogate");
  expect_lossless("\xED\xA0\xBD\xED\xB8\x80 CESU-8 emoji", "surrogate pair in CESU-8");
}

TEST(TokenizerHostile, NulBytes) {
  expect_lossless(std::string("a\0b\0\0c", 6), "NUL inside text");
  expect_lossless(std::string(1000, '\0'), "only NULs");
}

TEST(TokenizerHostile, OneMegabyteOfOneCharacter) {
  expect_lossless(std::string(1 << 20, 'a'), "1 MB of 'a'");
  expect_lossless(std::string(1 << 20, ' '), "1 MB of spaces");
  expect_lossless(std::string(1 << 20, '7'), "1 MB of digits");
  std::string llamas;
  while (llamas.size() < (1u << 20)) llamas += "\xF0\x9F\xA6\x99";
  expect_lossless(llamas, "1 MB of one emoji");
}

TEST(TokenizerHostile, OneMegabyteOfAIsFewTokens) {
  // Merging must actually happen (a long run becomes long tokens, not a byte per token).
  const Tokenizer& t = tok("tokenizers/llama3/tokenizer.json");
  const auto ids = t.encode(std::string(1 << 20, 'a'), false);
  EXPECT_LT(ids.size(), (1u << 20) / 4);
}

TEST(TokenizerHostile, MergeNamingUnknownToken) {
  const std::string dir = temp_dir();
  write(dir + "/tokenizer.json", R"({
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a c"]},
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "decoder": {"type": "ByteLevel"}
  })");
  ErrorKind kind{};
  const std::string msg = error_of([&] { Tokenizer::from_path(dir + "/tokenizer.json"); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Format);
  EXPECT_NE(msg.find("merge 1 'a c'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'c'"), std::string::npos) << msg;
  std::filesystem::remove_all(dir);
}

TEST(TokenizerHostile, MalformedTokenizerJson) {
  const std::string dir = temp_dir();
  ErrorKind kind{};
  write(dir + "/tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}");
  EXPECT_NE(error_of([&] { Tokenizer::from_path(dir); }, &kind).find("not valid JSON"), std::string::npos);
  EXPECT_EQ(kind, ErrorKind::Format);

  write(dir + "/tokenizer.json", R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})");
  std::string msg = error_of([&] { Tokenizer::from_path(dir); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Unsupported);
  EXPECT_NE(msg.find("'Unigram'"), std::string::npos) << msg;

  write(dir + "/tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
            "pre_tokenizer": {"type": "BertPreTokenizer"}})");
  msg = error_of([&] { Tokenizer::from_path(dir); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Unsupported);
  EXPECT_NE(msg.find("BertPreTokenizer"), std::string::npos) << msg;

  write(dir + "/tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 99999999999}}})");
  msg = error_of([&] { Tokenizer::from_path(dir); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Format);
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;

  write(dir + "/tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0}},
            "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}})");
  msg = error_of([&] { Tokenizer::from_path(dir); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Format);
  EXPECT_NE(msg.find("(unclosed"), std::string::npos) << msg;
  std::filesystem::remove_all(dir);
}

// A key holding another JSON type than the one read (nlohmann throws its own type_error there) is
// a Format error naming the file, wherever it sits (found by fuzzing: "ignore_merges": [...]).
TEST(TokenizerHostile, WrongJsonTypesAreFormatErrors) {
  const std::string dir = temp_dir();
  for (const std::string& bad :
       {std::string(R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "ignore_merges": ["a b"]})"),
        std::string(R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                       "added_tokens": [{"id": 0, "content": "a", "special": "yes"}])"),
        std::string(R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                       "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": 1.5})"),
        std::string(R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                       "decoder": {"type": "Strip", "content": " ", "start": "one"})"),
        std::string(R"("model": {"type": 7, "vocab": {"a": 0}, "merges": []})")}) {
    write(dir + "/tokenizer.json", "{" + bad + "}");
    ErrorKind kind{};
    const std::string msg = error_of([&] { Tokenizer::from_path(dir); }, &kind);
    EXPECT_EQ(kind, ErrorKind::Format) << bad << ": " << msg;
    EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("wrong type"), std::string::npos) << msg;
  }
  std::filesystem::remove_all(dir);
}

// The id table is sized by the largest id, so an id must stay within twice the tokens the file
// lists (+1024): a three-token file naming id 10,000,000 (below the absolute 16 M cap) used to
// allocate 10 M strings (320 MB, seconds under ASan: a fuzzing finding).
TEST(TokenizerHostile, SparseIdsAreRefused) {
  const std::string dir = temp_dir();
  ErrorKind kind{};
  write(dir + "/tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
            "added_tokens": [{"id": 10000000, "content": "<x>", "special": true}]})");
  std::string msg = error_of([&] { Tokenizer::from_path(dir); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Format);
  EXPECT_NE(msg.find("token id 10000000 for '<x>' is out of range (the file lists 3 tokens"), std::string::npos) << msg;

  // The bound's edge: 3 entries allow ids up to 2*3 + 1024 - 1 = 1029.
  write(dir + "/tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
            "added_tokens": [{"id": 1029, "content": "<x>", "special": true}]})");
  const auto tok = Tokenizer::from_path(dir);
  EXPECT_EQ(tok->vocab_size(), 1030);
  EXPECT_EQ(tok->encode("<x>", false, true), std::vector<int32_t>{1029});
  write(dir + "/tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
            "added_tokens": [{"id": 1030, "content": "<x>", "special": true}]})");
  EXPECT_NE(error_of([&] { Tokenizer::from_path(dir); }, &kind).find("out of range"), std::string::npos);
  std::filesystem::remove_all(dir);

  // GPT-2's encoder.json + vocab.bpe take the same bound.
  const std::string gdir = temp_dir();
  write(gdir + "/encoder.json", R"({"a": 0, "b": 5000000})");
  write(gdir + "/vocab.bpe", "#version: 0.2\n");
  msg = error_of([&] { Tokenizer::from_path(gdir); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Format);
  EXPECT_NE(msg.find("token id 5000000 for 'b' is out of range (the file lists 2 tokens"), std::string::npos) << msg;
  std::filesystem::remove_all(gdir);
}

namespace {
// A tiny byte-level GGUF vocabulary: the 256 byte symbols plus "ab".
void write_bpe_gguf(const std::string& path, const std::string& model, const std::string& pre) {
  attnscope::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", model);
  if (!pre.empty()) w.set_string("tokenizer.ggml.pre", pre);
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) {
    std::string s;
    uint32_t cp = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE) ? b : 0;
    if (cp == 0) {
      int n = 0;
      for (int k = 0; k < b; ++k) {
        if (!((k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE))) ++n;
      }
      cp = 256 + n;
    }
    attnscope::detail::utf8_append(s, cp);
    tokens.push_back(s);
  }
  tokens.push_back("ab");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_i32s("tokenizer.ggml.token_type", std::vector<int32_t>(tokens.size(), 1));
  w.set_strings("tokenizer.ggml.merges", {"a b"});
  w.write(path);
}
}  // namespace

TEST(TokenizerHostile, GgufUnknownPreTokenizerOrModelIsNamed) {
  const std::string dir = temp_dir();
  ErrorKind kind{};
  write_bpe_gguf(dir + "/pre.gguf", "gpt2", "my-new-model");
  std::string msg = error_of([&] { Tokenizer::from_path(dir + "/pre.gguf"); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Unsupported);
  EXPECT_NE(msg.find("'my-new-model'"), std::string::npos) << msg;

  write_bpe_gguf(dir + "/model.gguf", "wordpiece-ish", "gpt-2");
  msg = error_of([&] { Tokenizer::from_path(dir + "/model.gguf"); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Unsupported);
  EXPECT_NE(msg.find("'wordpiece-ish'"), std::string::npos) << msg;

  // A well-formed tiny vocabulary works, and merges "a" + "b".
  write_bpe_gguf(dir + "/ok.gguf", "gpt2", "gpt-2");
  const auto t = Tokenizer::from_path(dir + "/ok.gguf");
  EXPECT_EQ(t->encode("ab", false), (std::vector<int32_t>{256}));
  EXPECT_EQ(t->decode(t->encode("x ab\n", false)), "x ab\n");
  std::filesystem::remove_all(dir);
}

TEST(TokenizerHostile, BadIdsAndPaths) {
  const Tokenizer& t = tok("tokenizers/gpt2");
  ErrorKind kind{};
  EXPECT_NE(error_of([&] { t.decode({1, 50257}); }, &kind).find("50257"), std::string::npos);
  EXPECT_EQ(kind, ErrorKind::InvalidArgument);
  EXPECT_NE(error_of([&] { t.token_to_str(-1); }, &kind).find("-1"), std::string::npos);
  error_of([&] { Tokenizer::from_path("/nonexistent/tokenizer.json"); }, &kind);
  EXPECT_EQ(kind, ErrorKind::NotFound);
}

TEST(TokenizerHostile, RandomBytesAreLossless) {
  std::mt19937 rng(99);
  for (int k = 0; k < 100; ++k) {
    std::string s(1 + rng() % 64, '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 256);
    expect_lossless(s, "random bytes, case " + std::to_string(k));
  }
}

TEST(TokenizerHostile, TruncatedSentencePieceModel) {
  const std::string full = read_file(models_dir() + "/tokenizers/llama2-spm/tokenizer.model");
  const std::string dir = temp_dir();
  const std::string path = dir + "/tokenizer.model";
  std::mt19937 rng(5);
  for (int k = 0; k < 40; ++k) {
    const size_t cut = k == 0 ? 0 : rng() % full.size();
    write(path, full.substr(0, cut));
    try {
      const auto t = Tokenizer::from_path(path);
      // A cut that happens to fall between pieces gives a shorter but usable vocabulary.
      EXPECT_GT(t->vocab_size(), 0);
      t->encode("hello world", true);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Format) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}
