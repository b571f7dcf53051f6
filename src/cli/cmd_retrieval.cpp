// `attnscope retrieval`: retrieval heads (Wu et al. 2024) from needle-in-a-haystack copy tasks
// over context lengths and needle depths.
//   attnscope retrieval                                           # the toy: finds L1H0
//   attnscope retrieval -m model.gguf --file essays/ --lengths 1024,4096 --depths 0,0.5,1 -o retrieval.png
#include <iostream>

#include "attnscope/long_context.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/long_context_common.h"
#include "cli/model_common.h"
#include "cli/options.h"
#include "cli/precision_warning.h"

namespace attnscope::cli {
namespace {

struct RetrievalArgs {
  TextSource src;
  RetrievalOptions opt;
  std::string needle, question, csv, output;
  bool force = false;
};

int run_retrieval(const Common& common, RetrievalArgs a) {
  check_outputs({{a.output, nullptr, true}}, a.force);
  const Model model = load_model(common);
  const auto warning = warn_lossy_path(model, common.json);
  const std::vector<int32_t> haystack = source_tokens(model, a.src);
  if (!a.needle.empty()) a.opt.needle = model.encode(a.needle, false);
  if (!a.question.empty()) a.opt.question = model.encode(a.question, false);
  const RetrievalReport r = retrieval_heads(model, haystack, a.opt);
  if (!common.json) std::cout << "model: " << model.source() << "\n";
  std::cout << (common.json ? with_precision_warning(format_report(r, ReportFormat::Json), warning)
                            : format_report(r, ReportFormat::Table));
  write_outputs({{a.csv, [&](const std::string& p) { write_text(p, format_report(r, ReportFormat::Csv)); }, false},
                 {a.output, [&](const std::string& p) { save_retrieval_figure(p, r); }, true}},
                common.json);
  return 0;
}

const CommandRegistrar kRetrieval{{
    "retrieval",
    "find retrieval heads (Wu et al. 2024): which heads copy a needle out of a long haystack",
    [](CLI::App& sub, Common& common) {
      auto a = std::make_shared<RetrievalArgs>();
      add_common_options(sub, common);
      add_text_argument(sub, a->src.text, "haystack text (default: random tokens without the needle's)");
      sub.add_option("--file", a->src.files,
                     "haystack from files: .txt, .jsonl (\"text\" fields) or a folder (repeatable)");
      add_int_list_option(sub, "--lengths", a->opt.lengths, "prompt lengths in tokens, BOS included")
          ->default_str("256");
      add_double_list_option(sub, "--depths", a->opt.depths, "needle depths, fractions of the haystack in [0, 1]")
          ->default_str("0,0.25,0.5,0.75,1");
      sub.add_option("--needle", a->needle, "the needle text (default: --needle-tokens random tokens)");
      sub.add_option("--needle-tokens", a->opt.needle_tokens, "length of a random needle")->capture_default_str();
      sub.add_option("--question", a->question, "text between the haystack and the cue (e.g. \"The secret is\")");
      sub.add_option("--cue", a->opt.cue_tokens, "needle tokens given in the prompt before the answer")
          ->capture_default_str();
      sub.add_flag("--generate", a->opt.generate,
                   "the model writes the answer greedily (default: the needle is teacher-forced as the answer)");
      sub.add_option("--threshold", a->opt.threshold, "score above which a head is a retrieval head (Wu et al.: 0.1)")
          ->capture_default_str()
          ->check(CLI::Range(0.0, 1.0));
      sub.add_option("--seed", a->opt.seed, "random needle and haystack seed")->capture_default_str();
      add_layers_option(sub, a->opt.layers, "only these layers (default: all)");
      sub.add_option("--csv", a->csv, "write length,depth,layer,head,score,accuracy rows to this file");
      add_output_option(sub, a->output, "layers x heads figure of the retrieval scores (PNG, SVG or PDF)");
      sub.add_flag("--force", a->force, "overwrite an existing file not written by attnscope");
      return [&common, a]() { return run_retrieval(common, *a); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
