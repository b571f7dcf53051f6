// Selective capture (attnscope/pattern_rows.h): the selection is resolved once into per-position
// and per-head slots, so each block only copies (or ranks) the rows it holds.
#include "attnscope/pattern_rows.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attnscope/error.h"
#include "attnscope/model_config.h"

namespace attnscope {

PatternRowCapture::PatternRowCapture(const Model& model, PatternSelection selection, int64_t tokens, int64_t batch)
    : sel_(std::move(selection)), tokens_(tokens), batch_(batch) {
  const ModelConfig& c = model.config();
  if (tokens < 1 || batch < 1) fail(ErrorKind::InvalidArgument, "selective capture needs a non-empty prompt");
  auto bad = [](const std::string& what) { fail(ErrorKind::InvalidArgument, "selective capture: " + what); };
  if (sel_.layers.empty()) {
    sel_.layers.resize(static_cast<size_t>(c.n_layer));
    std::iota(sel_.layers.begin(), sel_.layers.end(), 0);
  }
  if (sel_.heads.empty()) {
    sel_.heads.resize(static_cast<size_t>(c.n_head));
    std::iota(sel_.heads.begin(), sel_.heads.end(), 0);
  }
  for (int l : sel_.layers)
    if (l < 0 || l >= c.n_layer) bad("layer " + std::to_string(l) + " is outside 0.." + std::to_string(c.n_layer - 1));
  head_slot_.assign(static_cast<size_t>(c.n_head), -1);
  for (size_t i = 0; i < sel_.heads.size(); ++i) {
    const int h = sel_.heads[i];
    if (h < 0 || h >= c.n_head) bad("head " + std::to_string(h) + " is outside 0.." + std::to_string(c.n_head - 1));
    head_slot_[static_cast<size_t>(h)] = static_cast<int>(i);
  }
  // The rows: the union of the list, the last N and every k-th, ascending.
  std::vector<char> keep(static_cast<size_t>(tokens), 0);
  for (int64_t r : sel_.rows) {
    if (r < 0 || r >= tokens)
      bad("row " + std::to_string(r) + " is outside the prompt's positions 0.." + std::to_string(tokens - 1));
    keep[static_cast<size_t>(r)] = 1;
  }
  if (sel_.last < 0 || sel_.every < 0) bad("last and every must be >= 0");
  for (int64_t r = std::max<int64_t>(0, tokens - sel_.last); r < tokens; ++r) keep[static_cast<size_t>(r)] = 1;
  if (sel_.every > 0)
    for (int64_t r = 0; r < tokens; r += sel_.every) keep[static_cast<size_t>(r)] = 1;
  std::vector<int64_t> rows;
  row_slot_.assign(static_cast<size_t>(tokens), -1);
  for (int64_t r = 0; r < tokens; ++r)
    if (keep[static_cast<size_t>(r)]) {
      row_slot_[static_cast<size_t>(r)] = static_cast<int64_t>(rows.size());
      rows.push_back(r);
    }
  if (rows.empty()) bad("no query row selected (give rows, last or every)");
  const int64_t key_end = sel_.key_end > 0 ? sel_.key_end : tokens;
  if (sel_.key_begin < 0 || key_end > tokens || sel_.key_begin >= key_end)
    bad("key window [" + std::to_string(sel_.key_begin) + ", " + std::to_string(key_end) +
        ") is empty or outside the prompt's " + std::to_string(tokens) + " keys");
  sel_.key_end = key_end;
  if (sel_.top_k < 0) bad("top_k must be >= 0");
  keys_ = sel_.top_k > 0 ? sel_.top_k : key_end - sel_.key_begin;
  const int64_t H = static_cast<int64_t>(sel_.heads.size()), R = static_cast<int64_t>(rows.size());
  for (int l : sel_.layers) {
    PatternRows& p = out_[l];
    p.heads = sel_.heads;
    p.rows = rows;
    p.key_begin = sel_.key_begin;
    p.values = Tensor({batch, H, R, keys_});
    if (sel_.top_k > 0) p.indices.assign(static_cast<size_t>(batch * H * R * keys_), -1);
  }
}

const PatternRows& PatternRowCapture::layer(int layer) const {
  const auto it = out_.find(layer);
  if (it == out_.end()) fail(ErrorKind::InvalidArgument, "layer " + std::to_string(layer) + " was not captured");
  return it->second;
}

void PatternRowCapture::begin_layer(int layer, int64_t batch, int64_t, int64_t queries, int64_t n_past) {
  if (out_.count(layer) && (batch != batch_ || n_past + queries > tokens_))
    fail(ErrorKind::InvalidArgument, "selective capture was set up for " + std::to_string(batch_) + " x " +
                                         std::to_string(tokens_) + " tokens; the run has " + std::to_string(batch) +
                                         " x " + std::to_string(n_past + queries));
}

void PatternRowCapture::block(const PatternBlock& blk) {
  const auto it = out_.find(blk.layer);
  const int hs = head_slot_[static_cast<size_t>(blk.head)];
  if (it == out_.end() || hs < 0) return;
  PatternRows& p = it->second;
  const int64_t H = static_cast<int64_t>(p.heads.size()), R = static_cast<int64_t>(p.rows.size());
  std::vector<int32_t> order;
  for (int64_t r = 0; r < blk.rows; ++r) {
    const int64_t pos = blk.row0 + r, slot = row_slot_[static_cast<size_t>(pos)];
    if (slot < 0) continue;
    const float* w = blk.data + r * blk.ld;
    const int64_t off = ((blk.batch * H + hs) * R + slot) * keys_;
    float* dst = p.values.data() + off;
    // Keys this row can see inside the window (later keys are 0: masked or not given).
    const int64_t k1 = std::min({sel_.key_end, blk.keys, pos + 1});
    if (sel_.top_k == 0) {
      for (int64_t j = sel_.key_begin; j < k1; ++j) dst[j - sel_.key_begin] = w[j];
      continue;
    }
    order.resize(static_cast<size_t>(std::max<int64_t>(0, k1 - sel_.key_begin)));
    std::iota(order.begin(), order.end(), static_cast<int32_t>(sel_.key_begin));
    const size_t k = std::min(order.size(), static_cast<size_t>(sel_.top_k));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [w](int32_t a, int32_t b) {
                        // NaN (a row over a NaN score is all NaN) ranks last: a strict weak order.
                        const float x = std::isnan(w[a]) ? -1.0f : w[a], y = std::isnan(w[b]) ? -1.0f : w[b];
                        return x > y || (x == y && a < b);
                      });
    for (size_t i = 0; i < k; ++i) {
      dst[i] = w[order[i]];
      p.indices[static_cast<size_t>(off) + i] = order[i];
    }
  }
}

}  // namespace attnscope
