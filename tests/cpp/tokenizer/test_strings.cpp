// Per-token strings, decode, round trips, special tokens and BOS rules.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/utf8.h"
#include "tokenizer/vocab_test_data.h"

using namespace tokenizer_test;
using attnscope::Tokenizer;
using attnscope::TokenType;

namespace {

const char* const kAll[] = {
    "tokenizers/gpt2",
    "llama.cpp-vocab/ggml-vocab-gpt-2.gguf",
    "llama.cpp-vocab/ggml-vocab-llama-spm.gguf",
    "tokenizers/llama2-spm/tokenizer.model",
    "tokenizers/llama3/tokenizer.json",
    "tokenizers/qwen3/tokenizer.json",
};

// Random valid UTF-8: code points drawn from ASCII, Latin, CJK, emoji, combining marks, spaces.
std::string random_utf8(std::mt19937& rng, size_t n_chars) {
  static const std::pair<uint32_t, uint32_t> ranges[] = {
      {0x20, 0x7E},     {0x00, 0x1F},     {0xA0, 0x24F},    {0x300, 0x36F},     {0x400, 0x4FF},
      {0x600, 0x6FF},   {0x900, 0x97F},   {0x1780, 0x17FF}, {0x3040, 0x30FF},   {0x4E00, 0x9FFF},
      {0xAC00, 0xD7A3}, {0xE000, 0xF8FF}, {0xFF00, 0xFFFF}, {0x1F300, 0x1FAFF}, {0x10000, 0x10FFFF},
  };
  std::string s;
  for (size_t i = 0; i < n_chars; ++i) {
    const auto& r = ranges[rng() % std::size(ranges)];
    uint32_t cp = r.first + rng() % (r.second - r.first + 1);
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
    if (rng() % 4 == 0) cp = " \n\t"[rng() % 3];
    attnscope::detail::utf8_append(s, cp);
  }
  return s;
}

// What decode(encode(s)) must give: Qwen normalises to NFC first.
std::string expected_round_trip(const std::string& path, const std::string& s) {
  if (path.find("qwen") != std::string::npos) return attnscope::detail::utf8_nfc(s);
  return s;
}

}  // namespace

TEST(TokenizerStrings, RoundTripOfEveryVectorFile) {
  const std::string inp = read_file(vocab_dir() + "/ggml-vocab-gpt-2.gguf.inp");
  auto cases = load_cases("gpt-2");
  for (const char* path : kAll) {
    const Tokenizer& t = tok(path);
    EXPECT_EQ(t.decode(t.encode(inp, false, false)), expected_round_trip(path, inp)) << path;
    EXPECT_EQ(t.decode(t.encode(inp, true, false)), expected_round_trip(path, inp)) << path;
    for (const auto& c : cases) {
      EXPECT_EQ(t.decode(t.encode(c.text, false, false)), expected_round_trip(path, c.text))
          << path << ": '" << c.text << "'";
    }
  }
}

TEST(TokenizerStrings, RoundTripOfRandomValidUtf8) {
  std::mt19937 rng(1234);
  for (const char* path : kAll) {
    const Tokenizer& t = tok(path);
    for (int k = 0; k < 200; ++k) {
      const std::string s = random_utf8(rng, 1 + rng() % 40);
      ASSERT_TRUE(attnscope::detail::utf8_valid(s));
      const auto ids = t.encode(s, false, false);
      ASSERT_EQ(t.decode(ids), expected_round_trip(path, s)) << path << " case " << k;
      for (const auto& str : t.to_str_tokens(ids)) {
        ASSERT_TRUE(attnscope::detail::utf8_valid(str)) << path;
      }
    }
  }
}

TEST(TokenizerStrings, EveryTokenStringIsValidUtf8) {
  for (const char* path : kAll) {
    const Tokenizer& t = tok(path);
    for (int32_t id = 0; id < t.vocab_size(); ++id) {
      ASSERT_TRUE(attnscope::detail::utf8_valid(t.token_to_str(id))) << path << " id " << id;
    }
  }
}

