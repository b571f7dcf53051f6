// Reads weights through Model::Impl::bound, the per-layer structs the forward uses (see
// head_weights.h): no names, and matrices decoded only in the rows asked for.
#include "model/head_weights.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "attnscope/error.h"
#include "model/model_impl.h"

namespace attnscope::detail {

namespace {

void check_layer_head(const ModelConfig& c, int layer, int head) {
  if (layer < 0 || layer >= c.n_layer)
    fail(ErrorKind::InvalidArgument,
         "layer " + std::to_string(layer) + " does not exist (the model has " + std::to_string(c.n_layer) + " layers)");
  if (head < 0 || head >= c.n_head)
    fail(ErrorKind::InvalidArgument, "head " + std::to_string(head) + " does not exist (the model has " +
                                         std::to_string(c.n_head) + " heads per layer)");
}

const LayerWeights& layer_weights(const Model& model, int layer) {
  const Model::Impl& m = model.impl();
  check_layer_head(m.config, layer, 0);
  return m.bound.layers[static_cast<size_t>(layer)];
}

// Rows [row0, row0 + Dh) of a row-major [out, D] matrix, decoded and transposed to [D, Dh].
Tensor rows_transposed(const StoredWeight& w, int64_t row0, int64_t Dh) {
  const int64_t D = w.cols;
  std::vector<float> rows(static_cast<size_t>(Dh * D));
  w.dequantize_rows(row0, Dh, rows.data());
  Tensor t({D, Dh});
  for (int64_t r = 0; r < Dh; ++r)
    for (int64_t d = 0; d < D; ++d) t.data()[d * Dh + r] = rows[static_cast<size_t>(r * D + d)];
  return t;
}

Tensor slice_vector(const Tensor* b, int64_t off, int64_t n) {
  if (!b) return {};
  Tensor t({n});
  std::memcpy(t.data(), b->data() + off, sizeof(float) * static_cast<size_t>(n));
  return t;
}

Tensor copy_or_empty(const Tensor* t) { return t ? t->clone() : Tensor(); }

}  // namespace

HeadWeights head_weights(const Model& model, int layer, int head) {
  return head_weights(model, layer, head, attn_output_matrix(model, layer));
}

HeadWeights head_weights(const Model& model, int layer, int head, const Tensor& wo) {
  const ModelConfig& c = model.config();
  check_layer_head(c, layer, head);
  const LayerWeights& w = model.impl().bound.layers[static_cast<size_t>(layer)];
  const int64_t Dh = c.head_dim, H = c.n_head, Hkv = c.n_head_kv > 0 ? c.n_head_kv : c.n_head;
  HeadWeights hw;
  hw.layer = layer;
  hw.head = head;
  hw.kv_head = static_cast<int>(head / (H / Hkv));
  const int64_t qrow = head * Dh, kvrow = hw.kv_head * Dh;
  hw.W_Q = rows_transposed(*w.wq, qrow, Dh);
  hw.W_K = rows_transposed(*w.wk, kvrow, Dh);
  hw.W_V = rows_transposed(*w.wv, kvrow, Dh);
  hw.b_Q = slice_vector(w.bq, qrow, Dh);
  hw.b_K = slice_vector(w.bk, kvrow, Dh);
  hw.b_V = slice_vector(w.bv, kvrow, Dh);
  const int64_t qk_off = c.qk_norm == QkNorm::PerHead ? 0 : 1;  // Full: this head's slice
  hw.q_norm = slice_vector(w.q_norm, qk_off * qrow, Dh);
  hw.k_norm = slice_vector(w.k_norm, qk_off * kvrow, Dh);
  // attn_output [D, H*Dh]: the head's columns, as [Dh, D].
  const int64_t D = wo.dim(0), HD = wo.dim(1);
  hw.W_O = Tensor({Dh, D});
  for (int64_t r = 0; r < Dh; ++r)
    for (int64_t d = 0; d < D; ++d) hw.W_O.data()[r * D + d] = wo.data()[d * HD + qrow + r];
  return hw;
}

NormWeights attn_norm_weights(const Model& model, int layer) {
  const LayerWeights& w = layer_weights(model, layer);
  if (!w.attn_norm) {
    Tensor ones({model.config().n_embd});
    std::fill(ones.data(), ones.data() + ones.numel(), 1.0f);
    return {ones, Tensor()};
  }
  return {w.attn_norm->clone(), copy_or_empty(w.attn_norm_b)};
}

NormWeights post_attn_norm_weights(const Model& model, int layer) {
  return {copy_or_empty(layer_weights(model, layer).post_attn_norm), Tensor()};
}

NormWeights final_norm_weights(const Model& model) {
  const ModelWeights& w = model.impl().bound;
  return {w.output_norm->clone(), copy_or_empty(w.output_norm_b)};
}

Tensor attn_out_bias(const Model& model, int layer) { return copy_or_empty(layer_weights(model, layer).bo); }

Tensor unembed_row(const Model& model, int32_t token) {
  const StoredWeight& head = *model.impl().bound.output;  // the embedding when tied
  if (token < 0 || token >= head.rows)
    fail(ErrorKind::InvalidArgument,
         "token id " + std::to_string(token) + " is outside the vocabulary [0, " + std::to_string(head.rows) + ")");
  Tensor row({head.cols});
  head.dequantize_rows(token, 1, row.data());
  return row;
}

Tensor attn_output_matrix(const Model& model, int layer) { return layer_weights(model, layer).wo->to_tensor(); }

}  // namespace attnscope::detail
