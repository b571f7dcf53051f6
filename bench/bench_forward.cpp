// End-to-end prefill benchmark on a synthetic model with the exact shapes of Llama-3.2-1B
// (16 layers, width 2048, 32 heads / 8 kv heads, ffn 8192, vocab 128256, tied output, llama3
// rope_freqs), random weights written with the project's GgufWriter (F16 by default).
// Measures, at a fixed thread count: prefill tokens/s capturing nothing and capturing every
// attention pattern, the share of time in oneDNN matmuls, oneDNN GEMM alone on the same
// projection shapes (same weights), and peak resident memory.
//
//   bench_forward [--threads 2] [--tokens 128] [--reps 3] [--f32] [--file PATH] [--keep]
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
#include "tensor/ops.h"

using namespace attnscope;

namespace {

constexpr int kLayers = 16, kEmbd = 2048, kHeads = 32, kKvHeads = 8, kFf = 8192, kVocab = 128256;
constexpr int kHeadDim = kEmbd / kHeads;

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [-scale, scale), deterministic per (tensor, row).
GgufWriter::RowFill random_rows(uint64_t seed, int64_t row_len, float scale) {
  return [=](float* dst, int64_t first_row, int64_t n_rows) {
    for (int64_t r = 0; r < n_rows; ++r) {
      uint64_t s = mix(seed * 1000003ull + static_cast<uint64_t>(first_row + r));
      for (int64_t i = 0; i < row_len; ++i) {
        s = mix(s);
        dst[r * row_len + i] = (static_cast<float>(s >> 40) / static_cast<float>(1ull << 24) * 2.0f - 1.0f) * scale;
      }
    }
  };
}

GgufWriter::RowFill constant_rows(int64_t row_len, float value) {
  return [=](float* dst, int64_t, int64_t n_rows) { std::fill(dst, dst + n_rows * row_len, value); };
}

void write_model(const std::string& path, GgmlType type) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "synthetic-llama-3.2-1b-shapes");
  w.set_u32("llama.block_count", kLayers);
  w.set_u32("llama.context_length", 131072);
  w.set_u32("llama.embedding_length", kEmbd);
  w.set_u32("llama.feed_forward_length", kFf);
  w.set_u32("llama.attention.head_count", kHeads);
  w.set_u32("llama.attention.head_count_kv", kKvHeads);
  w.set_u32("llama.rope.dimension_count", kHeadDim);
  w.set_f32("llama.rope.freq_base", 500000.0f);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  uint64_t seed = 1;
  const float s_embd = 1.0f / std::sqrt(static_cast<float>(kEmbd)), s_ff = 1.0f / std::sqrt(static_cast<float>(kFf));
  w.add_tensor_generated("token_embd.weight", {kVocab, kEmbd}, type, random_rows(seed++, kEmbd, 0.5f));
  w.add_tensor_generated("output_norm.weight", {kEmbd}, GgmlType::F32, constant_rows(kEmbd, 1.0f));
  // llama3 scaling: per-frequency divisors between 1 and 8.
  std::vector<float> freqs(kHeadDim / 2);
  for (size_t i = 0; i < freqs.size(); ++i) freqs[i] = 1.0f + 7.0f * static_cast<float>(i) / (freqs.size() - 1);
  w.add_tensor("rope_freqs.weight", Tensor({kHeadDim / 2}, freqs), GgmlType::F32);
  for (int l = 0; l < kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    w.add_tensor_generated(b + "attn_norm.weight", {kEmbd}, GgmlType::F32, constant_rows(kEmbd, 1.0f));
    w.add_tensor_generated(b + "ffn_norm.weight", {kEmbd}, GgmlType::F32, constant_rows(kEmbd, 1.0f));
    w.add_tensor_generated(b + "attn_q.weight", {kEmbd, kEmbd}, type, random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "attn_k.weight", {kKvHeads * kHeadDim, kEmbd}, type, random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "attn_v.weight", {kKvHeads * kHeadDim, kEmbd}, type, random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "attn_output.weight", {kEmbd, kEmbd}, type, random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "ffn_gate.weight", {kFf, kEmbd}, type, random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "ffn_up.weight", {kFf, kEmbd}, type, random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "ffn_down.weight", {kEmbd, kFf}, type, random_rows(seed++, kFf, s_ff));
  }
  w.write(path);
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a;
  std::getline(in, a);
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, tokens = 128, reps = 3;
  bool f32 = false, keep = false;
  std::string path = (std::filesystem::temp_directory_path() / "attnscope_bench_llama32_1b.gguf").string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--threads") threads = std::stoi(next());
    else if (a == "--tokens") tokens = std::stoi(next());
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--f32") f32 = true;
    else if (a == "--file") path = next();
    else if (a == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--tokens T] [--reps R] [--f32] [--file PATH] [--keep]\n", argv[0]);
      return 2;
    }
  }
  set_num_threads(threads);
  const GgmlType type = f32 ? GgmlType::F32 : GgmlType::F16;
  std::printf("synthetic Llama-3.2-1B shapes, %s weights, %d-token prompt, %d threads, best of %d\n",
              f32 ? "F32" : "F16", tokens, threads, reps);
  double t0 = now();
  if (!std::filesystem::exists(path)) {
    write_model(path, type);
    std::printf("wrote %s (%.1f GB) in %.1f s\n", path.c_str(), std::filesystem::file_size(path) / 1e9, now() - t0);
  } else {
    std::printf("reusing %s\n", path.c_str());
  }
  t0 = now();
  Model model = Model::load(path);
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
  const auto& w = model.impl().weights;
  std::vector<float> x(static_cast<size_t>(tokens) * kFf, 0.01f), y(static_cast<size_t>(tokens) * kVocab);
  auto gemm_pass = [&] {
    for (int l = 0; l < kLayers; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
        const Tensor& W = w.at(b + n + ".weight");
        ops::linear(x.data(), tokens, W.dim(1), W.data(), W.dim(0), nullptr, y.data());
      }
    }
    const Tensor& E = w.at("token_embd.weight");
    ops::linear(x.data(), tokens, kEmbd, E.data(), kVocab, nullptr, y.data());
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
  if (!keep) std::filesystem::remove(path);
  return 0;
}
