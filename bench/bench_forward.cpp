// End-to-end prefill benchmark on a synthetic model with the exact shapes of Llama-3.2-1B
// (16 layers, width 2048, 32 heads / 8 kv heads, ffn 8192, vocab 128256, tied output, llama3
// rope_freqs), random weights written with the project's GgufWriter (F16 by default).
// Measures, at a fixed thread count: prefill tokens/s capturing nothing and capturing every
// attention pattern, the share of time in oneDNN matmuls, oneDNN GEMM alone on the same
// projection shapes (same weights), and peak resident memory.
//
//   bench_forward [--threads 2] [--tokens 128] [--reps 3] [--f32] [--file PATH] [--keep]
//
// The model file is written only when PATH does not exist, and only a file this run wrote is
// removed at exit (unless --keep); an existing PATH is read, never deleted, and the label says
// what it holds (the type of its blk.0.attn_q.weight).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "model/model_impl.h"
#include "synthetic_llama.h"
#include "tensor/ops.h"

using namespace attnscope;
using namespace bench;

int main(int argc, char** argv) {
  int threads = 2, tokens = 128, reps = 3;
  bool f32 = false, keep = false;
  std::string path = (std::filesystem::temp_directory_path() / "attnscope_bench_llama32_1b.gguf").string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--tokens")
      tokens = std::stoi(next());
    else if (a == "--reps")
      reps = std::stoi(next());
    else if (a == "--f32")
      f32 = true;
    else if (a == "--file")
      path = next();
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--tokens T] [--reps R] [--f32] [--file PATH] [--keep]\n", argv[0]);
      return 2;
    }
  }
  set_num_threads(threads);
  double t0 = now();
  const bool created = !std::filesystem::exists(path);
  if (created) {
    write_model(path, f32 ? GgmlType::F32 : GgmlType::F16);
    std::printf("wrote %s (%.1f GB) in %.1f s\n", path.c_str(), std::filesystem::file_size(path) / 1e9, now() - t0);
  } else {
    std::printf("reusing %s (not deleted at exit)\n", path.c_str());
  }
  std::string held = "unknown";
  {
    const GgufFile f = GgufFile::open(path);
    if (const GgufTensorInfo* q = f.find_tensor("blk.0.attn_q.weight")) held = ggml_type_name(q->type);
  }
  std::printf("synthetic Llama-3.2-1B shapes, %s weights, %d-token prompt, %d threads, best of %d\n", held.c_str(),
              tokens, threads, reps);
  t0 = now();
  LoadOptions lo;
  lo.dtype = "float32";  // this benchmark measures the fp32 path (bench_quant: the stored ones)
  Model model = Model::load(path, lo);
  std::printf("loaded in %.1f s\n", now() - t0);

  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (int i = 0; i < tokens; ++i) ids[i] = static_cast<int32_t>(mix(static_cast<uint64_t>(i)) % kVocab);
  RunOptions none;
  RunOptions all;
  all.capture = {"blocks.*.attn.hook_pattern"};

  auto best_time = [&](const RunOptions& opt, double* matmul_share) {
    double best = 1e30, share = 0;
    for (int r = 0; r < reps; ++r) {
      ops::reset_matmul_seconds();
      ops::set_matmul_timing(true);
      const double s = now();
      Trace t = model.run(ids, opt);
      const double e = now() - s;
      ops::set_matmul_timing(false);
      if (e < best) {
        best = e;
        share = ops::matmul_seconds() / e;
      }
    }
    if (matmul_share) *matmul_share = share;
    return best;
  };
  best_time(none, nullptr);  // warm-up: primitives created, pages touched
  double share_none = 0, share_all = 0;
  const double t_none = best_time(none, &share_none);
  const double t_all = best_time(all, &share_all);

  // oneDNN GEMM alone: the same projections (same weights, same order) with nothing else.
  // (float32 weights: the bound matrices are F32 views, multiplied here straight from their floats.)
  const detail::ModelWeights& w = model.impl().bound;
  std::vector<float> x(static_cast<size_t>(tokens) * kFf, 0.01f), y(static_cast<size_t>(tokens) * kVocab);
  auto gemm = [&](const StoredWeight& W) {
    ops::linear(x.data(), tokens, W.cols, reinterpret_cast<const float*>(W.data), W.rows, nullptr, y.data());
  };
  auto gemm_pass = [&] {
    for (const detail::LayerWeights& l : w.layers)
      for (const StoredWeight* W : {l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down}) gemm(*W);
    gemm(*w.token_embd);
  };
  gemm_pass();
  double t_gemm = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double s = now();
    gemm_pass();
    t_gemm = std::min(t_gemm, now() - s);
  }
  const double flops = 2.0 * tokens *
                       (kLayers * (2.0 * kEmbd * kEmbd + 2.0 * kEmbd * kKvHeads * kHeadDim + 3.0 * kEmbd * kFf) +
                        static_cast<double>(kEmbd) * kVocab);

  std::printf("\n%-40s %10s %10s %12s\n", "", "seconds", "tokens/s", "matmul share");
  std::printf("%-40s %10.3f %10.1f %11.1f%%\n", "prefill, nothing captured", t_none, tokens / t_none, 100 * share_none);
  std::printf("%-40s %10.3f %10.1f %11.1f%%\n", "prefill, every attention pattern", t_all, tokens / t_all,
              100 * share_all);
  std::printf("%-40s %10.3f %10.1f   (%.0f GFLOP/s)\n", "oneDNN GEMM alone (same shapes)", t_gemm, tokens / t_gemm,
              flops / t_gemm / 1e9);
  std::printf("\ntraced prefill / GEMM-only rate: %.1f%% (aim >= 70%%)\n", 100 * t_gemm / t_all);
  std::printf("cost of capturing every pattern: %+.1f%% (aim <= 10%%)\n", 100 * (t_all / t_none - 1));
  std::printf("peak resident memory: %.0f MB\n", peak_rss_mb());
  std::printf("load average during run: %s\n", load_average().c_str());
  if (created && !keep) std::filesystem::remove(path);
  return 0;
}
