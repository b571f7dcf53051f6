// `attnscope ablate`: run a prompt with interventions and compare the predictions with the clean
// run, or (--sweep) ablate every head in turn and report the change of a target token's logit
// and probability as a layers x heads table.
//
//   attnscope ablate "Once upon a time" -m stories260K.gguf --edit model.model.layers.2.self_attn=zero
//   attnscope ablate "abcabc" --zero-heads 1:0 --target c
//   attnscope ablate "abcdab" --sweep --target c --csv-out sweep.csv
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/predictions.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"

namespace attnscope::cli {
namespace {

struct AblateArgs {
  std::string prompt;
  std::string ids;
  bool no_bos = false;
  std::vector<std::string> edits;        // HOOK=OP
  std::vector<std::string> zero_heads;   // L:h,h
  std::vector<std::string> mean_heads;   // L:h,h
  std::vector<std::string> uniform;      // L:h
  std::vector<std::string> patch_heads;  // L:h,h (from --patch-from)
  std::string patch_from;
  std::string target;  // token text (exactly one token)
  int target_id = -1;
  std::string contrast;  // second token for a logit difference
  int contrast_id = -1;
  int position = -1;
  int top_k = 5;
  bool sweep = false;
  bool mean = false;
  std::vector<int> layers;
  int max_batch = 0;
  std::string csv, json_out;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream is(s);
  while (std::getline(is, cur, sep)) out.push_back(cur);
  return out;
}

int to_int(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    int v = std::stoi(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail(ErrorKind::InvalidArgument, what + ": '" + s + "' is not an integer");
}

float to_float(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    float v = std::stof(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail(ErrorKind::InvalidArgument, what + ": '" + s + "' is not a number");
}

// "L:h,h,h" -> (L, heads)
std::pair<int, std::vector<int>> parse_layer_heads(const std::string& spec, const std::string& opt) {
  size_t colon = spec.find(':');
  if (colon == std::string::npos)
    fail(ErrorKind::InvalidArgument, opt + " expects LAYER:HEAD[,HEAD...], got '" + spec + "'");
  int layer = to_int(spec.substr(0, colon), opt + " layer");
  std::vector<int> heads;
  for (const auto& h : split(spec.substr(colon + 1), ',')) heads.push_back(to_int(h, opt + " head"));
  return {layer, heads};
}

// "zero", "scale:F", "clamp:LO:HI", "noise:STD[:SEED]", "add:v1,v2,..."
iv::Edit parse_op(const std::string& op) {
  auto parts = split(op, ':');
  const std::string name = parts.empty() ? "" : parts[0];
  auto need = [&](size_t lo, size_t hi) {
    if (parts.size() < lo || parts.size() > hi)
      fail(ErrorKind::InvalidArgument, "--edit operation '" + op + "' has the wrong number of arguments");
  };
  if (name == "zero" || name == "zero_out") return need(1, 1), iv::zero_out();
  if (name == "scale") return need(2, 2), iv::scale(to_float(parts[1], "scale"));
  if (name == "clamp") return need(3, 3), iv::clamp(to_float(parts[1], "clamp"), to_float(parts[2], "clamp"));
  if (name == "noise") {
    need(2, 3);
    return iv::noise(to_float(parts[1], "noise"),
                     parts.size() == 3 ? static_cast<uint64_t>(to_int(parts[2], "noise seed")) : 0);
  }
  if (name == "add") {
    need(2, 2);
    std::vector<float> v;
    for (const auto& x : split(parts[1], ',')) v.push_back(to_float(x, "add"));
    const int64_t n = static_cast<int64_t>(v.size());
    return iv::add_vector(Tensor({n}, std::move(v)));
  }
  fail(ErrorKind::InvalidArgument,
       "--edit: unknown operation '" + op + "' (zero, scale:F, clamp:LO:HI, noise:STD[:SEED], add:v1,v2,...)");
}

nlohmann::json predictions_json(const std::vector<TokenPrediction>& preds) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& p : preds)
    a.push_back({{"id", p.id}, {"token", p.token}, {"logit", p.score}, {"logprob", p.logprob}});
  return a;
}

void print_predictions(const std::string& label, const std::vector<TokenPrediction>& preds) {
  std::cout << label;
  for (const auto& p : preds) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " %s(%d) %.3f", dump_json(p.token, -1).c_str(), p.id, std::exp(p.logprob));
    std::cout << buf;
  }
  std::cout << "\n";
}

