// Model: configuration (architecture as data), weights, tokenizer, and the forward pass.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/tokenizer.h"
#include "attnscope/trace.h"

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
  std::string arch;   // the family: "llama", "mistral", "qwen2", "gpt2", ... (arch_*.cpp)
  std::string name;   // general.name or the checkpoint's name
  int n_vocab = 0, n_ctx = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0;
  int head_dim = 0, n_ff = 0;
  int rope_dim = 0;              // dimensions rotated per head (<= head_dim); 0: no RoPE
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
  bool qkv_bias = false;         // qwen2, gpt2, gptneox
  bool out_bias = false;         // gpt2, gptneox: attention output and MLP biases
  bool tied_embeddings = false;  // output head is token_embd
  bool pre_norms = true;         // norms before attention and MLP (OLMo-2 has none)
  bool post_norms = false;       // norms on the attention and MLP outputs (Gemma 2/3, OLMo-2)
  bool parallel_residual = false;  // x + attn(ln1(x)) + mlp(ln2(x)) (GPT-NeoX)
  bool learned_positions = false;  // position_embd added to the token embedding (GPT-2)
  float embed_scale = 1.0f;      // token embeddings multiplied by this (Gemma: sqrt(n_embd))
  float attn_scale = 0.0f;       // q.k multiplier; 0: 1/sqrt(head_dim)
  float attn_softcap = 0.0f;     // scores -> cap * tanh(scores / cap) before the softmax; 0: off
  float final_softcap = 0.0f;    // the same on the logits
  int sliding_window = 0;        // keys further back than this get no weight (0: none)
  std::vector<bool> layer_sliding;  // which layers use the window (empty: all, when it is set)
  std::vector<std::string> assumed;  // defaults assumed because the file did not say (attnscope info)
};

// What makes this model's architecture particular, one short line each ("attention soft-cap 50",
// "sliding window 4096 on layers 0, 2, ...", "parallel residual", "assumed: ..."), for `attnscope info`.
std::vector<std::string> architecture_features(const ModelConfig& config);
// "swiglu", "geglu_tanh", "gelu_tanh", "gelu_erf".
const char* activation_name(Activation act);

struct LoadOptions {
  std::string tokenizer;  // another tokenizer source (path) for checkpoints without one
  int threads = 0;        // 0: all cores
  // Compute precision. "float32": weights decoded to float32 once at load and every product in
  // float32 (the exact reference path). "bfloat16": weights stay as stored (held as `mmap`
  // says) and products run in bfloat16 / int8 where the CPU has fast instructions for them.
  // "auto": float32 while the decoded weights fit in 1 GiB, bfloat16 above.
  std::string dtype = "auto";
  // How stored weights are held (FileBacking in tensor.h; llama.cpp's use_mmap): false reads
  // them into this process's memory when they fit in 3/4 of the memory available (else maps
  // them); true maps the file: opens at once and shares its pages with other processes, but
  // on some virtual machines two threads then generate slower than one (bench/README.md).
  // float32 loads decode every weight at load either way.
  bool mmap = false;
};

struct RunOptions {
  std::vector<std::string> capture;  // hook names / aliases / globs to keep
  std::vector<int> layers;           // restrict captured per-layer hooks to these (empty: all)
  std::vector<Intervention> interventions;
  bool return_logits = true;
  // Logits for the last position only ([B, 1, V]): the output head is the costliest product of a
  // short prompt, and next-token predictions need only that row. Ignored while a hook on
  // "logits" needs every position.
  bool last_logits_only = false;
  bool add_bos = true;  // for the text overloads: prepend BOS if the tokenizer's rules say so
  // TransformerLens' start_at_layer: run layers start_at_layer.. only, from `residual` (the
  // stream blocks.<start_at_layer>.hook_resid_pre, [B, T, D] or [1, T, D] broadcast over the
  // batch) instead of the embeddings. The token ids still give positions (and str_tokens).
  int start_at_layer = 0;
  Tensor residual;
  // When set, captured values go here as soon as the forward pass produces them (layer by layer)
  // instead of into the returned Trace: long prompts never hold every pattern in memory.
  CaptureSink capture_sink;
  // run_batch with prompts of different lengths: where the pads go (see Trace::padding).
  Padding padding = Padding::Right;
};

struct GenerateOptions {
  int max_tokens = 64;
  std::vector<std::string> capture;  // patterns captured during generation grow row by row
  std::vector<int> layers;
  bool stop_at_eos = true;
  // Sampling. temperature 0 (or top_k 1) is greedy: the highest logit, the first on ties.
  // Otherwise softmax(logits / temperature) over the top_k highest tokens (0: all), cut to the
  // smallest set of the highest whose probability reaches top_p (nucleus sampling, Holtzman et
  // al. 2020; 1: no cut), renormalised. The same seed gives the same tokens on every platform.
  double temperature = 0.0;
  int top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
};
struct Generation {
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> new_tokens;
  std::string text;  // decoded new tokens
  Trace trace;       // captures span prompt + generated tokens
};

class Model {
 public:
  // A GGUF file, a Hugging Face checkpoint directory, "org/name[@rev]" from the hub, or
  // "attnscope:toy". Errors name what failed.
  static Model load(const std::string& path_or_name, const LoadOptions& options = {});

  const ModelConfig& config() const;
  // "float32" or "bfloat16": how this model computes (LoadOptions::dtype after "auto").
  std::string dtype() const;
  bool has_tokenizer() const;
  const Tokenizer& tokenizer() const;  // InvalidArgument if the model has none
  std::string source() const;          // what it was loaded from
  int64_t parameter_count() const;     // elements of its weights, each once (a tied head is the embedding)

  std::vector<int32_t> encode(std::string_view text, bool add_bos = true) const;
  Trace run(std::string_view text, const RunOptions& options = {}) const;
  Trace run(const std::vector<int32_t>& ids, const RunOptions& options = {}) const;
  // Several equal-length sequences at once; each row gets what it would get alone.
  Trace run_batch(const std::vector<std::vector<int32_t>>& ids, const RunOptions& options = {}) const;
  Generation generate(std::string_view prompt, const GenerateOptions& options = {}) const;
  Generation generate(const std::vector<int32_t>& prompt, const GenerateOptions& options = {}) const;

  // Every hook point this model has, in forward order.
  std::vector<std::string> hook_names() const;

  struct Impl;
  explicit Model(std::shared_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

// Sets the number of threads used by the forward pass (0: all cores).
void set_num_threads(int n);

}  // namespace attnscope
