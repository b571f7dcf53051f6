// ModelConfig: an architecture as data, and the small enums it uses. Its own header, apart from
// model.h (which only names it): adding a field, the usual change for a new family, rebuilds the
// code that reads configs, not everything that uses a Model.
#pragma once
#include <string>
#include <vector>

namespace attnscope {

// Interleaved: RoPE rotates pairs (2i, 2i+1) (GGUF / llama.cpp "normal" layout).
// NeoX: RoPE rotates (i, i + rope_dim/2) (Hugging Face rotate_half; every family but llama/mistral).
enum class RopeLayout { Interleaved, NeoX };
enum class NormKind { RMSNorm, LayerNorm };
// SwiGLU: down(silu(gate) * up); GeGLU: down(gelu_tanh(gate) * up) (Gemma's gelu_pytorch_tanh);
// GeluTanh / GeluErf: down(gelu(up)) with the tanh approximation (GPT-2's gelu_new) or exact erf
// (Pythia's gelu). All in fp32.
enum class Activation { SwiGLU, GeGLU, GeluTanh, GeluErf };
// Where q/k RMSNorm applies: per head over head_dim (Qwen3, Gemma 3) or over the whole
// projection before the head split (OLMo-2).
enum class QkNorm { None, PerHead, Full };

// An architecture as data. Every field is read by the forward pass (src/model/forward.cpp) or
// the loaders; the family tables in src/model/arch_*.cpp fill it from GGUF metadata or config.json.
struct ModelConfig {
  std::string arch;  // the family: "llama", "mistral", "qwen2", "gpt2", ... (arch_*.cpp)
  std::string name;  // general.name or the checkpoint's name
  int n_vocab = 0, n_ctx = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0;
  int head_dim = 0, n_ff = 0;
  int rope_dim = 0;  // dimensions rotated per head (<= head_dim); 0: no RoPE
  float rope_base = 10000.0f;
  float rope_base_local = 0.0f;  // base on sliding-window layers (Gemma 3); 0: rope_base
  RopeLayout rope_layout = RopeLayout::Interleaved;
  std::vector<float> rope_freq_factors;  // llama3/linear/longrope scaling: per-frequency divisors (empty: none)
  float rope_attn_factor = 1.0f;         // longrope: cos and sin multiplied by this
  // longrope (Phi-3): these divisors instead of rope_freq_factors once a sequence is longer than
  // rope_long_after positions (empty: none)
  std::vector<float> rope_freq_factors_long;
  int rope_long_after = 0;
  float norm_eps = 1e-5f;
  NormKind norm = NormKind::RMSNorm;
  Activation act = Activation::SwiGLU;
  QkNorm qk_norm = QkNorm::None;
  bool qkv_bias = false;             // qwen2, gpt2, gptneox
  bool out_bias = false;             // gpt2, gptneox: attention output and MLP biases
  bool tied_embeddings = false;      // output head is token_embd
  bool pre_norms = true;             // norms before attention and MLP (OLMo-2 has none)
  bool post_norms = false;           // norms on the attention and MLP outputs (Gemma 2/3, OLMo-2)
  bool parallel_residual = false;    // x + attn(ln1(x)) + mlp(ln2(x)) (GPT-NeoX)
  bool learned_positions = false;    // position_embd added to the token embedding (GPT-2)
  float embed_scale = 1.0f;          // token embeddings multiplied by this (Gemma: sqrt(n_embd))
  float attn_scale = 0.0f;           // q.k multiplier; 0: 1/sqrt(head_dim)
  float attn_softcap = 0.0f;         // scores -> cap * tanh(scores / cap) before the softmax; 0: off
  float final_softcap = 0.0f;        // the same on the logits
  int sliding_window = 0;            // keys further back than this get no weight (0: none)
  std::vector<bool> layer_sliding;   // which layers use the window (empty: all, when it is set)
  std::vector<std::string> assumed;  // defaults assumed because the file did not say (attnscope info)
};

// What makes this model's architecture particular, one short line each ("attention soft-cap 50",
// "sliding window 4096 on layers 0, 2, ...", "parallel residual", "assumed: ..."), for `attnscope info`.
std::vector<std::string> architecture_features(const ModelConfig& config);
// "swiglu", "geglu_tanh", "gelu_tanh", "gelu_erf".
const char* activation_name(Activation act);
// The config as a JSON object (text): arch, name, sizes, RoPE, norm, activation, biases, tied
// embeddings and architecture_features; what `attnscope info --json` and Python's model.config show.
std::string config_json(const ModelConfig& config);

}  // namespace attnscope
