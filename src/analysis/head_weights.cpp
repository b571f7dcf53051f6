// Reads weights by their canonical GGUF names through Model::Impl::weight() (see head_weights.h).
#include "analysis/head_weights.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "attnscope/error.h"
#include "model/model_impl.h"

namespace attnscope::detail {

namespace {

std::string blk(int layer, const char* name) { return "blk." + std::to_string(layer) + "." + name; }

void check_layer_head(const ModelConfig& c, int layer, int head) {
  if (layer < 0 || layer >= c.n_layer)
    fail(ErrorKind::InvalidArgument, "layer " + std::to_string(layer) +
                                         " does not exist (the model has " +
                                         std::to_string(c.n_layer) + " layers)");
  if (head < 0 || head >= c.n_head)
    fail(ErrorKind::InvalidArgument, "head " + std::to_string(head) +
                                         " does not exist (the model has " +
                                         std::to_string(c.n_head) + " heads per layer)");
}

// Rows [row0, row0 + Dh) of a row-major [out, D] matrix, transposed to [D, Dh].
Tensor rows_transposed(const Tensor& w, int64_t row0, int64_t Dh) {
  const int64_t D = w.dim(1);
  Tensor t({D, Dh});
  for (int64_t r = 0; r < Dh; ++r)
    for (int64_t d = 0; d < D; ++d) t.data()[d * Dh + r] = w.data()[(row0 + r) * D + d];
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
  const Model::Impl& m = model.impl();
  const ModelConfig& c = m.config;
  check_layer_head(c, layer, head);
  const int64_t Dh = c.head_dim, H = c.n_head, Hkv = c.n_head_kv > 0 ? c.n_head_kv : c.n_head;
  HeadWeights hw;
  hw.layer = layer;
  hw.head = head;
  hw.kv_head = static_cast<int>(head / (H / Hkv));
  const int64_t qrow = head * Dh, kvrow = hw.kv_head * Dh;
  if (const Tensor* qkv = m.find_weight(blk(layer, "attn_qkv.weight"))) {
    // Fused [q | k | v] rows (GPT-2): q block H*Dh rows, then k and v blocks Hkv*Dh rows each.
    const int64_t kofs = H * Dh, vofs = kofs + Hkv * Dh;
    hw.W_Q = rows_transposed(*qkv, qrow, Dh);
    hw.W_K = rows_transposed(*qkv, kofs + kvrow, Dh);
    hw.W_V = rows_transposed(*qkv, vofs + kvrow, Dh);
    const Tensor* b = m.find_weight(blk(layer, "attn_qkv.bias"));
    hw.b_Q = slice_vector(b, qrow, Dh);
    hw.b_K = slice_vector(b, kofs + kvrow, Dh);
    hw.b_V = slice_vector(b, vofs + kvrow, Dh);
  } else {
    hw.W_Q = rows_transposed(m.weight(blk(layer, "attn_q.weight")), qrow, Dh);
    hw.W_K = rows_transposed(m.weight(blk(layer, "attn_k.weight")), kvrow, Dh);
    hw.W_V = rows_transposed(m.weight(blk(layer, "attn_v.weight")), kvrow, Dh);
    hw.b_Q = slice_vector(m.find_weight(blk(layer, "attn_q.bias")), qrow, Dh);
    hw.b_K = slice_vector(m.find_weight(blk(layer, "attn_k.bias")), kvrow, Dh);
    hw.b_V = slice_vector(m.find_weight(blk(layer, "attn_v.bias")), kvrow, Dh);
  }
  const int64_t qk_off = c.qk_norm == QkNorm::PerHead ? 0 : 1;  // Full: this head's slice
  hw.q_norm = slice_vector(m.find_weight(blk(layer, "attn_q_norm.weight")), qk_off * qrow, Dh);
  hw.k_norm = slice_vector(m.find_weight(blk(layer, "attn_k_norm.weight")), qk_off * kvrow, Dh);
  // attn_output [D, H*Dh]: the head's columns, as [Dh, D].
  const Tensor& wo = attn_output_matrix(model, layer);
  const int64_t D = wo.dim(0), HD = wo.dim(1);
  hw.W_O = Tensor({Dh, D});
  for (int64_t r = 0; r < Dh; ++r)
    for (int64_t d = 0; d < D; ++d) hw.W_O.data()[r * D + d] = wo.data()[d * HD + qrow + r];
  return hw;
}

NormWeights attn_norm_weights(const Model& model, int layer) {
  const Model::Impl& m = model.impl();
  check_layer_head(m.config, layer, 0);
  const Tensor* w = m.find_weight(blk(layer, "attn_norm.weight"));
  if (!w) {
    Tensor ones({m.config.n_embd});
    std::fill(ones.data(), ones.data() + ones.numel(), 1.0f);
    return {ones, Tensor()};
  }
  return {w->clone(), copy_or_empty(m.find_weight(blk(layer, "attn_norm.bias")))};
}

NormWeights post_attn_norm_weights(const Model& model, int layer) {
  const Model::Impl& m = model.impl();
  check_layer_head(m.config, layer, 0);
  return {copy_or_empty(m.find_weight(blk(layer, "post_attention_norm.weight"))), Tensor()};
}

NormWeights final_norm_weights(const Model& model) {
  const Model::Impl& m = model.impl();
  return {m.weight("output_norm.weight").clone(), copy_or_empty(m.find_weight("output_norm.bias"))};
}

Tensor attn_out_bias(const Model& model, int layer) {
  const Model::Impl& m = model.impl();
  check_layer_head(m.config, layer, 0);
  return copy_or_empty(m.find_weight(blk(layer, "attn_output.bias")));
}

Tensor unembed_row(const Model& model, int32_t token) {
  const Model::Impl& m = model.impl();
  const Tensor& head =
      m.config.tied_embeddings ? m.weight("token_embd.weight") : m.weight("output.weight");
  const int64_t V = head.dim(0), D = head.dim(1);
  if (token < 0 || token >= V)
    fail(ErrorKind::InvalidArgument, "token id " + std::to_string(token) +
                                         " is outside the vocabulary [0, " + std::to_string(V) +
                                         ")");
  Tensor row({D});
  std::memcpy(row.data(), head.data() + token * D, sizeof(float) * static_cast<size_t>(D));
  return row;
}

const Tensor& attn_output_matrix(const Model& model, int layer) {
  const Model::Impl& m = model.impl();
  check_layer_head(m.config, layer, 0);
  return m.weight(blk(layer, "attn_output.weight"));
}

}  // namespace attnscope::detail
