#include "model/hooks.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "attnscope/error.h"

namespace attnscope::detail {

namespace {

const char* const kBlockHooks[] = {
    "hook_resid_pre",        "ln1.hook_normalized", "attn.hook_q",         "attn.hook_k",
    "attn.hook_v",           "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z",
    "attn.hook_result",      "hook_attn_out",       "hook_resid_mid",      "ln2.hook_normalized",
    "mlp.hook_pre",          "mlp.hook_post",       "hook_mlp_out",        "hook_resid_post"};

// Hugging Face module paths accepted as aliases (their targets come from canonical_hook_name).
const char* const kLayerAliases[] = {"",
                                     ".self_attn",
                                     ".mlp",
                                     ".input_layernorm",
                                     ".post_attention_layernorm",
                                     ".self_attn.attention_weights",
                                     ".self_attn.attn_weights",
                                     ".self_attn.q_proj",
                                     ".self_attn.k_proj",
                                     ".self_attn.v_proj"};
const char* const kGlobalAliases[] = {"model.embed_tokens", "model.norm", "lm_head"};

bool has_wildcard(const std::string& s) { return s.find_first_of("*?") != std::string::npos; }

std::string join_some(const std::vector<std::string>& names, size_t n) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < n; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > n) out += ", ...";
  return out;
}

}  // namespace

int hook_layer(const std::string& name) {
  if (name.rfind("blocks.", 0) != 0) return -1;
  size_t i = 7;
  int layer = 0;
  bool any = false;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
    layer = layer * 10 + (name[i] - '0');
    if (layer > 1000000) return -1;
    any = true;
    ++i;
  }
  return any && i < name.size() && name[i] == '.' ? layer : -1;
}

std::vector<std::string> model_hook_names(const ModelConfig& config) {
  std::vector<std::string> names{"hook_embed"};
  if (config.family == ArchFamily::Gpt2) names.push_back("hook_pos_embed");
  for (int l = 0; l < config.n_layer; ++l)
    for (const char* h : kBlockHooks) names.push_back("blocks." + std::to_string(l) + "." + h);
  names.push_back("ln_final.hook_normalized");
  names.push_back("logits");
  return names;
}

std::vector<std::string> match_hook_names(const std::string& entry_in, const std::vector<std::string>& hook_names) {
  std::string entry = entry_in;
  if (entry.rfind("model.model.", 0) == 0) entry = entry.substr(6);
  std::set<std::string> known(hook_names.begin(), hook_names.end());
  std::vector<std::string> out;
  if (!has_wildcard(entry)) {
    auto canonical = canonical_hook_name(entry);
    if (canonical && known.count(*canonical)) out.push_back(*canonical);
    return out;
  }
  std::set<std::string> hit;
  for (const auto& name : hook_names)
    if (hook_glob_match(entry, name)) hit.insert(name);
  // Globs over alias spellings ("model.layers.*.self_attn"): test every alias of this model.
  if (entry.rfind("model.", 0) == 0 || entry.rfind("lm_", 0) == 0 || entry[0] == '*' || entry[0] == '?') {
    int n_layer = 0;
    for (const auto& name : hook_names) n_layer = std::max(n_layer, hook_layer(name) + 1);
    auto try_alias = [&](const std::string& alias) {
      if (!hook_glob_match(entry, alias)) return;
      auto canonical = canonical_hook_name(alias);
      if (canonical && known.count(*canonical)) hit.insert(*canonical);
    };
    for (const char* a : kGlobalAliases) try_alias(a);
    for (int l = 0; l < n_layer; ++l)
      for (const char* a : kLayerAliases) try_alias("model.layers." + std::to_string(l) + a);
  }
  for (const auto& name : hook_names)  // forward order
    if (hit.count(name)) out.push_back(name);
  return out;
}

HookRunner::HookRunner(const std::vector<std::string>& hook_names, int n_layer, const std::vector<std::string>& capture,
                       const std::vector<int>& layers, const std::vector<Intervention>& interventions) {
  for (int l : layers)
    if (l < 0 || l >= n_layer)
      fail(ErrorKind::InvalidArgument, "layer " + std::to_string(l) + " does not exist (the model has " +
                                           std::to_string(n_layer) + " layers: 0.." + std::to_string(n_layer - 1) + ")");
  std::set<int> layer_set(layers.begin(), layers.end());
  auto no_match = [&](const std::string& what, const std::string& entry) {
    fail(ErrorKind::InvalidArgument,
         what + " '" + entry + "' matches no hook point of this model (" + std::to_string(n_layer) +
             " layers; hook points are e.g. " + join_some(hook_names, 4) + ", blocks.0.attn.hook_pattern, logits)");
  };
  for (const auto& entry : capture) {
    auto names = match_hook_names(entry, hook_names);
    if (names.empty()) no_match("capture", entry);
    for (const auto& name : names) {
      int l = hook_layer(name);
      if (l >= 0 && !layer_set.empty() && !layer_set.count(l)) continue;
      capture_.insert(name);
    }
  }
  interventions_list_ = interventions;
  for (size_t i = 0; i < interventions_list_.size(); ++i) {
    const auto& iv = interventions_list_[i];
    if (!iv.fn) fail(ErrorKind::InvalidArgument, "intervention on '" + iv.target + "' has no function");
    auto names = match_hook_names(iv.target, hook_names);
    if (names.empty()) no_match("intervention target", iv.target);
    for (const auto& name : names) interventions_[name].push_back(i);
  }
}

void HookRunner::at(const std::string& name, int layer, Tensor& value, Trace& trace, bool fresh) const {
  intervene(name, layer, value);
  if (!captured(name)) return;
  if (sink_)
    sink_(name, value);
  else
    trace.set(name, fresh ? value : value.clone());
}

void HookRunner::intervene(const std::string& name, int layer, Tensor& value) const {
  auto it = interventions_.find(name);
  if (it != interventions_.end()) {
    const float* buffer = std::as_const(value).data();
    const Shape shape = value.shape();
    Tensor live = value;  // shares the forward's buffer
    HookContext ctx{name, layer};
    for (size_t idx : it->second) {
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
}

}  // namespace attnscope::detail
