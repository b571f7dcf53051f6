// llama.cpp's tokenizer test vectors: every string must encode to exactly the published ids,
// from every loader that can describe the vocabulary.
#include <gtest/gtest.h>

#include "tokenizer/vocab_test_data.h"

using namespace tokenizer_test;
using attnscope::Tokenizer;

namespace {

void expect_all(const Tokenizer& t, const std::string& vectors, const std::string& label) {
  const auto cases = load_cases(vectors);
  ASSERT_EQ(cases.size(), 46u) << vectors;
  std::string report;
  const int ok = count_matches(t, cases, report);
  std::printf("[vectors] %-40s %s: %d/%zu\n", label.c_str(), vectors.c_str(), ok, cases.size());
  EXPECT_EQ(ok, static_cast<int>(cases.size())) << report;
}

}  // namespace

TEST(TokenizerVectors, Gpt2FromEncoderJsonAndVocabBpe) {
  const Tokenizer& t = tok("tokenizers/gpt2");
  EXPECT_EQ(t.kind(), "bpe");
  EXPECT_EQ(t.vocab_size(), 50257);
  expect_all(t, "gpt-2", "tokenizers/gpt2 (encoder.json+vocab.bpe)");
}

TEST(TokenizerVectors, Gpt2FromVocabGguf) {
  const Tokenizer& t = tok("llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(t.pre_tokenizer(), "gpt-2");
  expect_all(t, "gpt-2", "ggml-vocab-gpt-2.gguf");
}

TEST(TokenizerVectors, LlamaSpmFromVocabGguf) {
  const Tokenizer& t = tok("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(t.kind(), "spm");
  expect_all(t, "llama-spm", "ggml-vocab-llama-spm.gguf");
}

TEST(TokenizerVectors, LlamaSpmFromRandomLlama2Model) {
  const Tokenizer& t = tok("llama-2-tiny-random.gguf");
  EXPECT_EQ(t.vocab_size(), 32000);
  expect_all(t, "llama-spm", "llama-2-tiny-random.gguf");
}

TEST(TokenizerVectors, LlamaSpmFromSentencePieceModel) {
  const Tokenizer& t = tok("tokenizers/llama2-spm/tokenizer.model");
  EXPECT_EQ(t.vocab_size(), 32000);
  expect_all(t, "llama-spm", "tokenizers/llama2-spm/tokenizer.model");
}

TEST(TokenizerVectors, LlamaBpeFromLlama3TokenizerJson) {
  const Tokenizer& t = tok("tokenizers/llama3/tokenizer.json");
  expect_all(t, "llama-bpe", "tokenizers/llama3/tokenizer.json");
}

TEST(TokenizerVectors, Qwen2FromQwen3TokenizerJson) {
  const Tokenizer& t = tok("tokenizers/qwen3/tokenizer.json");
  expect_all(t, "qwen2", "tokenizers/qwen3/tokenizer.json");
}