int run_sweep(const Common& common, const AblateArgs& a, const Model& model, const std::vector<int32_t>& ids,
              int32_t target) {
  if (target < 0) fail(ErrorKind::InvalidArgument, "--sweep needs --target or --target-id");
  AblationSweepOptions o;
  o.target = target;
  o.position = a.position;
  o.kind = a.mean ? AblationKind::Mean : AblationKind::Zero;
  o.layers = a.layers;
  o.max_batch = a.max_batch;
  AblationSweepResult r = head_ablation_sweep(model, ids, o);
  if (!a.csv.empty()) {
    std::ofstream f(a.csv);
    if (!(f << r.to_csv())) fail(ErrorKind::Io, "cannot write " + a.csv);
  }
  if (!a.json_out.empty()) {
    std::ofstream f(a.json_out);
    if (!(f << r.to_json() << "\n")) fail(ErrorKind::Io, "cannot write " + a.json_out);
  }
  if (common.json) {
    std::cout << r.to_json() << "\n";
    return 0;
  }
  std::printf("target %s (%d) at position %d: clean logit %.4f, prob %.4f\n", dump_json(r.target_str, -1).c_str(),
              r.target, r.position, r.clean_logit, r.clean_prob);
  std::printf("%s-ablated %zu heads in %d forward passes, %.2f s; largest drops:\n", a.mean ? "mean" : "zero",
              r.effects.size(), r.forward_passes, r.seconds);
  auto ranked = r.ranked();
  for (size_t i = 0; i < ranked.size() && i < 10; ++i)
    std::printf("  L%dH%d  delta logit %+.4f  delta prob %+.4f\n", ranked[i].layer, ranked[i].head,
                ranked[i].delta_logit, ranked[i].delta_prob);
  if (!a.csv.empty()) std::cout << "wrote " << a.csv << "\n";
  if (!a.json_out.empty()) std::cout << "wrote " << a.json_out << "\n";
  return 0;
}

int run_ablate(const Common& common, const AblateArgs& a) {
  Model model = load_model(common);
  std::vector<int32_t> ids;
  if (!a.ids.empty())
    ids = parse_id_list(a.ids);
  else if (!a.prompt.empty())
    ids = model.encode(a.prompt, !a.no_bos);
  else
    fail(ErrorKind::InvalidArgument, "no prompt given (pass text, or --ids)");
  const int32_t target = resolve_token(model, a.target, a.target_id, "--target");
  if (a.sweep) return run_sweep(common, a, model, ids, target);

  std::vector<Intervention> ivs;
  for (const auto& e : a.edits) {
    size_t eq = e.rfind('=');
    if (eq == std::string::npos || eq == 0)
      fail(ErrorKind::InvalidArgument, "--edit expects HOOK=OPERATION, got '" + e + "'");
    ivs.push_back(iv::on(e.substr(0, eq), parse_op(e.substr(eq + 1))));
  }
  for (const auto& s : a.zero_heads) {
    auto [l, hs] = parse_layer_heads(s, "--zero-heads");
    ivs.push_back(iv::zero_ablate_heads(l, hs));
  }
  for (const auto& s : a.mean_heads) {
    auto [l, hs] = parse_layer_heads(s, "--mean-heads");
    ivs.push_back(iv::mean_ablate_heads(l, hs));
  }
  for (const auto& s : a.uniform) {
    auto [l, hs] = parse_layer_heads(s, "--uniform-pattern");
    for (int h : hs) ivs.push_back(iv::set_head_pattern_uniform(l, h));
  }
  if (!a.patch_heads.empty()) {
    if (a.patch_from.empty()) fail(ErrorKind::InvalidArgument, "--patch-heads needs --patch-from PROMPT");
    RunOptions src_opt;
    src_opt.capture = {hook_glob(HookPoint::AttnZ)};
    src_opt.return_logits = false;
    Trace source = model.run(model.encode(a.patch_from, !a.no_bos), src_opt);
    for (const auto& s : a.patch_heads) {
      auto [l, hs] = parse_layer_heads(s, "--patch-heads");
      ivs.push_back(iv::patch_heads(l, hs, source));
    }
  }
  if (ivs.empty() && target < 0)
    fail(ErrorKind::InvalidArgument,
         "nothing to do: give interventions (--edit, --zero-heads, ...), --sweep, or --target");
  iv::validate(model, ivs);

  Trace clean = model.run(ids);
  RunOptions opt;
  opt.interventions = ivs;
  Trace edited = model.run(ids, opt);
  PredictionOptions po;
  po.top_k = a.top_k;
  po.position = a.position;
  auto before = get_token_predictions(model, clean.logits, po);
  auto after = get_token_predictions(model, edited.logits, po);
  const int32_t contrast = resolve_token(model, a.contrast, a.contrast_id, "--contrast");

  nlohmann::json j;
  j["model"] = model.source();
  j["tokens"] = ids;
  j["position"] = a.position < 0 ? static_cast<int>(ids.size()) + a.position : a.position;
  j["interventions"] = nlohmann::json::array();
  for (const auto& v : ivs) j["interventions"].push_back({{"target", v.target}, {"description", v.description}});
  j["clean"]["top"] = predictions_json(before);
  j["intervened"]["top"] = predictions_json(after);
  if (target >= 0) {
    for (auto* run : {&clean, &edited}) {
      auto& slot = j[run == &clean ? "clean" : "intervened"];
      slot["target"] = {{"id", target},
                        {"logit", row_at(run->logits, a.position, 0)[target]},
                        {"logprob", token_logprob(run->logits, target, a.position)}};
      if (contrast >= 0) slot["logit_diff"] = logit_diff(run->logits, target, contrast, a.position);
    }
  }
  if (common.json) {
    std::cout << dump_json(j) << "\n";
    return 0;
  }
  for (const auto& v : ivs) std::cout << "intervention: " << v.description << "\n";
  print_predictions("clean:      ", before);
  print_predictions("intervened: ", after);
  if (target >= 0) {
    std::printf("target %d: logprob %.4f -> %.4f\n", target, j["clean"]["target"]["logprob"].get<double>(),
                j["intervened"]["target"]["logprob"].get<double>());
    if (contrast >= 0)
      std::printf("logit diff (target - %d): %.4f -> %.4f\n", contrast, j["clean"]["logit_diff"].get<double>(),
                  j["intervened"]["logit_diff"].get<double>());
  }
  return 0;
}

