#include "model/hooks.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "attnscope/error.h"

namespace attnscope::detail {

namespace {

// Every per-block hook any family has, in forward order; a model has the subset its config implies
// (model_hook_names).
const char* const kBlockHooks[] = {
    "hook_resid_pre",   "ln1.hook_normalized",
    "attn.hook_q",      "attn.hook_k",
    "attn.hook_v",      "attn.q_norm.hook_normalized",
    "attn.k_norm.hook_normalized", "attn.hook_rot_q",
    "attn.hook_rot_k",  "attn.hook_attn_scores",
    "attn.hook_pattern", "attn.hook_z",
    "attn.hook_result", "hook_attn_out",
    "hook_resid_mid",   "ln2.hook_normalized",
    "mlp.hook_pre",     "mlp.hook_pre_linear",
    "mlp.hook_post",    "hook_mlp_out",
    "hook_resid_post"};

bool block_hook_applies(const ModelConfig& c, const std::string& h) {
  if (h == "ln1.hook_normalized" || h == "ln2.hook_normalized") return c.pre_norms;
  if (h == "attn.q_norm.hook_normalized" || h == "attn.k_norm.hook_normalized") return c.qk_norm != QkNorm::None;
  if (h == "attn.hook_rot_q" || h == "attn.hook_rot_k") return c.rope_dim > 0;
  if (h == "hook_resid_mid") return !c.parallel_residual;
  if (h == "mlp.hook_pre_linear") return c.act == Activation::SwiGLU || c.act == Activation::GeGLU;
  return true;
}

// Hugging Face module paths accepted as aliases: "model.layers.L<suffix>" -> "blocks.L.<hook>",
// and whole-model ones.
const std::pair<const char*, const char*> kLayerAliases[] = {
    {"", "hook_resid_post"},
    {".self_attn", "hook_attn_out"},
    {".mlp", "hook_mlp_out"},
    {".input_layernorm", "ln1.hook_normalized"},
    {".post_attention_layernorm", "ln2.hook_normalized"},
    {".self_attn.attention_weights", "attn.hook_pattern"},
    {".self_attn.attn_weights", "attn.hook_pattern"},
    {".self_attn.q_proj", "attn.hook_q"},
    {".self_attn.k_proj", "attn.hook_k"},
    {".self_attn.v_proj", "attn.hook_v"},
    {".self_attn.q_norm", "attn.q_norm.hook_normalized"},
    {".self_attn.k_norm", "attn.k_norm.hook_normalized"}};
const std::pair<const char*, const char*> kGlobalAliases[] = {{"model.embed_tokens", "hook_embed"},
                                                              {"model.norm", "ln_final.hook_normalized"},
                                                              {"lm_head", "logits"},
                                                              {"output", "logits"}};

bool is_digits(const std::string& s) {
  return !s.empty() && s.size() <= 7 && s.find_first_not_of("0123456789") == std::string::npos;
}

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
  if (config.learned_positions) names.push_back("hook_pos_embed");
  for (int l = 0; l < config.n_layer; ++l)
    for (const char* h : kBlockHooks)
      if (block_hook_applies(config, h)) names.push_back("blocks." + std::to_string(l) + "." + h);
  names.push_back("ln_final.hook_normalized");
  names.push_back("logits");
  return names;
}

std::optional<std::string> canonical_hook(const std::string& input) {
  std::string name = input;
  // mlxterp writes "model.model.layers.8.self_attn": drop one doubled "model." prefix.
  if (name.rfind("model.model.", 0) == 0) name = name.substr(6);
  if (name == "hook_embed" || name == "hook_pos_embed" || name == "ln_final.hook_normalized" || name == "logits")
    return name;
  for (const auto& [alias, hook] : kGlobalAliases)
    if (name == alias) return std::string(hook);
  for (const char* prefix : {"blocks.", "model.layers."}) {
    const size_t n = std::strlen(prefix);
    if (name.compare(0, n, prefix) != 0) continue;
    const size_t dot = name.find('.', n);
    const std::string layer = name.substr(n, dot == std::string::npos ? std::string::npos : dot - n);
    if (!is_digits(layer)) return std::nullopt;
    const std::string rest = dot == std::string::npos ? "" : name.substr(dot);  // "" or ".<rest>"
    const std::string b = "blocks." + layer + ".";
    if (prefix[0] == 'b') {
      for (const char* h : kBlockHooks)
        if (rest.size() > 1 && rest.substr(1) == h) return b + h;
      return std::nullopt;
    }
    for (const auto& [alias, hook] : kLayerAliases)
      if (rest == alias) return b + hook;
    return std::nullopt;
  }
  return std::nullopt;
}

std::vector<std::string> match_hook_names(const std::string& entry_in, const std::vector<std::string>& hook_names) {
  std::string entry = entry_in;
  if (entry.rfind("model.model.", 0) == 0) entry = entry.substr(6);
  std::set<std::string> known(hook_names.begin(), hook_names.end());
  std::vector<std::string> out;
  if (!has_wildcard(entry)) {
    auto canonical = canonical_hook(entry);
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
      auto canonical = canonical_hook(alias);
      if (canonical && known.count(*canonical)) hit.insert(*canonical);
    };
    for (const auto& [alias, hook] : kGlobalAliases) try_alias(alias);
    for (int l = 0; l < n_layer; ++l)
      for (const auto& [alias, hook] : kLayerAliases) try_alias("model.layers." + std::to_string(l) + alias);
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
