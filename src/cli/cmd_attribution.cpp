// Beyond attention weights on the command line:
//   attnscope dla "text" --target TOKEN [--minus TOKEN] [--pos P ...] [-o dla.png]
//   attnscope composition [--kind k] [--top 20] [--into L:H] [--out-of L:H] [-o composition.svg]
//   attnscope rollout "text" [--query P ...] [--flow]
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/predictions.h"
#include "attnscope/viz.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/viz_common.h"

namespace attnscope::cli {
namespace {

using nlohmann::json;

std::string fmt(double v, const char* f = "%.3f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string padded(const std::string& s, size_t w) { return s.size() >= w ? s : std::string(w - s.size(), ' ') + s; }

// "L:H" or "LhH" -> (layer, head).
std::pair<int, int> parse_head(const std::string& s, const std::string& what) {
  int l = -1, h = -1;
  char sep = 0;
  if (std::sscanf(s.c_str(), "%d%c%d", &l, &sep, &h) != 3 || (sep != ':' && sep != 'H' && sep != 'h') || l < 0 || h < 0)
    fail(ErrorKind::InvalidArgument, what + " expects LAYER:HEAD (e.g. 1:0), got '" + s + "'");
  return {l, h};
}

std::string token_str(const Model& model, int32_t id) {
  return model.has_tokenizer() ? dump_json(json(token_to_str(model, id)), -1) : "#" + std::to_string(id);
}

// ---- dla --------------------------------------------------------------------------------------

struct DlaArgs {
  std::string text, target, minus, output;
  int target_id = -1, minus_id = -1;
  std::vector<int> positions;
  bool force = false;
};

int run_dla(const Common& common, const DlaArgs& a) {
  if (!a.output.empty()) check_overwrite(a.output, a.force);
  const Model model = load_model(common);
  if (a.text.empty()) fail(ErrorKind::InvalidArgument, "the text is empty");
  const std::vector<int32_t> ids = model.encode(a.text, true);
  int32_t target = resolve_token(model, a.target, a.target_id, "--target");
  const int32_t minus = resolve_token(model, a.minus, a.minus_id, "--minus");
  if (target < 0) {  // the model's own top prediction at the (first) position
    const Trace t = model.run(ids);
    target = top_k_logits(row_at(t.logits, a.positions.empty() ? -1 : a.positions[0], 0), t.logits.dim(2), 1)[0].id;
  }
  const DirectLogitAttribution r = direct_logit_attribution(
      model, ids, target, minus >= 0 ? std::optional<int32_t>(minus) : std::nullopt, a.positions);
  const int L = r.n_layers, H = r.n_heads;
  // Gemma 2's logits are soft-capped (cap * tanh(z / cap)); the parts add up to z.
  const float cap = model.config().final_softcap;
  const std::string what = "logit " + token_str(model, target) +
                           (minus >= 0 ? " - logit " + token_str(model, minus) : "") +
                           (cap > 0 ? " before the soft-cap " + fmt(cap, "%g") : "");
  json j;
  j["target"] = {{"id", target}, {"token", model.has_tokenizer() ? token_to_str(model, target) : ""}};
  if (minus >= 0) j["minus"] = {{"id", minus}, {"token", model.has_tokenizer() ? token_to_str(model, minus) : ""}};
  j["tokens"] = ids;
  if (cap > 0) j["final_softcap"] = cap;  // "logit" is then before the cap
  j["positions"] = json::array();
  for (size_t i = 0; i < r.positions.size(); ++i) {
    const int p = r.positions[i];
    const int64_t C = r.attribution.dim(1);
    json parts = json::object();
    for (int64_t k = 0; k < C; ++k) parts[r.labels[k]] = r.attribution.at({static_cast<int64_t>(i), k});
    json heads = json::array();
    for (int l = 0; l < L; ++l) {
      json row = json::array();
      for (int h = 0; h < H; ++h) row.push_back(r.heads.at({static_cast<int64_t>(i), l, h}));
      heads.push_back(row);
    }
    json mlp = json::array();
    for (int l = 0; l < L; ++l) mlp.push_back(r.mlp.at({static_cast<int64_t>(i), l}));
    j["positions"].push_back({{"position", p},
                              {"token", r.str_tokens.empty() ? "" : r.str_tokens[static_cast<size_t>(p)]},
                              {"logit", r.logit[i]},
                              {"heads", heads},
                              {"mlp", mlp},
                              {"parts", parts}});
    if (common.json) continue;
    std::cout << "position " << p
              << (r.str_tokens.empty() ? "" : " " + dump_json(json(r.str_tokens[static_cast<size_t>(p)]), -1)) << ": "
              << what << " = " << fmt(r.logit[i]) << " (embedding " << fmt(parts["embed"].get<double>()) << ")\n";
    std::cout << "layer";
    for (int h = 0; h < H; ++h) std::cout << padded("H" + std::to_string(h), 8);
    std::cout << padded("MLP", 8) << "\n";
    for (int l = 0; l < L; ++l) {
      std::cout << padded(std::to_string(l), 5);
      for (int h = 0; h < H; ++h) std::cout << padded(fmt(r.heads.at({static_cast<int64_t>(i), l, h}), "%+.3f"), 8);
      std::cout << padded(fmt(r.mlp.at({static_cast<int64_t>(i), l}), "%+.3f"), 8) << "\n";
    }
    std::cout << "\n";
  }
  if (!a.output.empty()) {
    Tensor heads({L, H});
    std::vector<double> mlp;
    for (int l = 0; l < L; ++l) {
      for (int h = 0; h < H; ++h) heads.data()[l * H + h] = r.heads.at({0, l, h});
      mlp.push_back(r.mlp.at({0, l}));
    }
    FigureOptions fo;
    fo.title = "Direct logit attribution: " + what;
    const int p0 = r.positions[0];
    save_logit_attribution(
        a.output, heads, mlp,
        "position " + std::to_string(p0) +
            (r.str_tokens.empty() ? "" : " " + dump_json(json(r.str_tokens[static_cast<size_t>(p0)]), -1)) +
            ", logit " + fmt(r.logit[0]) + ", embedding " + fmt(r.attribution.at({0, 0})),
        fo);
    j["written"] = a.output;
    if (!common.json) std::cout << "wrote " << a.output << "\n";
  }
  if (common.json) std::cout << dump_json(j, 2) << "\n";
  return 0;
}

const CommandRegistrar kDla{{
    "dla",
    "direct logit attribution: each head's, MLP's and the embedding's share of a logit",
    [](CLI::App& sub, Common& common) {
      auto a = std::make_shared<DlaArgs>();
      add_common_options(sub, common);
      sub.add_option("text", a->text, "the text to run")->required();
      sub.add_option("--target", a->target,
                     "target token (text that encodes to exactly one token). Default: the top prediction");
      sub.add_option("--target-id", a->target_id, "target token id");
      sub.add_option("--minus", a->minus, "second token: attribute the logit difference target - minus");
      sub.add_option("--minus-id", a->minus_id, "second token id");
      sub.add_option("--pos", a->positions, "query positions, e.g. 3,-1 (negative: from the end; default: the last)")
          ->delimiter(',');
      sub.add_option("-o,--output", a->output, "figure of the first position (PNG, SVG or PDF)");
      sub.add_flag("--force", a->force, "overwrite an existing file not written by attnscope");
      return [&common, a]() { return run_dla(common, *a); };
    },
}};

// ---- composition --------------------------------------------------------------------------------

struct CompositionArgs {
  std::string kind = "all", into, out_of, output;
  int top = 20;
  bool force = false;
};

int run_composition(const Common& common, const CompositionArgs& a) {
  if (!a.output.empty()) check_overwrite(a.output, a.force);
  std::optional<CompositionKind> kind;
  if (a.kind == "q" || a.kind == "Q")
    kind = CompositionKind::Q;
  else if (a.kind == "k" || a.kind == "K")
    kind = CompositionKind::K;
  else if (a.kind == "v" || a.kind == "V")
    kind = CompositionKind::V;
  else if (a.kind != "all")
    fail(ErrorKind::InvalidArgument, "--kind must be q, k, v or all, got '" + a.kind + "'");
  const Model model = load_model(common);
  if (model.config().n_layer < 2)
    fail(ErrorKind::InvalidArgument,
         "composition needs at least 2 layers; the model has " + std::to_string(model.config().n_layer));
  std::optional<std::pair<int, int>> into, out_of;
  if (!a.into.empty()) into = parse_head(a.into, "--into");
  if (!a.out_of.empty()) out_of = parse_head(a.out_of, "--out-of");
  for (const auto& h : {into, out_of})
    if (h && (h->first >= model.config().n_layer || h->second >= model.config().n_head))
      fail(ErrorKind::InvalidArgument, "head " + head_label(h->first, h->second) + " does not exist (" +
                                           std::to_string(model.config().n_layer) + " layers x " +
                                           std::to_string(model.config().n_head) + " heads)");
  const CompositionScores s = composition_scores(model);
  const auto edges = s.top_edges(a.top, kind, into, out_of);
  json j = json::array();
  for (const auto& e : edges)
    j.push_back({{"from", {e.src_layer, e.src_head}},
                 {"to", {e.dst_layer, e.dst_head}},
                 {"kind", composition_kind_name(e.kind)},
                 {"score", e.score}});
  if (!a.output.empty()) {
    std::vector<std::pair<std::string, Tensor>> mats;
    for (CompositionKind k : {CompositionKind::Q, CompositionKind::K, CompositionKind::V})
      if (!kind || *kind == k) mats.emplace_back(composition_kind_name(k), s.of(k));
    save_composition_scores(a.output, mats);
  }
  if (common.json) {
    json out = {{"edges", j}};
    if (!a.output.empty()) out["written"] = a.output;
    std::cout << dump_json(out, 2) << "\n";
    return 0;
  }
  std::cout << "top " << edges.size() << " composition edges (Elhage et al. 2021; scores in [0, 1]):\n";
  std::cout << "  from    to      kind  score\n";
  for (const auto& e : edges)
    std::cout << "  " << head_label(e.src_layer, e.src_head)
              << std::string(8 - head_label(e.src_layer, e.src_head).size(), ' ') << head_label(e.dst_layer, e.dst_head)
              << std::string(8 - head_label(e.dst_layer, e.dst_head).size(), ' ') << composition_kind_name(e.kind)
              << "     " << fmt(e.score) << "\n";
  if (!a.output.empty()) std::cout << "wrote " << a.output << "\n";
  return 0;
}

const CommandRegistrar kComposition{{
    "composition",
    "Q/K/V-composition scores between heads of different layers, from the weights",
    [](CLI::App& sub, Common& common) {
      auto a = std::make_shared<CompositionArgs>();
      add_common_options(sub, common);
      sub.add_option("--kind", a->kind, "q, k, v or all")->capture_default_str();
      sub.add_option("--top", a->top, "how many edges to list")->capture_default_str()->check(CLI::NonNegativeNumber);
      sub.add_option("--into", a->into, "only edges into this head (LAYER:HEAD)");
      sub.add_option("--out-of", a->out_of, "only edges out of this head (LAYER:HEAD)");
      sub.add_option("-o,--output", a->output, "figure of the score matrices (PNG, SVG or PDF)");
      sub.add_flag("--force", a->force, "overwrite an existing file not written by attnscope");
      return [&common, a]() { return run_composition(common, *a); };
    },
}};

// ---- rollout
// ---------------------------------------------------------------------------------------

struct RolloutArgs {
  std::string text;
  std::vector<int> queries;
  bool flow = false;
};

int run_rollout(const Common& common, const RolloutArgs& a) {
  const Model model = load_model(common);
  if (a.text.empty()) fail(ErrorKind::InvalidArgument, "the text is empty");
  RunOptions ro;
  ro.capture = {hook_glob(HookPoint::AttnPattern)};
  ro.return_logits = false;
  const Trace t = model.run(a.text, ro);
  const auto patterns = t.attention_patterns();
  const Tensor r = attention_rollout(patterns);
  const int64_t L = r.dim(0), T = r.dim(1);
  std::vector<int> qs;
  for (int q : a.queries.empty() ? std::vector<int>{-1} : a.queries) {
    if (q < -T || q >= T)
      fail(ErrorKind::InvalidArgument,
           "--query " + std::to_string(q) + " is outside the " + std::to_string(T) + "-token text");
    qs.push_back(q < 0 ? static_cast<int>(T + q) : q);
  }
  const Tensor f = a.flow ? attention_flow(patterns, qs) : Tensor();
  const std::vector<std::string> toks = t.str_tokens.empty() ? std::vector<std::string>{} : t.str_tokens[0];
  json j = {{"tokens", t.tokens[0]}, {"str_tokens", toks}, {"queries", json::array()}};
  for (size_t qi = 0; qi < qs.size(); ++qi) {
    json roll = json::array(), flow = json::array();
    for (int64_t k = 0; k < T; ++k) {
      roll.push_back(r.at({L - 1, qs[qi], k}));
      if (a.flow) flow.push_back(f.at({static_cast<int64_t>(qi), k}));
    }
    json q = {{"position", qs[qi]}, {"rollout", roll}};
    if (a.flow) q["flow"] = flow;
    j["queries"].push_back(q);
    if (common.json) continue;
    std::cout << "query " << qs[qi]
              << (toks.empty() ? "" : " " + dump_json(json(toks[static_cast<size_t>(qs[qi])]), -1))
              << ": input token, rollout" << (a.flow ? ", flow" : "") << "\n";
    for (int64_t k = 0; k <= qs[qi]; ++k)
      std::cout << padded(std::to_string(k), 5) << "  "
                << (toks.empty() ? "" : dump_json(json(toks[static_cast<size_t>(k)]), -1)) << "  "
                << fmt(r.at({L - 1, qs[qi], k})) << (a.flow ? "  " + fmt(f.at({static_cast<int64_t>(qi), k})) : "")
                << "\n";
  }
  if (common.json) std::cout << dump_json(j, 2) << "\n";
  return 0;
}

const CommandRegistrar kRollout{{
    "rollout",
    "attention rollout (and --flow: attention flow) from each query back to the input tokens",
    [](CLI::App& sub, Common& common) {
      auto a = std::make_shared<RolloutArgs>();
      add_common_options(sub, common);
      sub.add_option("text", a->text, "the text to run")->required();
      sub.add_option("--query", a->queries, "query positions, e.g. 3,-1 (negative: from the end; default: the last)")
          ->delimiter(',');
      sub.add_flag("--flow", a->flow, "also compute attention flow (a max-flow per input token)");
      return [&common, a]() { return run_rollout(common, *a); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
