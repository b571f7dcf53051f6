// The stored-precision benchmark (issue 12), one command: the Llama-3.2-1B-shaped synthetic model
// (bench/synthetic_llama.h) written as F16, BF16, Q8_0 and Q4_K_M by the project's GGUF writer,
// each measured in its own process (so peak resident memory is that file's):
//   load time, traced prefill (every attention pattern captured, output head for the last
//   position only, as llama-bench -p does) at 128 / 512 / 2048 tokens, generation of 32 tokens
//   with every pattern captured, from an empty context, as single-token forward passes per second
//   (llama-bench -n 32's measure: 33 passes here, since the prompt token runs too and, with
//   patterns captured, so does the last generated token), peak RSS;
// and the float32 reference path (the F16 file with --dtype float32: weights expanded, exact) as
// the baseline each rate is divided by. At 2048 tokens the patterns are streamed as float16 into
// an .npz in the model directory (16 x [1, 32, 2048, 2048] does not fit in memory as float32).
//
//   bench_quant [--types F16,BF16,Q8_0,Q4_K_M] [--prefill 128,512,2048] [--gen 32] [--threads 2]
//               [--reps 2] [--dir DIR] [--keep] [--no-fp32] [--mmap]
//   bench_quant --one TYPE --dtype DTYPE ...   (one file in this process: what each child runs)
//
// Model files are DIR/attnscope-synthetic-llama-1b-<TYPE>.gguf (DIR default: the temp directory);
// a missing file is written (and removed at exit unless --keep), an existing one is reused and
// never removed. bench/README.md says how to put llama.cpp's llama-bench figures beside these.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/npz.h"
#include "synthetic_llama.h"

using namespace attnscope;
using namespace bench;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Args {
  std::vector<std::string> types{"F16", "BF16", "Q8_0", "Q4_K_M"};
  std::vector<int> prefill{128, 512, 2048};
  int gen = 32, threads = 2, reps = 2;
  std::string dir = std::filesystem::temp_directory_path().string();
  bool keep = false, fp32 = true, mmap = false;
  // child mode: measure one file with one dtype and print one result line
  std::string one_type, one_dtype;
};

std::string model_path(const Args& a, const std::string& type) {
  return (std::filesystem::path(a.dir) / ("attnscope-synthetic-llama-1b-" + type + ".gguf")).string();
}

// Child: everything for one (file, dtype); prints "RESULT key=value ..." on stdout.
int measure(const Args& a) {
  set_num_threads(a.threads);
  const std::string path = model_path(a, a.one_type);
  LoadOptions lo;
  lo.threads = a.threads;
  lo.dtype = a.one_dtype;
  lo.mmap = a.mmap;
  double t0 = now();
  Model model = Model::load(path, lo);
  const double load_s = now() - t0;
  std::printf("RESULT type=%s dtype=%s load_s=%.3f", a.one_type.c_str(), a.one_dtype.c_str(), load_s);
  std::fflush(stdout);
  for (int T : a.prefill) {
    std::vector<int32_t> ids(static_cast<size_t>(T));
    for (int i = 0; i < T; ++i)
      ids[static_cast<size_t>(i)] = static_cast<int32_t>(mix(static_cast<uint64_t>(i)) % kVocab);
    double best = 1e30;
    for (int r = 0; r < (T >= 2048 ? 1 : a.reps); ++r) {
      RunOptions opt;
      opt.capture = {"blocks.*.attn.hook_pattern"};
      opt.last_logits_only = true;
      std::unique_ptr<NpzWriter> npz;
      const std::string npz_path = path + ".patterns.npz";
      if (T >= 2048) {  // stream the patterns to disk as float16, layer by layer
        npz = std::make_unique<NpzWriter>(npz_path);
        opt.capture_sink = [&](const std::string& name, const Tensor& v) { npz->add_f16(name, v.shape(), v.data()); };
      }
      const double s = now();
      Trace t = model.run(ids, opt);
      if (npz) npz->finish();
      best = std::min(best, now() - s);
      if (npz) std::filesystem::remove(npz_path);
    }
    std::printf(" prefill%d=%.2f", T, T / best);
    std::fflush(stdout);
  }
  if (a.gen > 0) {
    GenerateOptions go;
    go.max_tokens = a.gen;
    go.capture = {"blocks.*.attn.hook_pattern"};
    go.stop_at_eos = false;
    double best = 1e30;
    size_t passes = 0;
    for (int r = 0; r < a.reps; ++r) {
      const double s = now();
      Generation g = model.generate(std::vector<int32_t>{1}, go);
      best = std::min(best, now() - s);
      passes = g.prompt_tokens.size() + g.new_tokens.size();  // each ran through the model once
    }
    std::printf(" gen=%.2f", static_cast<double>(passes) / best);
  }
  std::printf(" rss_mb=%.0f file_mb=%.0f\n", peak_rss_mb(), std::filesystem::file_size(path) / 1e6);
  return 0;
}

