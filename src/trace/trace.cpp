#include "attnscope/trace.h"


#include "attnscope/error.h"

namespace attnscope {

namespace {

bool is_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// Canonical names: "hook_embed", "hook_pos_embed", "ln_final.hook_normalized", "logits",
// "blocks.L.<hook>" with <hook> one of the per-block names.
bool is_block_hook(const std::string& rest) {
  static const char* names[] = {
      "hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out",
      "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_attn_scores", "attn.hook_pattern",
      "attn.hook_z", "attn.hook_result", "mlp.hook_pre", "mlp.hook_post", "ln1.hook_normalized",
      "ln2.hook_normalized"};
  for (const char* n : names)
    if (rest == n) return true;
  return false;
}

}  // namespace

std::optional<std::string> canonical_hook_name(const std::string& input) {
  std::string name = input;
  // mlxterp writes "model.model.layers.8.self_attn": drop one doubled "model." prefix.
  if (name.rfind("model.model.", 0) == 0) name = name.substr(6);
  if (name == "hook_embed" || name == "hook_pos_embed" || name == "ln_final.hook_normalized" ||
      name == "logits")
    return name;
  if (name == "model.embed_tokens") return std::string("hook_embed");
  if (name == "model.norm") return std::string("ln_final.hook_normalized");
  if (name == "lm_head" || name == "output") return std::string("logits");

  auto split_layer = [](const std::string& s, const std::string& prefix, std::string& layer,
                        std::string& rest) {
    if (s.rfind(prefix, 0) != 0) return false;
    size_t dot = s.find('.', prefix.size());
    layer = s.substr(prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size());
    rest = dot == std::string::npos ? "" : s.substr(dot + 1);
    return is_digits(layer);
  };
  std::string layer, rest;
  if (split_layer(name, "blocks.", layer, rest)) {
    if (is_block_hook(rest)) return "blocks." + layer + "." + rest;
    return std::nullopt;
  }
  if (split_layer(name, "model.layers.", layer, rest)) {
    std::string b = "blocks." + layer + ".";
    if (rest.empty()) return b + "hook_resid_post";
    if (rest == "self_attn") return b + "hook_attn_out";
    if (rest == "mlp") return b + "hook_mlp_out";
    if (rest == "input_layernorm") return b + "ln1.hook_normalized";
    if (rest == "post_attention_layernorm") return b + "ln2.hook_normalized";
    if (rest == "self_attn.attention_weights" || rest == "self_attn.attn_weights")
      return b + "attn.hook_pattern";
    if (rest == "self_attn.q_proj") return b + "attn.hook_q";
    if (rest == "self_attn.k_proj") return b + "attn.hook_k";
    if (rest == "self_attn.v_proj") return b + "attn.hook_v";
    return std::nullopt;
  }
  return std::nullopt;
}

bool hook_glob_match(const std::string& pattern, const std::string& name) {
  // Iterative wildcard match with backtracking to the last '*': linear in practice, no regex.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool Trace::has(const std::string& name) const {
  auto canonical = canonical_hook_name(name);
  return captured_.count(canonical ? *canonical : name) != 0 ||
         (canonical && *canonical == "logits" && !logits.empty());
}

const Tensor& Trace::at(const std::string& name) const {
  auto canonical = canonical_hook_name(name);
  const std::string key = canonical ? *canonical : name;
  auto it = captured_.find(key);
  if (it != captured_.end()) return it->second;
  if (key == "logits" && !logits.empty()) return logits;
  std::string have;
  for (const auto& [k, v] : captured_) have += (have.empty() ? "" : ", ") + k;
  fail(ErrorKind::NotFound, "'" + name + "' was not captured in this trace (captured: " +
                                (have.empty() ? std::string("nothing") : have) + ")");
}

void Trace::set(const std::string& canonical_name, Tensor value) {
  captured_[canonical_name] = std::move(value);
}

std::map<int, Tensor> Trace::attention_patterns() const {
  std::map<int, Tensor> out;
  static const std::string suffix = ".attn.hook_pattern";
  for (const auto& [name, value] : captured_) {
    if (name.rfind("blocks.", 0) != 0 || name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    out[std::stoi(name.substr(7))] = value;
  }
  return out;
}

}  // namespace attnscope
