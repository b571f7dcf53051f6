// The encode path on arbitrary bytes, for every tokenizer kind in ../shared/models: the first
// byte picks the tokenizer, the rest is the text.
#include <cstdio>
#include <memory>

#include "harness.h"
#include "tokenizer_common.h"

namespace attnscope::fuzz {
namespace {

const std::vector<std::unique_ptr<Tokenizer>>& tokenizers() {
  static const auto all = [] {
    const std::string m = ATTNSCOPE_MODELS_DIR;
    std::vector<std::unique_ptr<Tokenizer>> v;
    for (const char* p : {"/tokenizers/gpt2", "/tokenizers/llama2-spm", "/tokenizers/llama3", "/tokenizers/qwen3",
                          "/stories260K.gguf", "/llama.cpp-vocab/ggml-vocab-gpt-2.gguf",
                          "/llama.cpp-vocab/ggml-vocab-llama-spm.gguf", "/safetensors/lm-buddy-tiny_gpt2-random"}) {
      try {
        v.push_back(Tokenizer::from_path(m + p));
      } catch (const Error& e) {
        std::fprintf(stderr, "tokenizer_encode: skipping %s: %s\n", p, e.what());
      }
    }
    return v;
  }();
  return all;
}

}  // namespace

int tokenizer_encode(const uint8_t* data, size_t size) {
  const auto& all = tokenizers();
  if (size == 0 || all.empty()) return 0;
  const Tokenizer& tok = *all[data[0] % all.size()];
  expect_clean([&] { exercise_tokenizer(tok, {reinterpret_cast<const char*>(data) + 1, size - 1}); });
  return 0;
}

}  // namespace attnscope::fuzz
