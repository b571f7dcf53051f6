// finalize_model: the one check of a loaded model against its family's weight table, and the
// binding of its weights into per-layer structs (no name lookups in the forward afterwards).
#include <cmath>
#include <variant>

#include "attnscope/error.h"
#include "model/arch.h"
#include "model/model_impl.h"

namespace attnscope::detail {

namespace {

std::string shape_str(const Shape& s) { return Tensor::view(s, nullptr, nullptr).shape_str(); }

void check_config(const Model::Impl& impl) {
  const ModelConfig& c = impl.config;
  if (c.n_layer <= 0 || c.n_embd <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.head_dim <= 0 || c.n_vocab <= 0 ||
      c.n_ff <= 0)
    fail(ErrorKind::Format, impl.source + ": model dimensions must be positive");
  if (c.n_head % c.n_head_kv != 0) fail(ErrorKind::Format, impl.source + ": n_head is not a multiple of n_head_kv");
  if (c.rope_dim < 0 || c.rope_dim > c.head_dim || c.rope_dim % 2)
    fail(ErrorKind::Format, impl.source + ": rope dimension must be even and at most head_dim");
  if (!c.rope_freq_factors.empty() && static_cast<int>(c.rope_freq_factors.size()) != c.rope_dim / 2)
    fail(ErrorKind::Format, impl.source + ": rope frequency factors must have rope_dim/2 entries");
  if (!c.rope_freq_factors_long.empty() && static_cast<int>(c.rope_freq_factors_long.size()) != c.rope_dim / 2)
    fail(ErrorKind::Format, impl.source + ": long rope frequency factors must have rope_dim/2 entries");
  if (!c.layer_sliding.empty() && static_cast<int>(c.layer_sliding.size()) != c.n_layer)
    fail(ErrorKind::Format, impl.source + ": the sliding-window layer pattern must have one entry per layer");
  if (c.sliding_window < 0 || c.attn_softcap < 0 || c.final_softcap < 0 || !std::isfinite(c.attn_scale) ||
      !(c.embed_scale > 0))
    fail(ErrorKind::Format, impl.source + ": negative window, soft-cap or scale");
}

// Rows [first, first + n) of a [R, ...] tensor as a view sharing its storage.
Tensor row_view(const Tensor& t, int64_t first, int64_t n) {
  Shape s = t.shape();
  const int64_t row = t.numel() / s[0];
  s[0] = n;
  return Tensor::view(s, t.data() + first * row, std::make_shared<Tensor>(t));
}

// Splits `fused` (a Tensor or a StoredWeight: both have row views) into its parts under `out`.
template <class T, class RowView>
void split_parts(const Model::Impl& impl, const std::string& name, Split split, const T& fused,
                 std::map<std::string, T>& out, const RowView& rows) {
  const ModelConfig& c = impl.config;
  const std::string stem = name.substr(0, name.rfind('.', name.size() - 1));  // "blk.L.attn_qkv"
  const std::string suffix = name.substr(stem.size());                        // ".weight" / ".bias"
  const std::string blk = stem.substr(0, stem.rfind('.') + 1);                // "blk.L."
  if (split == Split::Qkv) {
    const int64_t q = int64_t{c.n_head} * c.head_dim, kv = int64_t{c.n_head_kv} * c.head_dim;
    out[blk + "attn_q" + suffix] = rows(fused, 0, q);
    out[blk + "attn_k" + suffix] = rows(fused, q, kv);
    out[blk + "attn_v" + suffix] = rows(fused, q + kv, kv);
  } else {
    const int64_t f = c.n_ff;
    out[blk + "ffn_gate" + suffix] = rows(fused, 0, f);
    out[blk + "ffn_up" + suffix] = rows(fused, f, f);
  }
}

void split_fused(Model::Impl& impl, const std::string& name, Split split) {
  if (auto it = impl.weights.find(name); it != impl.weights.end()) {
    const Tensor fused = it->second;
    impl.weights.erase(it);
    split_parts(impl, name, split, fused, impl.weights, row_view);
  } else if (auto m = impl.matrices.find(name); m != impl.matrices.end()) {
    const StoredWeight fused = m->second;
    impl.matrices.erase(m);
    split_parts(impl, name, split, fused, impl.matrices,
                [](const StoredWeight& w, int64_t r0, int64_t n) { return w.row_slice(r0, n); });
  }
}

// A weight's shape in whichever map holds it, without decoding; empty if absent.
Shape weight_shape(const Model::Impl& impl, const std::string& name) {
  if (auto t = impl.weights.find(name); t != impl.weights.end()) return t->second.shape();
  auto m = impl.matrices.find(name);
  return m == impl.matrices.end() ? Shape{} : m->second.shape();
}

// A matrix is kept as a StoredWeight (model_impl.h): a float32 one loaded as a Tensor moves, once,
// into `matrices` as an F32 StoredWeight sharing its storage, so it stays in exactly one map.
const StoredWeight* bind_matrix(Model::Impl& impl, const std::string& name) {
  auto m = impl.matrices.find(name);
  if (m == impl.matrices.end()) {
    auto t = impl.weights.find(name);
    if (t->second.ndim() != 2) fail(ErrorKind::Format, impl.source + ": weight '" + name + "' is not a matrix");
    m = impl.matrices.emplace(name, StoredWeight::from_tensor(t->second)).first;
    impl.weights.erase(t);
  }
  m->second.compute = impl.dtype;
  return &m->second;
}

// A vector is a float32 Tensor (the loaders keep every 1-d weight so; the table's shape check
// has made sure this name is one).
const Tensor* bind_tensor(Model::Impl& impl, const std::string& name) {
  auto t = impl.weights.find(name);
  if (t == impl.weights.end() || t->second.ndim() != 1)
    fail(ErrorKind::Unsupported, "weight table of " + impl.config.arch + ": " + name + " is bound as a vector");
  return &t->second;
}

// Sets the field a table row points at, for one name (of layer `layer`, or -1 for a model-wide
// weight), to the weight or to null when it is absent.
struct BindField {
  Model::Impl& impl;
  ModelWeights& bound;
  const std::string& name;
  int layer;
  bool present;

