// `attnscope trace`: run prompts through a model and save the captured hooks (attention patterns
// by default) with the tokens to an .npz that numpy.load reads.
#include <iostream>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"
#include "formats/npz.h"

namespace attnscope::cli {
namespace {

struct TraceArgs {
  std::vector<std::string> prompts;
  std::string ids;
  std::string out;
  std::vector<std::string> capture;
  std::vector<int> layers;
  bool no_bos = false;
  bool logits = false;
  const CLI::Option* capture_option = nullptr;  // given with no names: capture nothing
};

int run_trace(const Common& common, const TraceArgs& a) {
  Model model = load_model(common);
  std::vector<std::vector<int32_t>> batch;
  if (!a.ids.empty()) batch.push_back(parse_id_list(a.ids));
  for (const auto& p : a.prompts) batch.push_back(model.encode(p, !a.no_bos));
  if (batch.empty()) fail(ErrorKind::InvalidArgument, "no prompt given (pass text, or --ids)");
  RunOptions opt;
  // --capture with no names captures nothing (time a bare forward pass, or keep only --logits).
  if (a.capture_option->count() == 0) opt.capture = {"blocks.*.attn.hook_pattern"};
  for (const auto& c : a.capture)
    if (!c.empty()) opt.capture.push_back(c);
  opt.layers = a.layers;
  Trace t = model.run_batch(batch, opt);
  bool want_logits = a.logits;
  for (const auto& c : opt.capture)
    if (c == "logits" || c == "lm_head") want_logits = true;
  if (!a.out.empty()) detail::save_trace_npz(t, a.out, want_logits);
  if (common.json) {
    nlohmann::json j;
    j["tokens"] = t.tokens;
    j["str_tokens"] = t.str_tokens;
    j["captured"] = captured_shapes_json(t);
    if (want_logits) j["captured"]["logits"] = t.logits.shape();
    if (!a.out.empty()) j["output"] = a.out;
    j["model"] = model.source();
    std::cout << dump_json(j) << "\n";
    return 0;
  }
  for (size_t b = 0; b < t.tokens.size(); ++b) {
    std::cout << "prompt " << b << ": " << t.tokens[b].size() << " tokens:";
    for (size_t i = 0; i < t.tokens[b].size(); ++i)
      std::cout << " " << (b < t.str_tokens.size() ? dump_json(t.str_tokens[b][i], -1) : "")
                << "(" << t.tokens[b][i] << ")";
    std::cout << "\n";
  }
  std::cout << "captured " << t.captured().size() << " hooks";
  if (!t.captured().empty())
    std::cout << " (" << t.captured().begin()->first << " " << t.captured().begin()->second.shape_str()
              << (t.captured().size() > 1 ? ", ..." : "") << ")";
  std::cout << "\n";
  if (!a.out.empty()) std::cout << "wrote " << a.out << "\n";
  return 0;
}

const CommandRegistrar reg{{"trace", "run prompts and save attention patterns (or any hooks) to .npz",
                            [](CLI::App& sub, Common& common) -> std::function<int()> {
                              auto a = std::make_shared<TraceArgs>();
                              add_common_options(sub, common);
                              sub.add_option("text", a->prompts, "text(s) to run; several must tokenize to equal length");
                              add_ids_options(sub, a->ids, a->no_bos);
                              add_output_option(sub, a->out, "write the captured hooks to this .npz");
                              a->capture_option =
                                  sub.add_option("--capture", a->capture,
                                                 "hook names, aliases or globs (default blocks.*.attn.hook_pattern; "
                                                 "none given: capture nothing)")
                                      ->delimiter(',')
                                      ->expected(0, CLI::detail::expected_max_vector_size);
                              add_layers_option(sub, a->layers, "only these layers (\"0,2,5\")");
                              sub.add_flag("--logits", a->logits, "also save the logits");
                              return [&common, a] { return run_trace(common, *a); };
                            }}};

}  // namespace
}  // namespace attnscope::cli
