// What a loaded model is inside: configuration, weights by canonical name, tokenizer, and the
// forward function of its family. Loaders (GGUF here, safetensors/config.json in the hf loader)
// fill one of these and hand it to finalize_model(), which checks every weight against the
// config and picks the forward function. Private to the library.
#pragma once
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/tensor.h"
#include "attnscope/tokenizer.h"
#include "attnscope/trace.h"
#include "tensor/stored_weight.h"

namespace attnscope {

namespace detail {
class HookRunner;
struct KVCache;

// One forward call: B equal-length rows of token ids. With a cache, the rows continue the
// sequences already in it (positions start at cache->n_past) and their keys/values are appended.
struct ForwardInput {
  const std::vector<std::vector<int32_t>>* ids = nullptr;
  KVCache* cache = nullptr;
  bool want_logits = true;        // compute trace.logits ([B, T, V])
  bool last_logits_only = false;  // ... only for the last position ([B, 1, V]; generation)
};
using ForwardFn = void (*)(const Model::Impl& model, const ForwardInput& in, const HookRunner& hooks,
                           Trace& out);
}  // namespace detail

// Weight names are GGUF's, with the ".weight"/".bias" suffix, every matrix row-major [out, in]
// (= GGUF shape() = nn.Linear layout), float32:
//   token_embd.weight [V, D]              output_norm.weight [D]     output.weight [V, D] (absent: tied)
//   blk.L.attn_norm.weight [D]            blk.L.ffn_norm.weight [D]
//   blk.L.attn_q.weight [H*Dh, D]         blk.L.attn_k.weight / attn_v.weight [Hkv*Dh, D]
//   blk.L.attn_{q,k,v}.bias (qkv_bias)    blk.L.attn_output.weight [D, H*Dh]
//   blk.L.ffn_gate.weight / ffn_up.weight [F, D]     blk.L.ffn_down.weight [D, F]
// q and k rows must be in the layout config.rope_layout says (the hf loader permutes HF q/k to
// Interleaved, or sets NeoX).
struct Model::Impl {
  ModelConfig config;
  std::map<std::string, Tensor> weights;
  // Matrices kept in their stored type (dtype bfloat16): not in `weights`; weight(name) decodes
  // one on first use (for analysis code) and keeps the copy.
  std::map<std::string, StoredWeight> matrices;
  ComputeDtype dtype = ComputeDtype::Float32;
  std::shared_ptr<const Tokenizer> tokenizer;  // may be null
  std::string source;                          // what it was loaded from
  std::vector<std::shared_ptr<const void>> keepalive;  // e.g. file mappings behind weight views
  detail::ForwardFn forward = nullptr;         // set by finalize_model (or the loader)

  const Tensor& weight(const std::string& name) const;  // NotFound naming the tensor
  const Tensor* find_weight(const std::string& name) const;
  // A matrix for products: the stored one, or a float32 view of weights[name].
  StoredWeight matrix(const std::string& name) const;
  // y[rows, out] (+)= x[rows, in] · W^T (+ bias) for matrix `name` in this model's dtype.
  void linear(const float* x, int64_t rows, const std::string& name, const float* bias, float* y,
              bool accumulate = false) const;
  Shape weight_shape(const std::string& name) const;  // without decoding; empty if absent

 private:
  mutable std::mutex decoded_mutex_;
  mutable std::map<std::string, Tensor> decoded_;  // weight() of stored matrices
 public:
};

namespace detail {

// Checks that every weight the family needs exists with the shape the config implies (Format
// error naming the tensor otherwise) and sets impl.forward for ArchFamily::Llama when it is
// still null. Call at the end of every loader.
void finalize_model(Model::Impl& impl);

// Checks a batch of prompts against the model (non-empty, equal lengths, within n_ctx, ids in the
// vocabulary): InvalidArgument naming the prompt and position otherwise.
void check_prompt_batch(const Model::Impl& impl, const std::vector<std::vector<int32_t>>& ids);
// trace.tokens / trace.str_tokens for these rows.
void fill_trace_tokens(const Model::Impl& impl, const std::vector<std::vector<int32_t>>& ids, Trace& trace);

// The forward pass of the Llama family (llama, mistral, qwen2, SmolLM, the toy model).
void forward_llama(const Model::Impl& model, const ForwardInput& in, const HookRunner& hooks, Trace& out);

}  // namespace detail
}  // namespace attnscope
