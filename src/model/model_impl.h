// What a loaded model is inside: configuration, weights by canonical name (one container each),
// bound into per-layer structs, tokenizer, and the forward function of its family. Loaders (GGUF, HF)
// fill config and weights and call finalize_model(), which checks every weight against the family's
// table, binds them and picks the forward. Private to the library.
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/tensor.h"
#include "attnscope/tokenizer.h"
#include "attnscope/trace.h"
#include "model/weights.h"

namespace attnscope {

namespace detail {
class HookRunner;
struct KVCache;
struct RowSpans;

// One forward call: B equal-length rows of token ids. With a cache, the rows continue the
// sequences already in it (positions start at cache->n_past) and their keys/values are appended.
struct ForwardInput {
  const std::vector<std::vector<int32_t>>* ids = nullptr;
  KVCache* cache = nullptr;
  bool want_logits = true;        // compute trace.logits ([B, T, V])
  bool last_logits_only = false;  // ... only for the last position ([B, 1, V]; generation)
  // TransformerLens' start_at_layer: begin at this layer with `residual` ([B, T, D]) as its
  // hook_resid_pre instead of the embeddings.
  int start_layer = 0;
  const Tensor* residual = nullptr;
  const RowSpans* spans = nullptr;  // a ragged batch (model/ragged.h): where each row's real tokens are
};
using ForwardFn = void (*)(const Model::Impl& model, const ForwardInput& in, const HookRunner& hooks, Trace& out);
}  // namespace detail

// Weights are kept under GGUF's names with the ".weight"/".bias" suffix, every matrix row-major
// [out, in] (= GGUF shape() = nn.Linear layout), in llama.cpp's converter layout (q/k rows in the
// order config.rope_layout says; Gemma norms as 1 + w; fused tensors split into attn_q/attn_k/
// attn_v and ffn_gate/ffn_up views). The family tables (src/model/arch_*.cpp) list every name.
//
// Each weight lives in exactly one of two maps, by its rank: every matrix (q/k/v/o, MLP, embedding,
// head, learned positions) in `matrices` as a StoredWeight, in its stored type or as F32 (one of
// StoredWeight's types) for the float32 dtype; every vector (norm weights, biases) in `weights` as
// a float32 Tensor. Why not one map of StoredWeights: the vectors are small and are read as plain
// float arrays by the norm and bias kernels, so wrapping them would add a cast or a decode at every
// use for nothing; why not float32 Tensors for matrices: a stored matrix is never expanded whole.
// The loaders put a name in either map; finalize_model moves a float32 matrix, once, into
// `matrices` (sharing its storage), and the structs in `bound` point into the maps: they are the
// only way in for the forward and the analysis code, which decodes the rows it needs when it needs
// them (nothing decoded is kept).
struct Model::Impl {
  ModelConfig config;
  std::map<std::string, Tensor> weights;         // vectors, float32
  std::map<std::string, StoredWeight> matrices;  // matrices, in their stored type
  ComputeDtype dtype = ComputeDtype::Float32;
  detail::ModelWeights bound;                  // pointers into `weights` / `matrices`, set by finalize_model
  std::shared_ptr<const Tokenizer> tokenizer;  // may be null
  std::string source;                          // what it was loaded from
  // Type names of the matrices as the file stores them ("Q4_K", "F16", ...), whatever dtype the
  // model computes in: a float32 load decodes them, and the fidelity warning still needs to know
  // the file was quantised. Filled by the GGUF loader; empty means "as in `matrices`".
  std::set<std::string> stored_types;
  int threads = 0;  // LoadOptions::threads: this model's runs use it (0: set_num_threads' default)
  std::vector<std::shared_ptr<const void>> keepalive;  // e.g. file mappings behind weight views
  detail::ForwardFn forward = nullptr;                 // set by finalize_model
};

namespace detail {

// Checks the config and every weight the family's table lists (Format error naming the tensor and
// both shapes), splits fused tensors, binds the weights into impl.bound and sets impl.forward
// (src/model/bind.cpp). Call at the end of every loader.
void finalize_model(Model::Impl& impl);

// Checks a batch of prompts against the model (non-empty, within n_ctx, ids in the vocabulary):
// InvalidArgument naming the prompt and position otherwise. Rows may differ in length (a ragged
// batch) unless equal_lengths.
void check_prompt_batch(const Model::Impl& impl, const std::vector<std::vector<int32_t>>& ids,
                        bool equal_lengths = false);
// trace.tokens / trace.str_tokens for these rows.
void fill_trace_tokens(const Model::Impl& impl, const std::vector<std::vector<int32_t>>& ids, Trace& trace);

// What the forward ends with and the logit lens applies (src/model/forward.cpp): the final norm
// (hidden [.., D] -> normalised [.., D]) and the output head with the final soft-cap
// (normalised rows [rows, D] -> logits [rows, V]).
Tensor final_norm(const Model::Impl& m, const Tensor& hidden);
void output_head(const Model::Impl& m, const float* normalized, int64_t rows, float* logits);

// The forward over `ids` [B, T] in chunks of `chunk` tokens through a KV cache of T positions
// (src/model/chunked_prefill.cpp): `in` gives the other inputs (logits wanted ...); captures and
// logits are joined into `trace` as one pass gives them.
void run_chunked(const Model::Impl& m, const std::vector<std::vector<int32_t>>& ids, int64_t chunk,
                 const ForwardInput& in, const HookRunner& hooks, Trace& trace);

}  // namespace detail
}  // namespace attnscope
