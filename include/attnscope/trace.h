// What a forward pass leaves behind (captured activations, logits) and how a caller steers it
// (which hook points to capture, interventions that change values in flight).
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope {

// Hook point names (TransformerLens style; see DESIGN.md) and their shapes:
//   hook_embed                       [B, T, D]   (token embedding; gpt2 also hook_pos_embed)
//   blocks.L.hook_resid_pre|mid|post [B, T, D]
//   blocks.L.attn.hook_q             [B, T, H, Dh]   (after RoPE)
//   blocks.L.attn.hook_k|hook_v      [B, T, Hkv, Dh] (k after RoPE)
//   blocks.L.attn.hook_attn_scores   [B, H, T, T]   (scaled, masked entries = -inf)
//   blocks.L.attn.hook_pattern       [B, H, T, T]   (the softmax buffer that multiplies V)
//   blocks.L.attn.hook_z             [B, T, H, Dh]  (pattern · V, per head, before o_proj)
//   blocks.L.attn.hook_result        [B, T, H, D]   (each head's contribution through o_proj;
//                                                    computed only when captured or intervened on)
//   blocks.L.hook_attn_out|mlp_out   [B, T, D]
//   ln_final.hook_normalized         [B, T, D]
//   logits                           [B, T, V]
// Aliases (Hugging Face module paths; a leading "model." may be doubled as in mlxterp):
//   model.embed_tokens -> hook_embed, model.layers.L.self_attn -> blocks.L.hook_attn_out,
//   model.layers.L.mlp -> blocks.L.hook_mlp_out, model.layers.L -> blocks.L.hook_resid_post,
//   model.norm -> ln_final.hook_normalized, lm_head -> logits.

// Resolves an alias (or a canonical name) to its canonical hook name; nullopt if the string is
// neither. Does not check the layer against a model.
std::optional<std::string> canonical_hook_name(const std::string& name);
// Glob match of hook names: '*' matches any run of characters (dots included), '?' one character.
bool hook_glob_match(const std::string& pattern, const std::string& name);

// Passed to interventions so one function can serve many hook points.
struct HookContext {
  std::string name;  // canonical hook name
  int layer = -1;    // -1 for hooks outside the blocks
};
using InterventionFn = std::function<void(Tensor& value, const HookContext& ctx)>;
struct Intervention {
  std::string target;  // hook name, alias or glob; must match at least one hook point
  InterventionFn fn;
  std::string description;  // for messages and --json output
};

// Receives a captured value (canonical hook name, tensor) the moment the forward pass produces it.
using CaptureSink = std::function<void(const std::string& name, const Tensor& value)>;

// The result of a forward pass.
class Trace {
 public:
  std::vector<std::vector<int32_t>> tokens;         // per batch row
  std::vector<std::vector<std::string>> str_tokens; // per batch row (empty without tokenizer)
  Tensor logits;                                    // [B, T, V]; empty if not requested

  bool has(const std::string& name) const;  // canonical or alias
  // The captured value; NotFound naming what was captured if the name was not.
  const Tensor& at(const std::string& name) const;
  void set(const std::string& canonical_name, Tensor value);
  const std::map<std::string, Tensor>& captured() const { return captured_; }
  // layer -> [B, H, Q, K] for every captured blocks.L.attn.hook_pattern.
  std::map<int, Tensor> attention_patterns() const;

 private:
  std::map<std::string, Tensor> captured_;
};

}  // namespace attnscope