const CommandRegistrar reg{
    {"ablate", "run a prompt with interventions (or sweep head ablations) and compare predictions",
     [](CLI::App& sub, Common& common) -> std::function<int()> {
       auto a = std::make_shared<AblateArgs>();
       add_common_options(sub, common);
       add_text_argument(sub, a->prompt, "the text to run");
       add_ids_options(sub, a->ids, a->no_bos);
       sub.add_option("--edit", a->edits,
                      "HOOK=OP on a hook name, alias or glob; OP: zero, scale:F, clamp:LO:HI, noise:STD[:SEED], "
                      "add:v1,v2,... (repeatable, applied in forward order)");
       sub.add_option("--zero-heads", a->zero_heads, "zero-ablate heads LAYER:H[,H...] on hook_z (repeatable)");
       sub.add_option("--mean-heads", a->mean_heads, "mean-ablate heads LAYER:H[,H...] (repeatable)");
       sub.add_option("--uniform-pattern", a->uniform, "set heads LAYER:H[,H...] to causal uniform attention");
       sub.add_option("--patch-from", a->patch_from, "clean prompt (same length) to patch head outputs from");
       sub.add_option("--patch-heads", a->patch_heads, "heads LAYER:H[,H...] to patch from --patch-from");
       sub.add_option("--target", a->target, "target token (text that encodes to exactly one token)");
       sub.add_option("--target-id", a->target_id, "target token id");
       sub.add_option("--contrast", a->contrast, "second token for a logit difference (target - contrast)");
       sub.add_option("--contrast-id", a->contrast_id, "second token id");
       sub.add_option("--position", a->position, "position whose prediction is read (default: last)");
       sub.add_option("-k,--top-k", a->top_k, "predictions to show")->check(CLI::PositiveNumber);
       sub.add_flag("--sweep", a->sweep, "ablate every head in turn and report the target's change");
       sub.add_flag("--mean", a->mean, "sweep with mean ablation instead of zero");
       add_layers_option(sub, a->layers, "sweep only these layers (\"0,2\")");
       sub.add_option("--max-batch", a->max_batch, "sweep: heads per batched pass (0: a whole layer)");
       sub.add_option("--csv-out", a->csv, "sweep: write the layers x heads table as CSV to this file");
       sub.add_option("--json-out", a->json_out, "sweep: write the table as JSON");
       return [&common, a] { return run_ablate(common, *a); };
     }}};

}  // namespace
}  // namespace attnscope::cli
