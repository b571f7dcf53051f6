// Model: weights, tokenizer, and the forward pass. Its configuration (architecture as data) is in
// model_config.h.
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

// Only named here: code that reads a config includes attnscope/model_config.h itself, so a new
// config field (the usual change for a new family) rebuilds only that code.
struct ModelConfig;

struct LoadOptions {
  std::string tokenizer;  // another tokenizer source (path) for checkpoints without one
  int threads = 0;        // its load and runs use this many; 0: set_num_threads' default
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
  // Sees every layer's attention rows block by block (PatternObserver in trace.h), after every
  // intervention; not owned, must outlive the run.
  PatternObserver* pattern_observer = nullptr;
  // Prefill in chunks of this many tokens through a KV cache (0: one pass), so activations are
  // bounded by the chunk instead of the prompt: captures and logits come back as from one pass
  // (to float rounding; a bfloat16 model's cache rounds keys and values to bfloat16, see
  // generate()); a capture_sink receives each chunk's piece ([B, chunk, ...], [B, H, chunk, keys]
  // so far) as it is made. InvalidArgument with interventions (they would see chunks), start_at_layer or a
  // ragged batch.
  int prefill_chunk = 0;
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
  // Threads this model's runs use: LoadOptions::threads, else set_num_threads' default (read at
  // each run). A run's count is its own: other models and the caller's OpenMP setting are
  // untouched (src/tensor/threading.h).
  int threads() const;

  std::vector<int32_t> encode(std::string_view text, bool add_bos = true) const;
  // A token given as text (a target, a contrast token), as TransformerLens' to_single_token: the
  // one token encode(text, false) gives. InvalidArgument when the text is no token or several,
  // naming the tokens and the single tokens that spell it (Tokenizer::to_single_token); also
  // when the model has no tokenizer.
  int32_t to_single_token(std::string_view text) const;
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

// Final norm + output head applied to hidden states [.., D] -> logits [.., V] (the logit lens):
// the forward pass's own last steps (Gemma 2's final soft-cap included). InvalidArgument for a
// last dimension other than n_embd.
Tensor unembed(const Model& model, const Tensor& hidden, bool apply_final_norm = true);

// The process default thread count (0: all cores), used by models loaded with threads = 0 (at
// each of their runs) and by library calls made outside a model run. It changes no OpenMP
// setting and never overrides a model's own LoadOptions::threads.
void set_num_threads(int n);

}  // namespace attnscope
