// The sweep's result as a table: lookup, ranking, JSON and CSV.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "attnscope/error.h"
#include "attnscope/interventions.h"

namespace attnscope {

namespace {

std::vector<int> swept_layers(const AblationSweepResult& r) {
  std::set<int> s;
  for (const auto& e : r.effects) s.insert(e.layer);
  return {s.begin(), s.end()};
}

// Shortest round-tripping text for a float in CSV.
std::string num(float x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(x));
  return buf;
}

}  // namespace

const HeadEffect& AblationSweepResult::at(int layer, int head) const {
  for (const auto& e : effects)
    if (e.layer == layer && e.head == head) return e;
  fail(ErrorKind::NotFound, "ablation sweep: no result for layer " + std::to_string(layer) + " head " +
                                std::to_string(head) + " (not swept)");
}

std::vector<HeadEffect> AblationSweepResult::ranked() const {
  std::vector<HeadEffect> out = effects;
  std::stable_sort(out.begin(), out.end(),
                   [](const HeadEffect& a, const HeadEffect& b) { return a.delta_logit < b.delta_logit; });
  return out;
}

std::string AblationSweepResult::to_json() const {
  using nlohmann::json;
  json j;
  j["target"] = target;
  j["target_str"] = target_str;
  j["position"] = position;
  j["ablation"] = kind == AblationKind::Zero ? "zero" : "mean";
  j["n_layer"] = n_layer;
  j["n_head"] = n_head;
  j["clean"] = {{"logit", clean_logit}, {"prob", clean_prob}};
  const std::vector<int> layers = swept_layers(*this);
  j["layers"] = layers;
  // Tables are layers (as listed in "layers") x heads: the input of a heatmap.
  json dl = json::array(), dp = json::array(), lg = json::array(), pr = json::array();
  for (int l : layers) {
    json a = json::array(), b = json::array(), c = json::array(), d = json::array();
    for (int h = 0; h < n_head; ++h) {
      const HeadEffect& e = at(l, h);
      a.push_back(e.delta_logit);
      b.push_back(e.delta_prob);
      c.push_back(e.logit);
      d.push_back(e.prob);
    }
    dl.push_back(a);
    dp.push_back(b);
    lg.push_back(c);
    pr.push_back(d);
  }
  j["delta_logit"] = dl;
  j["delta_prob"] = dp;
  j["logit"] = lg;
  j["prob"] = pr;
  json top = json::array();
  auto r = ranked();
  for (size_t i = 0; i < r.size() && i < 10; ++i)
    top.push_back({{"layer", r[i].layer},
                   {"head", r[i].head},
                   {"delta_logit", r[i].delta_logit},
                   {"delta_prob", r[i].delta_prob}});
  j["top"] = top;
  j["forward_passes"] = forward_passes;
  j["seconds"] = seconds;
  return j.dump(2);
}

std::string AblationSweepResult::to_csv() const {
  std::string out = "layer,head,logit,prob,delta_logit,delta_prob\n";
  for (const auto& e : effects)
    out += std::to_string(e.layer) + "," + std::to_string(e.head) + "," + num(e.logit) + "," + num(e.prob) + "," +
           num(e.delta_logit) + "," + num(e.delta_prob) + "\n";
  return out;
}

}  // namespace attnscope
