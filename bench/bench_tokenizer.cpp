// Tokenizer throughput: MB/s encoding a few MB of mixed-language text (llama.cpp's vocabulary
// test inputs, repeated), one thread, plus pathological single-character inputs.
//   cmake --build build -j2 --target bench_tokenizer && build/bench/bench_tokenizer
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "attnscope/tokenizer.h"

namespace {

const std::string kModels = ATTNSCOPE_MODELS_DIR;

const attnscope::Tokenizer& tokenizer(const std::string& rel) {
  static std::map<std::string, std::unique_ptr<attnscope::Tokenizer>> cache;
  auto& slot = cache[rel];
  if (!slot) slot = attnscope::Tokenizer::from_path(kModels + "/" + rel);
  return *slot;
}

// All distinct .inp files of llama.cpp-vocab, separators removed, repeated to ~4 MB.
const std::string& mixed_text() {
  static const std::string text = [] {
    std::string base;
    for (const auto& e : std::filesystem::directory_iterator(kModels + "/llama.cpp-vocab")) {
      const std::string name = e.path().filename().string();
      if (name.size() < 4 || name.substr(name.size() - 4) != ".inp") continue;
      if (name.find("gpt-2") == std::string::npos && name.find("gemma") == std::string::npos &&
          name.find("qwen35") == std::string::npos) {
        continue;  // the other .inp files are identical to gpt-2's
      }
      std::ifstream f(e.path(), std::ios::binary);
      std::ostringstream ss;
      ss << f.rdbuf();
      std::string s = ss.str();
      const std::string sep = "__ggml_vocab_test__";
      for (size_t p; (p = s.find(sep)) != std::string::npos;) s.erase(p, sep.size());
      base += s;
    }
    std::string out;
    while (out.size() < (4u << 20)) out += base;
    return out;
  }();
  return text;
}

void encode_bench(benchmark::State& state, const std::string& rel, const std::string& text) {
  const auto& t = tokenizer(rel);
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = t.encode(text, false, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

void BM_Mixed(benchmark::State& state, const char* rel) { encode_bench(state, rel, mixed_text()); }
void BM_OneMegabyteOfA(benchmark::State& state, const char* rel) {
  encode_bench(state, rel, std::string(1 << 20, 'a'));
}

}  // namespace

BENCHMARK_CAPTURE(BM_Mixed, llama3, "tokenizers/llama3/tokenizer.json")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Mixed, qwen3, "tokenizers/qwen3/tokenizer.json")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Mixed, gpt2, "tokenizers/gpt2")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Mixed, llama_spm, "llama.cpp-vocab/ggml-vocab-llama-spm.gguf")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_OneMegabyteOfA, llama3, "tokenizers/llama3/tokenizer.json")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_OneMegabyteOfA, gpt2, "tokenizers/gpt2")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_OneMegabyteOfA, qwen3, "tokenizers/qwen3/tokenizer.json")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_OneMegabyteOfA, llama_spm, "llama.cpp-vocab/ggml-vocab-llama-spm.gguf")
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
