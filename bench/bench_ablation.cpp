// Head-ablation sweep on a synthetic model with the shapes of Llama-3.2-1B (16 layers x 32 heads,
// width 2048, 8 kv heads, ffn 8192, vocab 128256, tied output; random weights written with the
// project's GgufWriter, F16 by default): every head zero-ablated in turn for one 32-token prompt.
// 16 x 32 = 512 ablations + 1 clean pass. Reports the sweep's time, the time of one plain
// forward pass, and what 513 plain passes would cost.
//
//   bench_ablation [--threads 2] [--tokens 32] [--max-batch 0] [--f32] [--file PATH] [--keep]
//                  [--naive-layers N]   (also time the one-pass-per-head way on the last N layers)
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "synthetic_llama.h"

using namespace attnscope;
using namespace bench;

int main(int argc, char** argv) {
  int threads = 2, tokens = 32, max_batch = 0, naive_layers = 0;
  bool f32 = false, keep = false;
  std::string path = (std::filesystem::temp_directory_path() / "attnscope_bench_ablation_1b.gguf").string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--tokens")
      tokens = std::stoi(next());
    else if (a == "--max-batch")
      max_batch = std::stoi(next());
    else if (a == "--naive-layers")
      naive_layers = std::stoi(next());
    else if (a == "--f32")
      f32 = true;
    else if (a == "--file")
      path = next();
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--threads N] [--tokens T] [--max-batch B] [--naive-layers N] [--f32] [--file PATH] "
                   "[--keep]\n",
                   argv[0]);
      return 2;
    }
  }
  set_num_threads(threads);
  const GgmlType type = f32 ? GgmlType::F32 : GgmlType::F16;
  std::printf(
      "head-ablation sweep, synthetic Llama-3.2-1B shapes (%d layers x %d heads), %s weights, %d-token "
      "prompt, %d threads\n",
      kLayers, kHeads, f32 ? "F32" : "F16", tokens, threads);
  double t0 = now();
  if (!std::filesystem::exists(path)) {
    write_model(path, type, /*with_rope_freqs=*/false);
    std::printf("wrote %s (%.1f GB) in %.1f s\n", path.c_str(), std::filesystem::file_size(path) / 1e9, now() - t0);
  } else {
    std::printf("reusing %s\n", path.c_str());
  }
  t0 = now();
  Model model = Model::load(path);
  std::printf("loaded in %.1f s\n", now() - t0);

  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (int i = 0; i < tokens; ++i) ids[i] = static_cast<int32_t>(mix(static_cast<uint64_t>(i) + 77) % kVocab);

  // One plain forward pass with logits (what each of 513 naive passes would cost).
  model.run(ids);  // warm-up
  double t_pass = 1e30;
  for (int r = 0; r < 2; ++r) {
    const double s = now();
    model.run(ids);
    t_pass = std::min(t_pass, now() - s);
  }

  AblationSweepOptions o;
  o.target = ids[5];
  o.max_batch = max_batch;
  AblationSweepResult r = head_ablation_sweep(model, ids, o);
  std::printf("\nsweep: %zu heads ablated in %d forward passes (clean + batched tails), %.1f s\n", r.effects.size(),
              r.forward_passes, r.seconds);
  std::printf("one plain forward pass: %.3f s -> 513 plain passes would take ~%.1f s (%.1fx the sweep)\n", t_pass,
              513 * t_pass, 513 * t_pass / r.seconds);
  if (naive_layers > 0) {
    AblationSweepOptions n = o;
    n.reuse_prefix = false;
    for (int l = kLayers - naive_layers; l < kLayers; ++l) n.layers.push_back(l);
    AblationSweepResult slow = head_ablation_sweep(model, ids, n);
    std::printf("one pass per head on the last %d layers: %.1f s for %zu heads (%.3f s per head)\n", naive_layers,
                slow.seconds, slow.effects.size(), slow.seconds / static_cast<double>(slow.effects.size()));
  }
  auto ranked = r.ranked();
  std::printf("largest drop: L%dH%d delta logit %+.4f\n", ranked[0].layer, ranked[0].head, ranked[0].delta_logit);
  std::printf("peak resident memory: %.0f MB\n", peak_rss_mb());
  std::printf("load average during run: %s\n", load_average().c_str());
  if (!keep) std::filesystem::remove(path);
  return 0;
}
