// `attnscope fidelity`: how far a model's stored-precision path (or another file of the same
// model) moves attention patterns, head scores and logits from a reference run.
//   attnscope fidelity -m model-Q4_K_M.gguf "Once upon a time"            # bfloat16 vs float32 path
//   attnscope fidelity -m model-Q4_K_M.gguf --reference model-BF16.gguf --prompts prompts.txt -o fid.png
#include <fstream>
#include <iostream>
#include <memory>

#include "attnscope/corpus.h"
#include "attnscope/error.h"
#include "attnscope/fidelity.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"
#include "cli/viz_common.h"

namespace attnscope::cli {
namespace {

struct FidelityArgs {
  std::vector<std::string> texts, prompt_files;
  std::string ids, reference, reference_dtype = "float32", output, csv, sort = "js_mean";
  std::vector<int> layers;
  int top = 10;
  bool no_bos = false, raw = false, exclude_bos = false, force = false;
};

// The two runs: one file on its stored-precision path against its float32 path, or -m against
// --reference.
std::pair<Model, Model> load_pair(const Common& common, const FidelityArgs& a) {
  LoadOptions lo;
  lo.threads = common.threads;
  lo.tokenizer = common.tokenizer;
  lo.mmap = common.mmap;
  LoadOptions ro = lo;
  ro.dtype = a.reference_dtype;
  if (a.reference.empty()) {
    if (common.dtype == "float32")
      fail(ErrorKind::InvalidArgument,
           "fidelity of one model compares its bfloat16 (stored-precision) path with the float32 path: drop "
           "--dtype float32, or give --reference FILE");
    lo.dtype = "bfloat16";
    const std::string path = model_or_default(common);
    return {Model::load(path, lo), Model::load(path, ro)};
  }
  lo.dtype = common.dtype;
  return {load_model(common), Model::load(a.reference, ro)};
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) fail(ErrorKind::Io, "cannot write " + path);
}

int run_fidelity(const Common& common, const FidelityArgs& a) {
  std::vector<std::string> texts = a.texts;
  if (!a.prompt_files.empty())
    for (const CorpusPrompt& p : read_corpus(a.prompt_files).prompts) texts.push_back(p.text);
  if (texts.empty() && a.ids.empty())
    fail(ErrorKind::InvalidArgument, "fidelity: give a text to run, --prompts FILE or --ids");
  if (!texts.empty() && !a.ids.empty()) fail(ErrorKind::InvalidArgument, "fidelity: give texts or --ids, not both");
  if (!a.output.empty()) check_overwrite(a.output, a.force);
  const auto [model, reference] = load_pair(common, a);
  FidelityOptions opt;
  opt.layers = a.layers;
  opt.add_bos = !a.no_bos;
  opt.detector.options.chance_corrected = !a.raw;
  opt.detector.options.exclude_bos = a.exclude_bos;
  const FidelityReport r = a.ids.empty() ? compare_fidelity(model, reference, texts, opt)
                                         : compare_fidelity(model, reference, {parse_id_list(a.ids)}, opt);
  std::cout << format_fidelity(r, common.json ? ReportFormat::Json : ReportFormat::Table, a.sort, a.top);
  if (!a.csv.empty()) write_text_file(a.csv, format_fidelity(r, ReportFormat::Csv));
  if (!a.output.empty()) save_fidelity_figure(a.output, r);
  if (!common.json) {
    if (!a.csv.empty()) std::cout << "wrote " << a.csv << "\n";
    if (!a.output.empty()) std::cout << "wrote " << a.output << "\n";
  }
  return 0;
}

const CommandRegistrar kFidelity{{
    "fidelity",
    "how far the stored-precision path (or another file of the model) moves each head's pattern and the logits",
    [](CLI::App& sub, Common& common) {
      auto a = std::make_shared<FidelityArgs>();
      add_common_options(sub, common);
      sub.add_option("text", a->texts, "text(s) to run both ways");
      sub.add_option("--prompts", a->prompt_files,
                     "prompts from a file: one per line, .jsonl (\"text\" fields) or a folder of .txt (repeatable)");
      sub.add_option("--reference", a->reference,
                     "the model to compare with (same config and tokenizer; default: -m itself on the float32 path)");
      sub.add_option("--reference-dtype", a->reference_dtype, "compute precision of the reference")
          ->check(CLI::IsMember({"auto", "float32", "bfloat16"}))
          ->capture_default_str();
      add_layers_option(sub, a->layers, "only these layers (default: all)");
      add_ids_options(sub, a->ids, a->no_bos);
      sub.add_flag("--raw", a->raw, "raw head scores as in mlxterp (default: chance-corrected)");
      sub.add_flag("--exclude-bos", a->exclude_bos, "drop BOS row and column from the head scores");
      sub.add_option("--sort", a->sort, "order of the terminal table, worst first")
          ->check(CLI::IsMember({"js_mean", "js_max", "max_abs_delta", "mean_abs_delta"}))
          ->capture_default_str();
      sub.add_option("--top", a->top, "heads in the terminal table (0: all)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str();
      sub.add_option("--csv", a->csv, "write every head's figures as CSV to this file");
      add_output_option(sub, a->output, "layers x heads figure (PNG, SVG or PDF)");
      sub.add_flag("--force", a->force, "overwrite an existing file not written by attnscope");
      return [&common, a]() { return run_fidelity(common, *a); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
