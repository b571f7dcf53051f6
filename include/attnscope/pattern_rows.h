// Selective capture of attention patterns at any prompt length: chosen layers and heads, chosen
// query rows (a list, the last N, every k-th), a key window, or only the top-k entries of each row
// (key positions and weights). A PatternRowCapture is a PatternObserver (trace.h): it copies what
// was asked for out of each attention block while the forward pass has it in cache, so the
// whole [B, H, T, T] pattern never exists. Memory: B x heads x rows x (keys or top_k) per layer.
//
//   PatternSelection sel;
//   sel.last = 1;                       // the last query row
//   sel.top_k = 16;                     // its 16 most-attended keys
//   PatternRowCapture cap(model, sel, ids.size());
//   RunOptions o;
//   o.pattern_observer = &cap;
//   o.prefill_chunk = 2048;
//   model.run(ids, o);
//   const PatternRows& l5 = cap.layer(5);   // values [1, H, 1, 16], indices likewise
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/tensor.h"
#include "attnscope/trace.h"

namespace attnscope {

struct PatternSelection {
  std::vector<int> layers;    // empty: every layer
  std::vector<int> heads;     // empty: every head
  std::vector<int64_t> rows;  // query positions (0-based, absolute); with last/every: their union
  int64_t last = 0;           // the last N query positions
  int64_t every = 0;          // every k-th query position: 0, k, 2k, ...
  int64_t key_begin = 0;      // keys [key_begin, key_end) (key_end 0: to the last key)
  int64_t key_end = 0;
  int top_k = 0;  // > 0: only each row's top_k weights (ties: the earlier key) and their keys
};

// One layer's captured rows. values: [B, heads.size(), rows.size(), K] where K is the key window
// (key_end - key_begin) or top_k; a row's entries past its own position are 0 (masked keys).
// indices (top_k only): the key positions of values, same shape, -1 where a row has fewer keys.
struct PatternRows {
  std::vector<int> heads;
  std::vector<int64_t> rows;  // absolute query positions, ascending
  int64_t key_begin = 0;
  Tensor values;
  std::vector<int32_t> indices;
};

class PatternRowCapture : public PatternObserver {
 public:
  // For runs of `batch` sequences of `tokens` positions each (the whole prompt, however it is
  // chunked). InvalidArgument for a layer, head, row or key window outside the model or prompt,
  // or no row selected.
  PatternRowCapture(const Model& model, PatternSelection selection, int64_t tokens, int64_t batch = 1);

  // The captured rows of `layer`; InvalidArgument for a layer not selected.
  const PatternRows& layer(int layer) const;
  const std::map<int, PatternRows>& layers() const { return out_; }

  void begin_layer(int layer, int64_t batch, int64_t heads, int64_t queries, int64_t n_past) override;
  void block(const PatternBlock& block) override;

 private:
  PatternSelection sel_;
  int64_t tokens_, batch_, keys_;  // keys_: K of values
  std::vector<int64_t> row_slot_;  // per absolute position: index into rows, or -1
  std::vector<int> head_slot_;     // per head: index into heads, or -1
  std::map<int, PatternRows> out_;
};

}  // namespace attnscope
