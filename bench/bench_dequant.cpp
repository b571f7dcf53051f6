// Dequantisation throughput per ggml type (elements per second, single thread), and the GGUF
// reader's open time on the shared test models. Run: build/<dir>/bench/bench_dequant
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "attnscope/gguf.h"

using namespace attnscope;

namespace {
constexpr int64_t kN = 1 << 20;  // elements per iteration

// Valid blocks of `type`: quantised data where the library can encode it, random bytes otherwise
// (every byte pattern is a valid K-quant block; fp16 scales are forced finite).
std::vector<uint8_t> make_blocks(GgmlType type) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> x(kN);
  for (auto& v : x) v = nd(rng);
  switch (type) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
      return quantize(type, x.data(), kN);
    default:
      break;
  }
  std::vector<uint8_t> b(ggml_row_bytes(type, kN));
  for (auto& v : b) v = static_cast<uint8_t>(rng() & 0x3F);  // small bytes: finite fp16 scales
  return b;
}

void BM_Dequant(benchmark::State& state) {
  const auto type = static_cast<GgmlType>(state.range(0));
  std::vector<uint8_t> src = make_blocks(type);
  std::vector<float> dst(kN);
  for (auto _ : state) {
    dequantize(type, src.data(), dst.data(), kN);
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetItemsProcessed(state.iterations() * kN);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(src.size()));
  state.SetLabel(ggml_type_name(type));
}

void BM_OpenGguf(benchmark::State& state) {
  const std::string path =
      std::string(ATTNSCOPE_MODELS_DIR) + (state.range(0) == 0 ? "/stories260K.gguf" : "/llama-2-tiny-random.gguf");
  for (auto _ : state) {
    GgufFile f = GgufFile::open(path);
    benchmark::DoNotOptimize(f.tensors().data());
  }
  state.SetLabel(state.range(0) == 0 ? "stories260K" : "llama-2-tiny-random (32k vocab)");
}
}  // namespace

BENCHMARK(BM_Dequant)
    ->ArgName("type")
    ->Arg(0)
    ->Arg(1)
    ->Arg(30)
    ->Arg(8)
    ->Arg(2)
    ->Arg(3)
    ->Arg(6)
    ->Arg(7)
    ->Arg(10)
    ->Arg(11)
    ->Arg(12)
    ->Arg(13)
    ->Arg(14);
BENCHMARK(BM_OpenGguf)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
