// Hook points: the activations a forward pass exposes, as one typed table. Each row holds the
// point's TransformerLens name, the Hugging Face module paths accepted as aliases, the shape of its
// value and which configs have it; the forward passes HookPoint values, and everything that needs
// a hook's name, layer or shape (interventions, analysis, the CLI, Python) asks this table.
//
// Canonical names (TransformerLens) and shapes (B batch, T positions of this pass, Tk keys =
// cached + T, D model width, H query heads, Hkv key/value heads, Dh head width, F MLP width,
// V vocabulary):
//   hook_embed                       [B, T, D]   (token embedding, times sqrt(D) for Gemma)
//   hook_pos_embed                   [B, T, D]   (learned positions: GPT-2)
//   blocks.L.hook_resid_pre|mid|post [B, T, D]   (no hook_resid_mid with a parallel residual)
//   blocks.L.ln1|ln2.hook_normalized [B, T, D]   (the pre-norms, where the family has them)
//   blocks.L.attn.hook_q             [B, T, H, Dh]   (projection output, before q/k norm and RoPE)
//   blocks.L.attn.hook_k|hook_v      [B, T, Hkv, Dh]
//   blocks.L.attn.q_norm|k_norm.hook_normalized   q, k after their RMSNorm (Qwen3, Gemma 3, OLMo-2)
//   blocks.L.attn.hook_rot_q|hook_rot_k           q, k after RoPE (families with RoPE)
//   blocks.L.attn.hook_attn_scores   [B, H, T, Tk]  the softmax input: q.k scaled, then whatever the
//                                    family does before the softmax (Gemma 2's tanh soft-cap);
//                                    masked entries (later keys, keys outside a sliding window,
//                                    a ragged batch's pads) = -inf
//   blocks.L.attn.hook_pattern       [B, H, T, Tk]   (the softmax buffer that multiplies V)
//   blocks.L.attn.hook_z             [B, T, H, Dh]  (pattern · V, per head, before o_proj)
//   blocks.L.attn.hook_result        [B, T, H, D]   (each head's contribution through o_proj,
//                                    before any post-norm; computed only when captured or
//                                    intervened on)
//   blocks.L.hook_attn_out|mlp_out   [B, T, D]   (after the post-norms of Gemma 2/3 and OLMo-2)
//   blocks.L.mlp.hook_pre            [B, T, F]   (gate projection in gated MLPs, else up + bias)
//   blocks.L.mlp.hook_pre_linear     [B, T, F]   (up projection, gated MLPs only)
//   blocks.L.mlp.hook_post           [B, T, F]
//   ln_final.hook_normalized         [B, T, D]
//   logits                           [B, T, V]   (after the final soft-cap of Gemma 2)
// Aliases (Hugging Face module paths; a leading "model." may be doubled as in mlxterp):
//   model.embed_tokens -> hook_embed, model.layers.L -> blocks.L.hook_resid_post,
//   model.layers.L.self_attn -> blocks.L.hook_attn_out, model.layers.L.mlp -> blocks.L.hook_mlp_out,
//   model.layers.L.input_layernorm / post_attention_layernorm -> blocks.L.ln1 / ln2.hook_normalized,
//   model.layers.L.self_attn.{q,k,v}_proj -> blocks.L.attn.hook_{q,k,v},
//   model.layers.L.self_attn.{q,k}_norm -> blocks.L.attn.{q,k}_norm.hook_normalized,
//   model.layers.L.self_attn.attention_weights | attn_weights -> blocks.L.attn.hook_pattern,
//   model.norm -> ln_final.hook_normalized, lm_head | output -> logits.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnscope {

struct ModelConfig;

// Every hook point any family has, in forward order.
enum class HookPoint : uint8_t {
  Embed,
  PosEmbed,
  ResidPre,
  Ln1Normalized,
  AttnQ,
  AttnK,
  AttnV,
  AttnQNorm,
  AttnKNorm,
  AttnRotQ,
  AttnRotK,
  AttnScores,
  AttnPattern,
  AttnZ,
  AttnResult,
  AttnOut,
  ResidMid,
  Ln2Normalized,
  MlpPre,
  MlpPreLinear,
  MlpPost,
  MlpOut,
  ResidPost,
  LnFinal,
  Logits,
};
inline constexpr int kHookPointCount = static_cast<int>(HookPoint::Logits) + 1;

// The shape class of a hook's value (see the list above).
enum class HookShape : uint8_t {
  Stream,      // [B, T, D]
  QueryHeads,  // [B, T, H, Dh]
  KvHeads,     // [B, T, Hkv, Dh]
  Square,      // [B, H, T, Tk]: one row per query, one column per key
  HeadResult,  // [B, T, H, D]
  Mlp,         // [B, T, F]
  Logits,      // [B, T, V]
};

// A hook point of one layer (layer -1 for the points outside the blocks).
struct HookRef {
  HookPoint point;
  int layer = -1;
  bool operator==(const HookRef& o) const { return point == o.point && layer == o.layer; }
};

// The row of the table: "attn.hook_pattern" (without "blocks.L."), whether it is per layer, its shape.
const char* hook_suffix(HookPoint p);
bool hook_in_block(HookPoint p);
HookShape hook_shape(HookPoint p);
// Axis of the value that indexes query heads: 1 for Square, 2 for QueryHeads and HeadResult, -1 otherwise
// (hook_k / hook_v index key/value heads, shared under GQA).
int hook_head_axis(HookPoint p);
// Whether a model with this config has the point (q/k norms only where the family has them, ...).
bool hook_applies(HookPoint p, const ModelConfig& config);

// "blocks.3.attn.hook_pattern" for (AttnPattern, 3); "logits" for (Logits, -1). InvalidArgument for a
// block point without a layer (< 0) or a point outside the blocks with one.
std::string hook_name(HookPoint p, int layer = -1);
inline std::string hook_name(HookRef r) { return hook_name(r.point, r.layer); }
// "blocks.*.attn.hook_pattern": the capture glob selecting a block point in every layer (the
// point's own name outside the blocks).
std::string hook_glob(HookPoint p);
// The canonical name -> its point and layer; nullopt for anything else (aliases included: resolve
// them with canonical_hook_name first).
std::optional<HookRef> parse_hook_name(const std::string& canonical);
// The shape class of a canonical hook name; nullopt for anything else.
std::optional<HookShape> hook_shape_of(const std::string& canonical);

// The hook names of a model with this config, in forward order (Model::hook_names()).
std::vector<std::string> model_hook_names(const ModelConfig& config);
// Resolves an alias (or a canonical name) to its canonical hook name; nullopt if the string is
// neither. Does not check the layer against a model.
std::optional<std::string> canonical_hook_name(const std::string& name);
// Every hook name of the layer `name` mentions ("blocks.N." prefix; else layer 0) and those outside
// the blocks: the candidates for a "did you mean" when `name` is no hook name (error.h).
std::vector<std::string> hook_names_near(const std::string& name);
// Glob match of hook names: '*' matches any run of characters (dots included), '?' one character.
bool hook_glob_match(const std::string& pattern, const std::string& name);
// Every name of `hook_names` that `entry` (canonical name, alias, or glob over either) selects, in
// the order of `hook_names`. Empty when it selects none.
std::vector<std::string> match_hook_names(const std::string& entry, const std::vector<std::string>& hook_names);

}  // namespace attnscope
