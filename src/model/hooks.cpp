#include "model/hooks.h"

#include <cstring>
#include <set>
#include <utility>

#include "attnscope/error.h"

namespace attnscope::detail {

namespace {

std::string join_some(const std::vector<std::string>& names, size_t n) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < n; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > n) out += ", ...";
  return out;
}

}  // namespace

HookRunner::HookRunner(const std::vector<std::string>& hook_names, int n_layer, const std::vector<std::string>& capture,
                       const std::vector<int>& layers, const std::vector<Intervention>& interventions) {
  for (int l : layers)
    if (l < 0 || l >= n_layer)
      fail(ErrorKind::InvalidArgument, "layer " + std::to_string(l) + " does not exist (the model has " +
                                           std::to_string(n_layer) + " layers: 0.." + std::to_string(n_layer - 1) +
                                           ")");
  const std::set<int> layer_set(layers.begin(), layers.end());
  auto no_match = [&](const std::string& what, const std::string& entry) {
    fail(ErrorKind::InvalidArgument, what + " '" + entry + "' matches no hook point of this model" +
                                         did_you_mean(entry, hook_names) + " (" + std::to_string(n_layer) +
                                         " layers; hook points are e.g. " + join_some(hook_names, 4) +
                                         ", blocks.0.attn.hook_pattern, logits)");
  };
  // Every name here comes from the model's hook names, so it parses.
  auto ref_of = [](const std::string& name) { return *parse_hook_name(name); };
  const size_t slots = static_cast<size_t>(n_layer + 1) * kHookPointCount;
  flags_.assign(slots, 0);
  interventions_.assign(slots, {});
  for (const auto& entry : capture) {
    auto names = match_hook_names(entry, hook_names);
    if (names.empty()) no_match("capture", entry);
    for (const auto& name : names) {
      const HookRef r = ref_of(name);
      if (r.layer >= 0 && !layer_set.empty() && !layer_set.count(r.layer)) continue;
      uint8_t& f = flags_[slot(r.point, r.layer)];
      n_captured_ += !(f & kCapture);
      f |= kCapture;
    }
  }
  interventions_list_ = interventions;
  for (size_t i = 0; i < interventions_list_.size(); ++i) {
    const auto& iv = interventions_list_[i];
    if (!iv.fn) fail(ErrorKind::InvalidArgument, "intervention on '" + iv.target + "' has no function");
    auto names = match_hook_names(iv.target, hook_names);
    if (names.empty()) no_match("intervention target", iv.target);
    for (const auto& name : names) {
      const HookRef r = ref_of(name);
      flags_[slot(r.point, r.layer)] |= kIntervene;
      interventions_[slot(r.point, r.layer)].push_back(i);
    }
  }
}

void HookRunner::at(HookPoint p, int layer, Tensor& value, Trace& trace, bool fresh) const {
  if (!active(p, layer)) return;
  intervene(p, layer, value);
  if (!captured(p, layer)) return;
  if (sink_)
    sink_(hook_name(p, layer), value);
  else
    trace.set(hook_name(p, layer), fresh ? value : value.clone());
}

void HookRunner::intervene(HookPoint p, int layer, Tensor& value) const {
  if (!intervened(p, layer)) return;
  const std::string name = hook_name(p, layer);
  const float* buffer = std::as_const(value).data();
  const Shape shape = value.shape();
  Tensor live = value;  // shares the forward's buffer
  const HookContext ctx{name, layer};
  for (size_t idx : interventions_[slot(p, layer)]) {
    interventions_list_[idx].fn(value, ctx);
    if (std::as_const(value).data() != buffer) {
      // The intervention assigned a new tensor: copy it into the buffer the forward goes on with.
      if (value.shape() != shape)
        fail(ErrorKind::InvalidArgument, "intervention '" + interventions_list_[idx].description + "' on " + name +
                                             " changed its shape from " + live.shape_str() + " to " +
                                             value.shape_str());
      std::memcpy(live.data(), std::as_const(value).data(), sizeof(float) * static_cast<size_t>(live.numel()));
      value = live;
    } else if (value.shape() != shape) {
      fail(ErrorKind::InvalidArgument, "intervention '" + interventions_list_[idx].description + "' on " + name +
                                           " changed its shape to " + value.shape_str());
    }
  }
}

}  // namespace attnscope::detail
