// Encoding of the explorer's extra views (see explorer_analysis.h).
#include "viz/explorer_analysis.h"

#include <cmath>
#include <cstring>

#include "attnscope/error.h"
#include "attnscope/tokenizer.h"
#include "viz/explorer_data.h"
#include "viz/text.h"

namespace attnscope::detail {

namespace {
double round4(double v) { return std::isfinite(v) ? std::round(v * 1e4) / 1e4 : 0.0; }
}  // namespace

nlohmann::json explorer_analysis_json(const ExplorerAnalysis& a, const std::map<int, Tensor>& patterns, int batch,
                                      int bits) {
  nlohmann::json j = nlohmann::json::object();
  const Tensor& first = patterns.begin()->second;  // explorer_html checked the patterns already
  if (!a.value_weighted.empty()) {
    for (const auto& [l, t] : patterns) {
      auto it = a.value_weighted.find(l);
      if (it == a.value_weighted.end() || it->second.shape() != t.shape())
        fail(ErrorKind::InvalidArgument,
             "explorer: value-weighted patterns must have the weights' layers and shapes (layer " + std::to_string(l) +
                 ")");
    }
    std::map<int, Tensor> vw;
    for (const auto& [l, t] : patterns) vw.emplace(l, a.value_weighted.at(l));
    j["value"] = encode_patterns(vw, batch, bits).base64;
  }
  if (!a.rollout.empty()) {
    const int64_t T = first.dim(3);
    if (a.rollout.ndim() != 3 || a.rollout.dim(1) != T || a.rollout.dim(2) != T || first.dim(2) != T)
      fail(ErrorKind::InvalidArgument, "explorer: rollout is " + a.rollout.shape_str() + ", expected [L, " +
                                           std::to_string(T) + ", " + std::to_string(T) + "] for square patterns");
    std::map<int, Tensor> r;
    for (const auto& [l, t] : patterns) {
      if (l >= a.rollout.dim(0))
        fail(ErrorKind::InvalidArgument, "explorer: rollout has no layer " + std::to_string(l));
      Tensor one({1, 1, T, T});
      std::memcpy(one.data(), a.rollout.data() + l * T * T, sizeof(float) * static_cast<size_t>(T * T));
      r.emplace(l, std::move(one));
    }
    j["rollout"] = encode_patterns(r, 0, bits).base64;
  }
  nlohmann::json dla = nlohmann::json::array();
  for (const auto& d : a.dla) {
    if (d.heads.ndim() != 3 || d.heads.dim(0) != first.dim(2) || d.heads.dim(2) != first.dim(1) ||
        static_cast<int64_t>(d.targets.size()) != d.heads.dim(0))
      fail(ErrorKind::InvalidArgument, "explorer: logit attribution '" + d.name + "' is " + d.heads.shape_str() +
                                           " with " + std::to_string(d.targets.size()) + " targets; expected [" +
                                           std::to_string(first.dim(2)) + ", L, " + std::to_string(first.dim(1)) + "]");
    nlohmann::json values = nlohmann::json::array(), targets = nlohmann::json::array();
    for (int64_t i = 0; i < d.heads.numel(); ++i) values.push_back(round4(d.heads.data()[i]));
    for (const auto& t : d.targets) targets.push_back(valid_utf8(t));
    dla.push_back({{"name", valid_utf8(d.name)}, {"targets", targets}, {"layers", d.heads.dim(1)}, {"values", values}});
  }
  j["dla"] = dla;
  nlohmann::json edges = nlohmann::json::array();
  for (const auto& e : a.composition)
    edges.push_back({e.src_layer, e.src_head, e.dst_layer, e.dst_head, valid_utf8(e.kind), round4(e.score)});
  j["composition"] = edges;
  return j;
}

}  // namespace attnscope::detail
