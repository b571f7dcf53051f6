// `attnscope trace`: run prompts through a model and save the captured hooks (attention patterns
// by default) with the tokens to an .npz that numpy.load reads.
#include <iostream>
#include <memory>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/npz.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"

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
  std::string capture_dtype = "float32";
  bool compress = false;
  std::string padding = "right";
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
  if (a.capture_option->count() == 0) opt.capture = {hook_glob(HookPoint::AttnPattern)};
  for (const auto& c : a.capture)
    if (!c.empty()) opt.capture.push_back(c);
  opt.layers = a.layers;
  opt.padding = padding_from_name(a.padding);
  bool want_logits = a.logits;
  for (const auto& c : opt.capture)
    if (c == "logits" || c == "lm_head") want_logits = true;
  opt.return_logits = want_logits;  // the output head runs only when its result is saved
  const bool f16 = a.capture_dtype == "float16";
  // With -o, captured hooks are written to the file as the forward produces them, layer by layer,
  // so a long prompt never holds every pattern in memory.
  std::unique_ptr<NpzWriter> npz;
  std::vector<std::pair<std::string, Shape>> written;
  if (!a.out.empty()) {
    npz = std::make_unique<NpzWriter>(a.out, a.compress);
    opt.capture_sink = [&](const std::string& name, const Tensor& v) {
      if (f16)
        npz->add_f16(name, v.shape(), v.data());
      else
        npz->add_f32(name, v.shape(), v.data());
      written.emplace_back(name, v.shape());
    };
  }
  Trace t = model.run_batch(batch, opt);
  if (npz) {
    bool logits_written = false;  // captured as a hook: already in the file
    for (const auto& w : written) logits_written |= w.first == "logits";
    write_trace_npz(*npz, t, want_logits && !logits_written, f16);
    npz->add_strings("compute_dtype", {1}, {model.dtype()});
    npz->add_strings("capture_dtype", {1}, {a.capture_dtype});
    npz->finish();
  }
  nlohmann::json shapes = captured_shapes_json(t);
  for (const auto& [name, shape] : written) shapes[name] = shape;
  if (common.json) {
    nlohmann::json j;
    j["tokens"] = t.tokens;
    j["str_tokens"] = t.str_tokens;
    j["captured"] = shapes;
    j["dtype"] = model.dtype();
    if (want_logits) j["captured"]["logits"] = t.logits.shape();
    if (!a.out.empty()) j["output"] = a.out;
    if (t.padded()) j["attention_mask"] = t.attention_mask();
    j["model"] = model.source();
    std::cout << dump_json(j) << "\n";
    return 0;
  }
  for (size_t b = 0; b < t.tokens.size(); ++b) {
    std::cout << "prompt " << b << ": " << t.tokens[b].size() << " tokens:";
    for (size_t i = 0; i < t.tokens[b].size(); ++i)
      std::cout << " " << (b < t.str_tokens.size() ? dump_json(t.str_tokens[b][i], -1) : "") << "(" << t.tokens[b][i]
                << ")";
    std::cout << "\n";
  }
  std::cout << "captured " << shapes.size() << " hooks";
  if (!shapes.empty())
    std::cout << " (" << shapes.begin().key() << " " << shapes.begin().value().dump()
              << (shapes.size() > 1 ? ", ..." : "") << ")";
  std::cout << " in " << model.dtype() << "\n";
  if (!a.out.empty()) std::cout << "wrote " << a.out << "\n";
  return 0;
}

const CommandRegistrar reg{
    {"trace", "run prompts and save attention patterns (or any hooks) to .npz",
     [](CLI::App& sub, Common& common) -> std::function<int()> {
       auto a = std::make_shared<TraceArgs>();
       add_common_options(sub, common);
       sub.add_option("text", a->prompts, "text(s) to run; several of different lengths are padded (--padding-side)");
       add_ids_options(sub, a->ids, a->no_bos);
       add_output_option(sub, a->out, "write the captured hooks to this .npz");
       a->capture_option = sub.add_option("--capture", a->capture,
                                          "hook names, aliases or globs (default blocks.*.attn.hook_pattern; "
                                          "none given: capture nothing)")
                               ->delimiter(',')
                               ->expected(0, 1)
                               ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
       add_layers_option(sub, a->layers, "only these layers (\"0,2,5\")");
       sub.add_flag("--logits", a->logits, "also save the logits (every position)");
       sub.add_option("--capture-dtype", a->capture_dtype,
                      "precision of the saved hooks: float32 (default) or float16 (half the "
                      "size; patterns keep ~3 significant digits)")
           ->check(CLI::IsMember({"float32", "float16"}));
       sub.add_flag("--compress", a->compress, "deflate-compress the .npz (as numpy.savez_compressed)");
       sub.add_option("--padding-side", a->padding,
                      "prompts of different lengths: pads on the right (default) or left");
       return [&common, a] { return run_trace(common, *a); };
     }}};

}  // namespace
}  // namespace attnscope::cli