std::map<std::string, std::string> parse_result(const std::string& out) {
  std::map<std::string, std::string> r;
  const size_t at = out.find("RESULT ");
  if (at == std::string::npos) return r;
  std::stringstream in(out.substr(at + 7));
  std::string kv;
  while (in >> kv) {
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) r[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return r;
}

// Runs this program again in child mode; returns its parsed result line.
std::map<std::string, std::string> run_child(const char* self, const Args& a, const std::string& type,
                                             const std::string& dtype) {
  std::string cmd = std::string(self) + " --one " + type + " --dtype " + dtype + " --threads " +
                    std::to_string(a.threads) + " --reps " + std::to_string(a.reps) + " --gen " +
                    std::to_string(a.gen) + " --dir '" + a.dir + "'" + (a.mmap ? " --mmap" : "") + " --prefill ";
  for (size_t i = 0; i < a.prefill.size(); ++i) cmd += (i ? "," : "") + std::to_string(a.prefill[i]);
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  auto r = parse_result(out);
  if (r.empty()) std::fprintf(stderr, "%s %s: no result (output: %s)\n", type.c_str(), dtype.c_str(), out.c_str());
  return r;
}

double num(const std::map<std::string, std::string>& r, const std::string& k) {
  auto it = r.find(k);
  return it == r.end() ? 0.0 : std::stod(it->second);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (s == "--types")
      a.types = split(next());
    else if (s == "--prefill") {
      a.prefill.clear();
      for (const auto& p : split(next())) a.prefill.push_back(std::stoi(p));
    } else if (s == "--gen")
      a.gen = std::stoi(next());
    else if (s == "--threads")
      a.threads = std::stoi(next());
    else if (s == "--reps")
      a.reps = std::stoi(next());
    else if (s == "--dir")
      a.dir = next();
    else if (s == "--keep")
      a.keep = true;
    else if (s == "--no-fp32")
      a.fp32 = false;
    else if (s == "--mmap")
      a.mmap = true;
    else if (s == "--one")
      a.one_type = next();
    else if (s == "--dtype")
      a.one_dtype = next();
    else {
      std::fprintf(
          stderr,
          "usage: %s [--types F16,BF16,Q8_0,Q4_K_M] [--prefill 128,512,2048] [--gen 32] [--threads 2] "
          "[--reps 2] [--dir DIR] [--keep] [--no-fp32] [--mmap] [--one TYPE --dtype DTYPE (one file, this process)]\n",
          argv[0]);
      return 2;
    }
  }
  if (!a.one_type.empty()) return measure(a);

  std::filesystem::create_directories(a.dir);
  std::vector<std::string> created;
  for (const auto& t : a.types) {
    const std::string p = model_path(a, t);
    if (std::filesystem::exists(p)) {
      std::printf("reusing %s (never removed)\n", p.c_str());
      continue;
    }
    const double s = now();
    write_model(p, t);
    created.push_back(p);
    std::printf("wrote %s (%.2f GB) in %.0f s\n", p.c_str(), std::filesystem::file_size(p) / 1e9, now() - s);
  }
  std::printf("load average before measuring: %s\n", load_average().c_str());
  std::map<std::string, std::string> base;
  if (a.fp32) {
    const std::string ref = std::count(a.types.begin(), a.types.end(), "F16") ? "F16" : a.types.front();
    base = run_child(argv[0], a, ref, "float32");
    base["type"] = ref + " as float32";
  }
  std::printf("\n%d threads; tok/s (ratio to the float32 path); patterns captured in every run\n", a.threads);
  std::printf("%-16s %7s %8s %8s", "file / dtype", "load s", "RSS MB", "file MB");
  for (int T : a.prefill) std::printf(" %16s", ("prefill " + std::to_string(T)).c_str());
  std::printf(" %16s\n", ("gen " + std::to_string(a.gen)).c_str());
  // "(  -  )" without a float32 run (--no-fp32) to compare with.
  auto rate = [](double v, double b) {
    if (b > 0)
      std::printf(" %8.1f (%4.2fx)", v, v / b);
    else
      std::printf(" %8.1f (  -  )", v);
  };
  auto row = [&](const std::map<std::string, std::string>& r, const std::string& label) {
    std::printf("%-16s %7.2f %8.0f %8.0f", label.c_str(), num(r, "load_s"), num(r, "rss_mb"), num(r, "file_mb"));
    for (int T : a.prefill) {
      const std::string k = "prefill" + std::to_string(T);
      rate(num(r, k), num(base, k));
    }
    rate(num(r, "gen"), num(base, "gen"));
    std::printf("\n");
    std::fflush(stdout);
  };
  if (a.fp32) row(base, "F16 float32");
  for (const auto& t : a.types) row(run_child(argv[0], a, t, "bfloat16"), t + " bfloat16");
  std::printf("load average after: %s\n", load_average().c_str());
  if (!a.keep)
    for (const auto& p : created) std::filesystem::remove(p);
  return 0;
}