  void operator()(std::monostate) const {}
  void operator()(const Tensor* LayerWeights::*f) const { in_layer().*f = present ? bind_tensor(impl, name) : nullptr; }
  void operator()(const StoredWeight* LayerWeights::*f) const {
    in_layer().*f = present ? bind_matrix(impl, name) : nullptr;
  }
  void operator()(const Tensor* ModelWeights::*f) const { in_model().*f = present ? bind_tensor(impl, name) : nullptr; }
  void operator()(const StoredWeight* ModelWeights::*f) const {
    in_model().*f = present ? bind_matrix(impl, name) : nullptr;
  }
  LayerWeights& in_layer() const {
    if (layer < 0) wrong_kind();
    return bound.layers[static_cast<size_t>(layer)];
  }
  ModelWeights& in_model() const {
    if (layer >= 0) wrong_kind();
    return bound;
  }
  [[noreturn]] void wrong_kind() const {
    fail(ErrorKind::Unsupported, "weight table of " + impl.config.arch + ": " + name +
                                     (layer < 0 ? " has no layer but a per-layer field" : " has a model-wide field"));
  }
};

AttentionDesc attention_desc(const ModelConfig& c, int l) {
  AttentionDesc a;
  a.scale = c.attn_scale != 0.0f ? c.attn_scale : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  a.softcap = c.attn_softcap;
  const bool sliding = c.sliding_window > 0 && (c.layer_sliding.empty() || c.layer_sliding[static_cast<size_t>(l)]);
  a.window = sliding ? c.sliding_window : 0;
  a.rope_dim = c.rope_dim;
  const bool local_rope = sliding && c.rope_base_local > 0;
  a.rope_base = local_rope ? c.rope_base_local : c.rope_base;
  a.rope_scaled = !local_rope;
  return a;
}

}  // namespace

void finalize_model(Model::Impl& impl) {
  check_config(impl);
  const ModelConfig& c = impl.config;
  const ArchSpec& arch = arch_of(c);
  const std::vector<WeightSpec> table = arch.weights(c);
  auto for_each_name = [&](const WeightSpec& w, auto&& fn) {
    const bool per_layer = w.gguf.find("{L}") != std::string::npos;
    for (int l = 0; l < (per_layer ? c.n_layer : 1); ++l) fn(layer_name(w.gguf, l), per_layer ? l : -1);
  };
  // Shapes are checked without decoding stored matrices.
  auto check = [&](const WeightSpec& w, const std::string& name) -> bool {
    const Shape have = weight_shape(impl, name);
    if (have.empty()) {
      if (w.required) fail(ErrorKind::Format, impl.source + ": weight '" + name + "' is missing");
      return false;
    }
    if (have != w.shape)
      fail(ErrorKind::Format,
           impl.source + ": weight '" + name + "' has shape " + shape_str(have) + ", expected " + shape_str(w.shape));
    return true;
  };
  // Fused tensors first: split into the parts the rest of the table lists (views). A file that
  // stores the parts separately (or a fused name with the part's shape, as an unfused ffn_up)
  // is left to the parts' own checks.
  for (const WeightSpec& w : table)
    if (w.split != Split::None)
      for_each_name(w, [&](const std::string& name, int) {
        if (weight_shape(impl, name) == w.shape) split_fused(impl, name, w.split);
      });

  ModelWeights bound;
  bound.layers.resize(static_cast<size_t>(c.n_layer));
  for (const WeightSpec& w : table) {
    if (std::holds_alternative<std::monostate>(w.field)) continue;
    for_each_name(w, [&](const std::string& name, int l) {
      std::visit(BindField{impl, bound, name, l, check(w, name)}, w.field);
    });
  }
  if (c.tied_embeddings || !bound.output) bound.output = bound.token_embd;
  for (int l = 0; l < c.n_layer; ++l) {
    bound.layers[static_cast<size_t>(l)].attn = attention_desc(c, l);
    bound.layers[static_cast<size_t>(l)].attn.fast_exp = impl.dtype == ComputeDtype::BFloat16;
  }
  impl.bound = std::move(bound);
  impl.forward = arch.forward;
  if (impl.tokenizer && impl.tokenizer->vocab_size() > c.n_vocab)
    fail(ErrorKind::Format, impl.source + ": tokenizer has " + std::to_string(impl.tokenizer->vocab_size()) +
                                " tokens but the model only " + std::to_string(c.n_vocab));
}

}  // namespace attnscope::detail
