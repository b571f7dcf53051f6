// `attnscope sinks`: attention sinks (StreamingLLM; Gu et al. 2024's sink rate) per layer and head
// over context lengths, on a text, files, or random tokens.
//   attnscope sinks -m model.gguf --file essay.txt --lengths 128,512,2048 -o sinks.png --lines rate.png
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

struct SinksArgs {
  TextSource src;
  SinkOptions opt;
  uint64_t seed = 42;
  std::string csv, output, lines;
  bool force = false;
};

int run_sinks(const Common& common, SinksArgs a) {
  const std::vector<OutputFile> outputs = {
      {a.csv, nullptr, false}, {a.output, nullptr, true}, {a.lines, nullptr, true}};
  check_outputs(outputs, a.force);
  const Model model = load_model(common);
  const auto warning = warn_lossy_path(model, common.json);
  std::vector<int32_t> tokens = source_tokens(model, a.src);
  const bool random = tokens.empty();
  if (a.opt.lengths.empty() && random) a.opt.lengths = default_lengths(model, 1024);
  if (random) {
    int longest = 0;
    for (int n : a.opt.lengths) longest = std::max(longest, n);
    tokens = random_content_tokens(model, longest, a.seed);
  }
  const SinkReport r = attention_sinks(model, tokens, a.opt);
  if (!common.json) std::cout << "model: " << model.source() << (random ? " (random tokens)" : "") << "\n";
  std::cout << (common.json ? with_precision_warning(format_report(r, ReportFormat::Json), warning)
                            : format_report(r, ReportFormat::Table));
  write_outputs({{a.csv, [&](const std::string& p) { write_text(p, format_report(r, ReportFormat::Csv)); }, false},
                 {a.output, [&](const std::string& p) { save_sink_figure(p, r); }, true},
                 {a.lines, [&](const std::string& p) { save_sink_length_figure(p, r); }, true}},
                common.json);
  return 0;
}

const CommandRegistrar kSinks{{
    "sinks",
    "attention sinks: each head's mean attention on the first token(s) and the sink rate, over context lengths",
    [](CLI::App& sub, Common& common) {
      auto a = std::make_shared<SinksArgs>();
      add_common_options(sub, common);
      add_text_argument(sub, a->src.text, "text to run (default: random tokens)");
      sub.add_option("--file", a->src.files,
                     "text from files: .txt, .jsonl (\"text\" fields) or a folder (repeatable)");
      add_int_list_option(sub, "--lengths", a->opt.lengths,
                          "context lengths in tokens, BOS included (default: the whole text; random: 64, 128, .. "
                          "up to 1024 or the context)");
      sub.add_option("--sink-tokens", a->opt.sink_tokens, "count the mass on this many first tokens")
          ->capture_default_str()
          ->check(CLI::PositiveNumber);
      sub.add_option("--epsilon", a->opt.epsilon, "a head is a sink head when its mass exceeds this (Gu et al.)")
          ->capture_default_str()
          ->check(CLI::Range(0.0, 1.0));
      sub.add_option("--seed", a->seed, "random tokens' seed")->capture_default_str();
      add_layers_option(sub, a->opt.layers, "only these layers (default: all)");
      sub.add_option("--csv", a->csv, "write length,layer,head,mass,sink rows to this file");
      add_output_option(sub, a->output, "layers x heads figure of the mean mass (PNG, SVG or PDF)");
      sub.add_option("--lines", a->lines, "figure of the sink rate versus length (PNG, SVG or PDF)");
      sub.add_flag("--force", a->force, "overwrite an existing file not written by attnscope");
      return [&common, a]() { return run_sinks(common, *a); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
