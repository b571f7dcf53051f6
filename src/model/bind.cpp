// finalize_model: the one check of a loaded model against its family's weight table, and the
// binding of its weights into per-layer structs (no name lookups in the forward afterwards).
#include <cmath>

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

// The matrix bound for products under `name`: the stored one, or a float32 view of the tensor,
// multiplied in the model's dtype. Null if there is neither.
const WeightMatrix* bind_matrix(Model::Impl& impl, const std::string& name) {
  auto m = impl.matrices.find(name);
  if (m == impl.matrices.end()) {
    auto t = impl.weights.find(name);
    if (t == impl.weights.end()) return nullptr;
    if (t->second.ndim() != 2) fail(ErrorKind::Format, impl.source + ": weight '" + name + "' is not a matrix");
    m = impl.matrices.emplace(name, StoredWeight::from_tensor(t->second)).first;
  }
  m->second.compute = impl.dtype;
  return &m->second;
}

const Tensor** global_slot(ModelWeights& w, Slot s) {
  switch (s) {
    case Slot::PositionEmbd: return &w.position_embd;
    case Slot::OutputNorm: return &w.output_norm;
    case Slot::OutputNormB: return &w.output_norm_b;
    default: return nullptr;
  }
}

const WeightMatrix** global_matrix_slot(ModelWeights& w, Slot s) {
  switch (s) {
    case Slot::TokenEmbd: return &w.token_embd;
    case Slot::Output: return &w.output;
    default: return nullptr;
  }
}

const WeightMatrix** layer_matrix_slot(LayerWeights& w, Slot s) {
  switch (s) {
    case Slot::Q: return &w.wq;
    case Slot::K: return &w.wk;
    case Slot::V: return &w.wv;
    case Slot::O: return &w.wo;
    case Slot::Gate: return &w.gate;
    case Slot::Up: return &w.up;
    case Slot::Down: return &w.down;
    default: return nullptr;
  }
}

const Tensor** layer_slot(LayerWeights& w, Slot s) {
  switch (s) {
    case Slot::AttnNorm: return &w.attn_norm;
    case Slot::AttnNormB: return &w.attn_norm_b;
    case Slot::FfnNorm: return &w.ffn_norm;
    case Slot::FfnNormB: return &w.ffn_norm_b;
    case Slot::PostAttnNorm: return &w.post_attn_norm;
    case Slot::PostFfnNorm: return &w.post_ffn_norm;
    case Slot::QNorm: return &w.q_norm;
    case Slot::KNorm: return &w.k_norm;
    case Slot::QBias: return &w.bq;
    case Slot::KBias: return &w.bk;
    case Slot::VBias: return &w.bv;
    case Slot::OBias: return &w.bo;
    case Slot::UpBias: return &w.b_up;
    case Slot::DownBias: return &w.b_down;
    default: return nullptr;
  }
}

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
    const Shape have = impl.weight_shape(name);
    if (have.empty()) {
      if (w.required) fail(ErrorKind::Format, impl.source + ": weight '" + name + "' is missing");
      return false;
    }
    if (have != w.shape)
      fail(ErrorKind::Format, impl.source + ": weight '" + name + "' has shape " + shape_str(have) + ", expected " +
                                  shape_str(w.shape));
    return true;
  };
  // Fused tensors first: split into the parts the rest of the table lists (views). A file that
  // stores the parts separately (or a fused name with the part's shape, as an unfused ffn_up)
  // is left to the parts' own checks.
  for (const WeightSpec& w : table)
    if (w.split != Split::None)
      for_each_name(w, [&](const std::string& name, int) {
        if (impl.weight_shape(name) == w.shape) split_fused(impl, name, w.split);
      });

  ModelWeights bound;
  bound.layers.resize(static_cast<size_t>(c.n_layer));
  for (const WeightSpec& w : table) {
    if (w.slot == Slot::None) continue;
    for_each_name(w, [&](const std::string& name, int l) {
      const bool present = check(w, name);
      LayerWeights* layer = l < 0 ? nullptr : &bound.layers[static_cast<size_t>(l)];
      if (const WeightMatrix** ms = layer ? layer_matrix_slot(*layer, w.slot) : global_matrix_slot(bound, w.slot)) {
        *ms = present ? bind_matrix(impl, name) : nullptr;
        return;
      }
      const Tensor** slot = layer ? layer_slot(*layer, w.slot) : global_slot(bound, w.slot);
      if (!slot) fail(ErrorKind::Unsupported, "weight table of " + c.arch + ": " + w.gguf + " has a slot of the wrong kind");
      *slot = present ? impl.find_weight(name) : nullptr;  // (decodes a stored tensor bound as a Tensor)
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
