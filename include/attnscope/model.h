// Model: configuration (architecture as data), weights, tokenizer, and the forward pass.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/tokenizer.h"
#include "attnscope/trace.h"

namespace attnscope {

enum class ArchFamily { Llama, Gpt2 };
// Interleaved: RoPE rotates pairs (2i, 2i+1) (GGUF / llama.cpp "normal" layout).
// NeoX: RoPE rotates (i, i + rope_dim/2) (Hugging Face rotate_half; qwen2 in GGUF).
enum class RopeLayout { Interleaved, NeoX };
enum class NormKind { RMSNorm, LayerNorm };
enum class Activation { SwiGLU, GeluTanh };

struct ModelConfig {
  std::string arch;   // "llama", "mistral", "qwen2", "gpt2" (GGUF general.architecture)
  std::string name;   // general.name or the checkpoint's name
  ArchFamily family = ArchFamily::Llama;
  int n_vocab = 0, n_ctx = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0;
  int head_dim = 0, n_ff = 0;
  int rope_dim = 0;              // dimensions rotated per head (<= head_dim)
  float rope_base = 10000.0f;
  RopeLayout rope_layout = RopeLayout::Interleaved;
  std::vector<float> rope_freq_factors;  // llama3 scaling: per-frequency divisors (empty: none)
  float norm_eps = 1e-5f;
  NormKind norm = NormKind::RMSNorm;
  Activation act = Activation::SwiGLU;
  bool qkv_bias = false;         // qwen2, gpt2
  bool out_bias = false;         // gpt2 (attention output and MLP biases)
  bool tied_embeddings = false;  // output head is token_embd
};

struct LoadOptions {
  std::string tokenizer;  // another tokenizer source (path) for checkpoints without one
  int threads = 0;        // 0: all cores
  // Compute precision. "float32": weights decoded to float32 once at load and every product in
  // float32 (the exact reference path). "bfloat16": weights stay as stored (memory-mapped where
  // the file allows) and products run in bfloat16 / int8 where the CPU has fast instructions for
  // them. "auto": float32 while the decoded weights fit in 1 GiB, bfloat16 above.
  std::string dtype = "auto";
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
  // When set, captured values go here as soon as the forward pass produces them (layer by layer)
  // instead of into the returned Trace: long prompts never hold every pattern in memory.
  CaptureSink capture_sink;
};

struct GenerateOptions {
  int max_tokens = 64;
  std::vector<std::string> capture;  // patterns captured during generation grow row by row
  std::vector<int> layers;
  bool stop_at_eos = true;
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
