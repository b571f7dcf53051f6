// How far each stored type and compute dtype moves attention patterns and logits from the float32
// reference, on stories260K (converted to each type by quantize_gguf_file) and on the
// Llama-3.2-1B-shaped synthetic model (the files bench_quant writes; reference: the F16 file on the
// float32 path).
//
//   bench_fidelity [--stories PATH] [--dir DIR_WITH_bench_quant_FILES] [--tokens 64] [--threads 2]
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "synthetic_llama.h"

using namespace attnscope;
namespace fs = std::filesystem;

namespace {

struct Outputs {
  std::map<int, Tensor> patterns;
  Tensor logits;
};

Outputs run(const std::string& path, const std::string& dtype, const std::vector<int32_t>& ids) {
  LoadOptions lo;
  lo.dtype = dtype;
  Model m = Model::load(path, lo);
  RunOptions ro;
  ro.capture = {"blocks.*.attn.hook_pattern"};
  Trace t = m.run(ids, ro);
  return {t.attention_patterns(), t.logits};
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::fabs(static_cast<double>(a.data()[i]) - b.data()[i]));
  return d;
}

void compare(const std::string& label, const Outputs& ref, const Outputs& got) {
  double dp = 0;
  for (const auto& [l, p] : ref.patterns) dp = std::max(dp, max_abs_diff(p, got.patterns.at(l)));
  double lmax = 0;
  for (int64_t i = 0; i < ref.logits.numel(); ++i)
    lmax = std::max(lmax, std::fabs(static_cast<double>(ref.logits.data()[i])));
  const double dl = max_abs_diff(ref.logits, got.logits);
  std::printf("%-28s %14.3g %14.3g %12.3g\n", label.c_str(), dp, dl, dl / lmax);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string stories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf", dir;
  int tokens = 64, threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--stories")
      stories = next();
    else if (a == "--dir")
      dir = next();
    else if (a == "--tokens")
      tokens = std::stoi(next());
    else if (a == "--threads")
      threads = std::stoi(next());
    else {
      std::fprintf(stderr, "usage: %s [--stories PATH] [--dir DIR] [--tokens 64] [--threads 2]\n", argv[0]);
      return 2;
    }
  }
  set_num_threads(threads);
  std::printf("%-28s %14s %14s %12s\n", "file / dtype", "max|dpattern|", "max|dlogit|", "rel. logit");

  // stories260K: every conversion, both dtypes, against the F32 file on the float32 path.
  const fs::path tmp = fs::temp_directory_path() / ("attnscope_fidelity_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  const Model sm = Model::load(stories);
  const std::vector<int32_t> sids =
      sm.encode("Once upon a time, there was a little girl named Lily. She loved to play outside");
  const Outputs sref = run(stories, "float32", sids);
  std::printf("stories260K (%zu tokens; reference: F32 file, float32)\n", sids.size());
  compare("  F32 bfloat16", sref, run(stories, "bfloat16", sids));
  for (const char* ft : {"F16", "BF16", "Q8_0", "Q6_K", "Q4_K_M", "Q4_0"}) {
    const std::string p = (tmp / (std::string(ft) + ".gguf")).string();
    quantize_gguf_file(stories, p, ft);
    for (const char* dt : {"float32", "bfloat16"}) compare(std::string("  ") + ft + " " + dt, sref, run(p, dt, sids));
  }
  fs::remove_all(tmp);

  // The 1B-shaped model (files from bench_quant --keep).
  if (!dir.empty()) {
    auto file = [&](const std::string& t) {
      return (fs::path(dir) / ("attnscope-synthetic-llama-1b-" + t + ".gguf")).string();
    };
    std::vector<int32_t> ids(static_cast<size_t>(tokens));
    for (int i = 0; i < tokens; ++i)
      ids[static_cast<size_t>(i)] = static_cast<int32_t>(bench::mix(static_cast<uint64_t>(i)) % bench::kVocab);
    if (!fs::exists(file("F16"))) {
      std::fprintf(stderr, "no %s (run bench_quant --keep --dir %s first)\n", file("F16").c_str(), dir.c_str());
      return 1;
    }
    const Outputs ref = run(file("F16"), "float32", ids);
    std::printf("synthetic Llama-3.2-1B shapes (%d tokens; reference: F16 file, float32)\n", tokens);
    for (const char* ft : {"F16", "BF16", "Q8_0", "Q4_K_M"})
      if (fs::exists(file(ft))) compare(std::string("  ") + ft + " bfloat16", ref, run(file(ft), "bfloat16", ids));
  }
  return 0;
}
