// An architecture family as data. Each family is one file src/model/arch_<family>.cpp defining one
// ArchSpec: the names it answers to, how its config is read from GGUF metadata and from config.json,
// its weight table, and its forward function. The GGUF and Hugging Face loaders and the binder only
// read these tables; nothing else in the library knows a family by name. How to add a family:
// README, "Architectures as data".
#pragma once
#include <string>
#include <variant>
#include <vector>

#include "attnscope/model.h"
#include "model/config_keys.h"
#include "model/model_impl.h"

namespace attnscope::detail {

// What the Hugging Face loader does to a tensor to get the canonical (GGUF converter) layout.
enum class HfTransform {
  None,
  PermuteQ,   // rotate-half rows -> interleaved pairs, per q head (llama.cpp's convert permute())
  PermuteK,   // the same per kv head
  Transpose,  // GPT-2 Conv1D [in, out] -> [out, in]
  PlusOne,    // Gemma RMSNorm: HF computes x * (1 + w); canonical (GGUF) stores 1 + w
  NeoxQkv,    // GPT-NeoX fused qkv rows per head [q_h; k_h; v_h] -> [q; k; v]
};

// Where the binder puts a weight (src/model/bind.cpp): its field in the per-layer struct (rows
// whose name has "{L}") or in the model's, so a row is all the binder needs; std::monostate for a
// fused tensor that is split into parts. The field's type follows the weight's rank: StoredWeight
// for a matrix, float32 Tensor for a vector (see Model::Impl).
using WeightField = std::variant<std::monostate, const Tensor * LayerWeights::*, const StoredWeight * LayerWeights::*,
                                 const Tensor * ModelWeights::*, const StoredWeight * ModelWeights::*>;

// A fused tensor's rows split into canonical parts at bind time (views, no copy).
enum class Split {
  None,
  Qkv,     // blk.L.attn_qkv -> attn_q [H*Dh], attn_k [Hkv*Dh], attn_v [Hkv*Dh] rows
  GateUp,  // blk.L.ffn_up [2F] -> ffn_gate (first F rows), ffn_up (last F)
};

struct WeightSpec {
  std::string gguf;  // canonical name; "{L}" stands for the layer number
  std::string hf;    // Hugging Face name ("{L}" likewise); empty: never in an HF file by itself
  Shape shape;       // after the HF transform
  bool required = true;
  WeightField field;  // empty: not bound by itself (a fused tensor)
  HfTransform hf_transform = HfTransform::None;
  Split split = Split::None;
};

struct ArchSpec {
  const char* name;                     // ModelConfig::arch of models it reads (the default)
  std::vector<std::string> gguf_names;  // general.architecture values it accepts
  std::vector<std::string> hf_names;    // config.json "architectures" / "model_type" values
  // ModelConfig from GGUF metadata (keys under the file's architecture prefix) or config.json.
  void (*from_gguf)(const GgufKeys& keys, ModelConfig& c);
  void (*from_hf)(const JsonKeys& keys, ModelConfig& c);
  // The weight table for a config (shapes and required-ness depend on it).
  std::vector<WeightSpec> (*weights)(const ModelConfig& c);
  ForwardFn forward;
  std::vector<std::string> hf_ignored;  // suffixes of HF tensors that are not weights (buffers)
  std::string hf_optional_prefix;       // a prefix some HF checkpoints put before the names
};

// Every family attnscope runs (src/model/arch_registry.cpp).
const std::vector<const ArchSpec*>& all_archs();
// The family of a GGUF general.architecture / an HF architectures[0] or model_type, or of a
// loaded config (by ModelConfig::arch). Unsupported naming it and the supported ones otherwise.
const ArchSpec& arch_for_gguf(const std::string& name, const std::string& where);
const ArchSpec& arch_for_hf(const std::string& architecture, const std::string& model_type, const std::string& where);
const ArchSpec& arch_of(const ModelConfig& c);

// "{L}" in a table name replaced by the layer.
std::string layer_name(const std::string& pattern, int layer);

// The rows shared by the families that keep Llama's Hugging Face names (model.layers.L.self_attn.
// q_proj, ...). Optional rows (biases, q/k norms, post norms, fused tensors) are added by each
// family: see arch_qwen3.cpp for a short example.
std::vector<WeightSpec> llama_layout_weights(const ModelConfig& c, HfTransform q_transform = HfTransform::None,
                                             HfTransform k_transform = HfTransform::None);

// Qwen2's and Qwen3's sliding-window layers (src/model/arch_qwen2.cpp).
// transformers (Qwen2Config / Qwen3Config): sliding_window = sliding_window if use_sliding_window
// else None (default 4096, use_sliding_window False); layer_types, when given, decides which
// layers are "sliding_attention", else layer i is when sliding_window is not None and
// i >= max_window_layers (default 28). The attention of a sliding layer uses the window only when
// sliding_window is not None. Sets c.sliding_window (0: none) and c.layer_sliding.
void qwen_sliding_layers(const JsonKeys& k, ModelConfig& c);

// The forward pass every family here uses: pre/post/no norms, serial or parallel residual,
// gated or plain MLP, RoPE or learned positions, as ModelConfig says (src/model/forward.cpp).
void forward_transformer(const Model::Impl& m, const ForwardInput& in, const HookRunner& hooks, Trace& out);

}  // namespace attnscope::detail