TEST(TokenizerStrings, ByteLevelSymbolsReadAsText) {
  const Tokenizer& t = tok("tokenizers/gpt2");
  const auto ids = t.encode("Hello world", false);
  ASSERT_EQ(ids, (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(t.token_text(995), "\xC4\xA0world");  // "Ġworld"
  EXPECT_EQ(t.to_str_tokens(ids), (std::vector<std::string>{"Hello", " world"}));
  // "🦙" is four bytes; GPT-2 splits it into tokens that are each only part of it.
  const auto euro = t.encode("\xF0\x9F\xA6\x99", false);
  ASSERT_GT(euro.size(), 1u);
  std::string joined;
  for (auto& s : t.to_str_tokens(euro)) joined += s;
  EXPECT_EQ(joined, "<0xF0><0x9F><0xA6><0x99>");
  EXPECT_EQ(t.decode(euro), "\xF0\x9F\xA6\x99");
}

TEST(TokenizerStrings, SentencePieceSpacesAndBytes) {
  const Tokenizer& t = tok("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_TRUE(t.add_bos_default());
  const auto ids = t.encode("Hello world", true);
  ASSERT_EQ(ids, (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(t.token_text(15043), "\xE2\x96\x81Hello");  // "▁Hello"
  EXPECT_EQ(t.to_str_tokens(ids), (std::vector<std::string>{"<s>", " Hello", " world"}));
  EXPECT_EQ(t.decode(ids), "Hello world");
  // <0xE2> is a byte token: shown as its bytes, never as invalid UTF-8.
  const int32_t e2 = t.token_to_id("<0xE2>");
  ASSERT_GE(e2, 0);
  EXPECT_EQ(t.token_type(e2), TokenType::Byte);
  EXPECT_EQ(t.token_to_str(e2), "<0xE2>");
  EXPECT_EQ(t.token_to_str(t.token_to_id("<0x0A>")), "\n");
}

TEST(TokenizerStrings, Llama3SpecialTokensAndBos) {
  const Tokenizer& t = tok("tokenizers/llama3/tokenizer.json");
  EXPECT_EQ(t.bos_id(), 128000);
  EXPECT_EQ(t.eos_id(), 128001);
  EXPECT_TRUE(t.add_bos_default());
  EXPECT_NE(t.chat_template().find("start_header_id"), std::string::npos);
  const auto ids = t.encode("<|begin_of_text|>Hi<|eot_id|>", false, true);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], 128000);
  EXPECT_EQ(ids[2], t.token_to_id("<|eot_id|>"));
  EXPECT_EQ(t.to_str_tokens(ids)[0], "<|begin_of_text|>");
  // Not parsed: the marker is ordinary text.
  const auto plain = t.encode("<|begin_of_text|>", false, false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(t.decode(plain), "<|begin_of_text|>");
  EXPECT_EQ(t.encode("Hi", true).front(), 128000);
}

TEST(TokenizerStrings, QwenSpecialTokensNoBos) {
  const Tokenizer& t = tok("tokenizers/qwen3/tokenizer.json");
  EXPECT_FALSE(t.add_bos_default());
  EXPECT_EQ(t.bos_id(), -1);
  EXPECT_EQ(t.eos_id(), t.token_to_id("<|im_end|>"));
  EXPECT_FALSE(t.chat_template().empty());
  const auto ids = t.encode("<|im_start|>user\nhi<|im_end|>", false, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_EQ(ids.back(), 151645);
  // NFC: "e" + combining acute encodes like the precomposed "é".
  EXPECT_EQ(t.encode("caf\x65\xCC\x81", false), t.encode("caf\xC3\xA9", false));
}

TEST(TokenizerStrings, BatchEncodeMatchesSingle) {
  const Tokenizer& t = tok("tokenizers/gpt2");
  const std::vector<std::string> texts = {"one", "two words", "", "three little words"};
  const auto batch = t.encode_batch(texts, false);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], t.encode(texts[i], false));
}

TEST(TokenizerStrings, Stories260KEncodesWithBos) {
  const Tokenizer& t = tok("stories260K.gguf");
  EXPECT_EQ(t.vocab_size(), 512);
  const auto ids = t.encode("Once upon a time", true);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(t.decode(ids), "Once upon a time");
  std::string joined;
  for (size_t i = 1; i < ids.size(); ++i) joined += t.token_to_str(ids[i]);
  EXPECT_EQ(joined, " Once upon a time");
}
