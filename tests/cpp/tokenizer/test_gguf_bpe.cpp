// The GGUF path for byte-level BPE with the Llama 3 ("llama-bpe") and Qwen2 ("qwen2")
// pre-tokenizers: the vocabulary and merges of tokenizer.json are written into a vocab-only
// GGUF (as llama.cpp's converter does) and the test vectors must still give the same ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tokenizer/vocab_test_data.h"

using namespace tokenizer_test;
using attnscope::Tokenizer;
using json = nlohmann::json;

namespace {

std::string gguf_from_tokenizer_json(const std::string& rel, const std::string& pre, const std::string& bos) {
  const json j = json::parse(read_file(models_dir() + "/" + rel));
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto put = [&](int64_t id, const std::string& text, int32_t type) {
    if (static_cast<size_t>(id) >= tokens.size()) {
      tokens.resize(id + 1);
      types.resize(id + 1, 5);
    }
    tokens[id] = text;
    types[id] = type;
  };
  for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it) {
    put(it.value().get<int64_t>(), it.key(), 1);
  }
  int32_t bos_id = -1;
  for (const auto& a : j["added_tokens"]) {
    put(a["id"].get<int64_t>(), a["content"], a["special"].get<bool>() ? 3 : 4);
    if (a["content"] == bos) bos_id = a["id"].get<int32_t>();
  }
  std::vector<std::string> merges;
  for (const auto& m : j["model"]["merges"]) {
    merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  attnscope::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_strings("tokenizer.ggml.merges", merges);
  if (bos_id >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos_id));
  const auto path = std::filesystem::temp_directory_path() / ("attnscope_vocab_" + pre + ".gguf");
  w.write(path.string());
  return path.string();
}

void check(const std::string& gguf, const std::string& vectors, const std::string& json_rel) {
  const auto t = Tokenizer::from_path(gguf);
  EXPECT_EQ(t->kind(), "bpe");
  const auto cases = load_cases(vectors);
  std::string report;
  const int ok = count_matches(*t, cases, report);
  std::printf("[vectors] %-40s %s: %d/%zu\n", gguf.c_str(), vectors.c_str(), ok, cases.size());
  EXPECT_EQ(ok, static_cast<int>(cases.size())) << report;
  const Tokenizer& ref = tok(json_rel);
  for (const auto& c : cases) {
    EXPECT_EQ(t->to_str_tokens(c.ids), ref.to_str_tokens(c.ids));
    EXPECT_EQ(t->decode(c.ids), ref.decode(c.ids));
  }
  std::filesystem::remove(gguf);
}

}  // namespace

TEST(TokenizerGgufBpe, LlamaBpePreTokenizer) {
  const std::string path =
      gguf_from_tokenizer_json("tokenizers/llama3/tokenizer.json", "llama-bpe", "<|begin_of_text|>");
  {
    const auto t = Tokenizer::from_path(path);
    EXPECT_TRUE(t->add_bos_default());  // llama.cpp's rule for llama-bpe
    EXPECT_EQ(t->bos_id(), 128000);
    EXPECT_EQ(t->encode("<|begin_of_text|>hi", false, true).front(), 128000);
  }
  check(path, "llama-bpe", "tokenizers/llama3/tokenizer.json");
}

TEST(TokenizerGgufBpe, Qwen2PreTokenizer) {
  const std::string path = gguf_from_tokenizer_json("tokenizers/qwen3/tokenizer.json", "qwen2", "");
  {
    const auto t = Tokenizer::from_path(path);
    EXPECT_FALSE(t->add_bos_default());
  }
  check(path, "qwen2", "tokenizers/qwen3/tokenizer.json");
}
