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
//   hook_embed                       [B, T, D]   (token embedding, times sqrt(D) for Gemma)
//   hook_pos_embed                   [B, T, D]   (learned positions: GPT-2)
//   blocks.L.hook_resid_pre|mid|post [B, T, D]   (no hook_resid_mid with a parallel residual)
//   blocks.L.ln1|ln2.hook_normalized [B, T, D]   (the pre-norms, where the family has them)
//   blocks.L.attn.hook_q             [B, T, H, Dh]   (projection output, before q/k norm and RoPE)
//   blocks.L.attn.hook_k|hook_v      [B, T, Hkv, Dh]
//   blocks.L.attn.q_norm|k_norm.hook_normalized   q, k after their RMSNorm (Qwen3, Gemma 3, OLMo-2)
//   blocks.L.attn.hook_rot_q|hook_rot_k           q, k after RoPE (families with RoPE)
//   blocks.L.attn.hook_attn_scores   [B, H, T, T]   the softmax input: q.k scaled, then whatever the
//                                                    family does before the softmax (Gemma 2's
//                                                    tanh soft-cap), masked entries (later keys,
//                                                    keys outside a sliding window) = -inf
//   blocks.L.attn.hook_pattern       [B, H, T, T]   (the softmax buffer that multiplies V)
//   blocks.L.attn.hook_z             [B, T, H, Dh]  (pattern · V, per head, before o_proj)
//   blocks.L.attn.hook_result        [B, T, H, D]   (each head's contribution through o_proj,
//                                                    before any post-norm; computed only when
//                                                    captured or intervened on)
//   blocks.L.hook_attn_out|mlp_out   [B, T, D]   (after the post-norms of Gemma 2/3 and OLMo-2)
//   blocks.L.mlp.hook_pre            [B, T, F]   (gate projection in gated MLPs, else up + bias)
//   blocks.L.mlp.hook_pre_linear     [B, T, F]   (up projection, gated MLPs only)
//   blocks.L.mlp.hook_post           [B, T, F]
//   ln_final.hook_normalized         [B, T, D]
//   logits                           [B, T, V]   (after the final soft-cap of Gemma 2)
// Model::hook_names() lists the ones a model has.
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

// Where the pads of a ragged batch go (Hugging Face's padding_side, TransformerLens'
// padding_side): after each prompt's tokens (Right) or before them (Left, with positions counted
// from each prompt's first real token).
enum class Padding { Right, Left };
// "right" / "left" (the front ends' spelling); InvalidArgument for anything else.
Padding padding_from_name(const std::string& name);

// The result of a forward pass.
class Trace {
 public:
  std::vector<std::vector<int32_t>> tokens;         // per batch row (real tokens only, no pads)
  std::vector<std::vector<std::string>> str_tokens; // per batch row (empty without tokenizer)
  Tensor logits;                                    // [B, T, V]; empty if not requested

  bool has(const std::string& name) const;  // canonical or alias
  // The captured value; NotFound naming what was captured if the name was not.
  const Tensor& at(const std::string& name) const;
  void set(const std::string& canonical_name, Tensor value);
  const std::map<std::string, Tensor>& captured() const { return captured_; }
  // layer -> [B, H, Q, K] for every captured blocks.L.attn.hook_pattern.
  std::map<int, Tensor> attention_patterns() const;

  // Ragged batches (prompts of different lengths in one pass): every captured tensor and the
  // logits span padded_length() positions per row, `padding` says where row b's
  // padded_length() - tokens[b].size() pads are. No real token attends to a pad; a pad query
  // attends only to itself (so its row is finite). Rows of equal length have no pads.
  Padding padding = Padding::Right;
  int64_t padded_length() const;  // the longest row
  bool padded() const;            // some row is shorter than padded_length()
  // [B][padded_length()]: 1 at a real token, 0 at a pad (Hugging Face's attention_mask).
  std::vector<std::vector<int32_t>> attention_mask() const;
  // Row b alone with the pads cut from every captured tensor ([B, T, ...] along T; patterns and
  // scores [B, H, T, T] along both T axes) and from the logits: what running that prompt alone
  // captures (equal to float rounding). InvalidArgument for b outside the batch.
  Trace row(int b) const;

 private:
  std::map<std::string, Tensor> captured_;
};

}  // namespace attnscope
