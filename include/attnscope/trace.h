// What a forward pass leaves behind (captured activations, logits) and how a caller steers it
// (which hook points to capture, interventions that change values in flight).
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/hook_points.h"
#include "attnscope/tensor.h"

namespace attnscope {

class NpzWriter;  // npz.h

// Hook point names, shapes and aliases: attnscope/hook_points.h (the one table).

// Passed to interventions so one function can serve many hook points.
struct HookContext {
  std::string name;  // canonical hook name
  int layer = -1;    // -1 for hooks outside the blocks
};
using InterventionFn = std::function<void(Tensor& value, const HookContext& ctx)>;
struct Intervention {
  std::string target;  // hook name, alias or glob; must match at least one hook point
  InterventionFn fn;
  std::string description;  // for messages and --json output
};

// Receives a captured value (canonical hook name, tensor) the moment the forward pass produces it.
using CaptureSink = std::function<void(const std::string& name, const Tensor& value)>;

// Attention rows as the forward pass computes them. Attention runs in blocks of query rows (for
// one sequence and one KV head's group of query heads at a time): each block's complete score
// rows are scaled, capped, masked and softmaxed, then multiplied with V and dropped, so memory
// is O(block rows x keys) per thread rather than O(T^2) per layer. An observer sees every block
// while it is in cache; statistics computed there cost no pattern storage (analysis/head_stats.h
// builds on this).
struct PatternBlock {
  int layer = 0;
  int64_t batch = 0;            // sequence in the batch
  int64_t head = 0;             // query head
  int64_t row0 = 0;             // absolute position of the first query row (counting a KV cache)
  int64_t rows = 0;             // query rows in the block: positions row0 .. row0 + rows - 1
  int64_t keys = 0;             // keys 0 .. keys - 1 are given; every later key has weight 0 (masked)
  int64_t ld = 0;               // floats between rows
  const float* data = nullptr;  // rows x keys attention weights, each row sums to 1 (or is 0: fully masked)
};
class PatternObserver {
 public:
  virtual ~PatternObserver() = default;
  // Blocks of `layer` follow: a batch of `batch` sequences, `heads` query heads, queries at
  // absolute positions n_past .. n_past + queries - 1. Called on the caller's thread.
  virtual void begin_layer(int layer, int64_t batch, int64_t heads, int64_t queries, int64_t n_past) {
    (void)layer, (void)batch, (void)heads, (void)queries, (void)n_past;
  }
  // One block. Called from worker threads at once; two calls never share (batch, head, row). Must
  // not throw (record an error and report it in end_layer instead).
  virtual void block(const PatternBlock& block) = 0;
  // Every block of `layer` has been seen. Called on the caller's thread; may throw.
  virtual void end_layer(int layer) { (void)layer; }
};

// Where the pads of a ragged batch go (Hugging Face's padding_side, TransformerLens'
// padding_side): after each prompt's tokens (Right) or before them (Left, with positions counted
// from each prompt's first real token).
enum class Padding { Right, Left };
// "right" / "left" (the front ends' spelling); InvalidArgument for anything else.
Padding padding_from_name(const std::string& name);

// The result of a forward pass.
class Trace {
 public:
  std::vector<std::vector<int32_t>> tokens;          // per batch row (real tokens only, no pads)
  std::vector<std::vector<std::string>> str_tokens;  // per batch row (empty without tokenizer)
  Tensor logits;                                     // [B, T, V]; empty if not requested

  bool has(const std::string& name) const;  // canonical or alias
  // The captured value; NotFound naming what was captured if the name was not.
  const Tensor& at(const std::string& name) const;
  void set(const std::string& canonical_name, Tensor value);
  const std::map<std::string, Tensor>& captured() const { return captured_; }
  // layer -> [B, H, Q, K] for every captured blocks.L.attn.hook_pattern.
  std::map<int, Tensor> attention_patterns() const;

  // Ragged batches (prompts of different lengths in one pass): every captured tensor and the
  // logits span padded_length() positions per row, `padding` says where row b's
  // padded_length() - tokens[b].size() pads are. No real token attends to a pad; a pad query
  // attends only to itself (so its row is finite). Rows of equal length have no pads.
  Padding padding = Padding::Right;
  int64_t padded_length() const;  // the longest row
  bool padded() const;            // some row is shorter than padded_length()
  // [B][padded_length()]: 1 at a real token, 0 at a pad (Hugging Face's attention_mask).
  std::vector<std::vector<int32_t>> attention_mask() const;
  // Row b alone with the pads cut from every captured tensor ([B, T, ...] along T; patterns and
  // scores [B, H, T, T] along both T axes) and from the logits: what running that prompt alone
  // captures (equal to float rounding). InvalidArgument for b outside the batch.
  Trace row(int b) const;

 private:
  std::map<std::string, Tensor> captured_;
};

// Writes a trace as an .npz (numpy.load reads it): every captured hook under its canonical name
// (float32), `logits` when include_logits and the trace has them, `tokens` (int32 [B, T]) and
// `str_tokens` ([B, T]). For a ragged batch these are padded as the captures are (-1 and "" at
// pads) and `attention_mask` (int32 [B, T], 1 at real tokens) is added. Io errors name the path.
void save_trace_npz(const Trace& trace, const std::string& path, bool include_logits = false);
// The same into an open writer (captured hooks as float16 when `f16`), without finishing it.
void write_trace_npz(NpzWriter& w, const Trace& trace, bool include_logits, bool f16);

}  // namespace attnscope
