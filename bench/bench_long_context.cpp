// Long-prompt prefill of the 1 B-shaped benchmark files with every head's statistics streamed
// (head_stats.h: row-blocked attention, no pattern stored), and optionally in chunks through the
// KV cache. One (file, length) per process so that the peak resident memory is that run's:
//
//   bench_long_context --dir /tmp/qbench --type Q4_K_M --tokens 2048 [--chunk 0] [--threads 2]
//
// prints "RESULT type=... tokens=... chunk=... tok_s=... rss_mb=... file_mb=...". Files are the ones
// `bench_quant --keep` writes; llama.cpp's figure for the same file is `llama-bench -m FILE -p N -n 0
// -t 2 [-fa 1]` (bench/README.md).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "attnscope/head_stats.h"
#include "attnscope/model.h"
#include "synthetic_llama.h"

using namespace attnscope;

int main(int argc, char** argv) {
  std::string dir = "/tmp/qbench", type = "Q4_K_M";
  int tokens = 2048, chunk = 0, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--dir")
      dir = v;
    else if (k == "--type")
      type = v;
    else if (k == "--tokens")
      tokens = std::stoi(v);
    else if (k == "--chunk")
      chunk = std::stoi(v);
    else if (k == "--threads")
      threads = std::stoi(v);
  }
  const std::string path = (std::filesystem::path(dir) / ("attnscope-synthetic-llama-1b-" + type + ".gguf")).string();
  set_num_threads(threads);
  LoadOptions lo;
  lo.threads = threads;
  lo.dtype = "bfloat16";
  const Model model = Model::load(path, lo);
  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (int i = 0; i < tokens; ++i)
    ids[static_cast<size_t>(i)] = static_cast<int32_t>(bench::mix(static_cast<uint64_t>(i)) % bench::kVocab);
  HeadStatsOptions o;
  o.chunk = chunk;
  const auto t0 = std::chrono::steady_clock::now();
  const HeadStats s = head_statistics(model, {ids}, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("RESULT type=%s tokens=%d chunk=%d threads=%d tok_s=%.2f rss_mb=%.0f file_mb=%.0f sink_L0H0=%.4f\n",
              type.c_str(), tokens, chunk, threads, tokens / secs, bench::peak_rss_mb(),
              std::filesystem::file_size(path) / 1e6, s.value("sink_mass", 0, 0));
  return 0;
}
