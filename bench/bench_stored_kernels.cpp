// Stored-weight products alone, per type, on the largest Llama-3.2-1B projection shape
// (ffn_up: 8192 x 2048): the generation kernel (1 row: GB/s of weights read) and the prompt path
// (128 rows: GFLOP/s, bf16 and f32 tiles), beside oneDNN f32 on the expanded weights.
//
//   bench_stored_kernels [--threads 2] [--reps 5]
#include <cstdio>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "synthetic_llama.h"
#include "tensor/ops.h"
#include "tensor/stored_kernels.h"
#include "tensor/stored_weight.h"

using namespace attnscope;
using namespace bench;

int main(int argc, char** argv) {
  int threads = 2, reps = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::stoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc)
      reps = std::stoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--reps R]\n", argv[0]);
      return 2;
    }
  }
  set_num_threads(threads);
  const int64_t N = kFf, K = kEmbd, P = 128;
  std::vector<float> w(static_cast<size_t>(N * K));
  random_rows(7, K, 0.02f)(w.data(), 0, N);
  std::vector<float> x(static_cast<size_t>(P * K));
  random_rows(8, K, 1.0f)(x.data(), 0, P);
  std::vector<float> y(static_cast<size_t>(P * N));
  std::printf("%d threads, [%ld x %ld] weights, kernels on %s, oneDNN on %s\n", threads, static_cast<long>(N),
              static_cast<long>(K), kernels::target_name(), ops::cpu_isa_name().c_str());
  std::printf("%-6s %12s %12s %16s %16s\n", "type", "1 row ms", "GB/s", "128 rows bf16", "128 rows f32");
  auto best = [&](auto&& fn) {
    fn();
    double b = 1e30;
    for (int r = 0; r < reps; ++r) {
      const double s = now();
      fn();
      b = std::min(b, now() - s);
    }
    return b;
  };
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K,
                     GgmlType::Q6_K, GgmlType::Q5_K}) {
    StoredWeight W = t == GgmlType::Q5_K ? StoredWeight::owned(t, N, K, std::vector<uint8_t>(ggml_row_bytes(t, K) * N))
                                         : StoredWeight::owned(t, N, K, quantize(t, w.data(), N * K));
    const double g = best([&] { linear(x.data(), 1, W, nullptr, y.data(), false, ComputeDtype::BFloat16); });
    const double pb = best([&] { linear(x.data(), P, W, nullptr, y.data(), false, ComputeDtype::BFloat16); });
    const double pf = best([&] { linear(x.data(), P, W, nullptr, y.data(), false, ComputeDtype::Float32); });
    const double flop = 2.0 * P * N * K;
    std::printf("%-6s %12.3f %12.1f %11.0f GF/s %11.0f GF/s\n", W.type_name().c_str(), g * 1e3, W.nbytes() / g / 1e9,
                flop / pb / 1e9, flop / pf / 1e9);
  }
  std::printf("load average: %s\n", load_average().c_str());
  return 0;
}
