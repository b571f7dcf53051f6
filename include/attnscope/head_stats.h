// Every head's attention statistics at any prompt length, computed while the forward pass's
// attention rows are in cache (PatternObserver, trace.h) and never storing a pattern: memory grows
// with the prompt linearly (a few floats per head and query of one chunk), not with its square.
//
// The scores are the ones analysis.h computes from a captured [q, k] pattern, over the same query
// rows (score_rows), so on a prompt short enough to capture they agree with them to float
// rounding: previous_token, first_token, current_token, induction (random repeats with seq_len,
// else token-based), duplicate_token, each raw and chance-corrected against the uniform causal
// head. Besides them, per head: the mass on the first `sink_tokens` keys (attention sinks; Xiao et
// al. 2023, "Efficient Streaming Language Models with Attention Sinks"), the mass within a local
// window, the row entropy (nats), the mean attention distance (positions) and a log2-spaced
// histogram of attention mass by distance. Everything is kept as sums over rows, so runs over
// chunks, batches and corpus workers combine exactly (HeadStats::merge).
//
//   HeadStatsOptions o;
//   o.chunk = 2048;                                  // prefill 32k tokens in chunks of 2k
//   HeadStats s = head_statistics(model, {ids}, o);
//   Tensor sinks = s.table("first_token");           // [n_layer, n_head]
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/analysis.h"
#include "attnscope/model.h"
#include "attnscope/tensor.h"

namespace attnscope {

struct HeadStatsOptions {
  ScoreOptions score;          // exclude_bos as for the pattern scores (chance_corrected: see table())
  std::optional<int> seq_len;  // random-repeat segment length: induction targets p - (seq_len - 1)
  int sink_tokens = 1;         // sink_mass: attention on keys 0 .. sink_tokens - 1 (>= 1)
  int local_window = 8;        // local_mass: attention on keys p - local_window + 1 .. p (>= 1)
  // Prefill in chunks of this many tokens through a KV cache (0: one pass). Activations and the
  // per-row buffers are then bounded by the chunk; the statistics are those of one pass.
  int chunk = 0;
};

// Sums over query rows for each (layer, head). Reading a statistic divides by its row count.
class HeadStats {
 public:
  HeadStats() = default;
  HeadStats(int n_layer, int n_head);

  int n_layer() const { return n_layer_; }
  int n_head() const { return n_head_; }
  // The statistics' names, in table order: previous_token, first_token, current_token, induction,
  // duplicate_token, sink_mass, local_mass (the target masses, which have chance-corrected forms),
  // then entropy and mean_distance.
  static const std::vector<std::string>& names();

  // Mean over the statistic's rows; chance-corrected as analysis.h's scores ((s - u) / (1 - u)
  // with u the uniform causal head's value) for the target masses. NaN when a row held NaN/inf;
  // 0 over no rows. NotFound for an unknown name; InvalidArgument for a layer or head outside.
  double value(const std::string& name, int layer, int head, bool chance_corrected = false) const;
  int64_t rows(const std::string& name, int layer, int head) const;
  // [n_layer, n_head] of value() for every head.
  Tensor table(const std::string& name, bool chance_corrected = false) const;
  // Share of attention mass at distance d = query - key in bin 0 (d = 0), bin k >= 1 (2^(k-1) <=
  // d < 2^k), averaged over the rows; sums to 1 for a head whose rows do.
  std::vector<double> distance_histogram(int layer, int head) const;

  // Adds another run's sums (same model shape; InvalidArgument otherwise).
  void merge(const HeadStats& other);

  // One statistic's sums over rows for one head (the accumulator).
  struct Sum {
    double sum = 0, uniform = 0;
    int64_t rows = 0;
    bool non_finite = false;
  };
  Sum& at(size_t stat, int layer, int head) { return sums_[index(stat, layer, head)]; }
  std::vector<double>& histogram(int layer, int head) {
    return histograms_[static_cast<size_t>(layer) * n_head_ + head];
  }

 private:
  size_t index(size_t stat, int layer, int head) const;
  size_t stat_index(const std::string& name) const;
  int n_layer_ = 0, n_head_ = 0;
  std::vector<Sum> sums_;                        // [stat][layer][head]
  std::vector<std::vector<double>> histograms_;  // [layer][head] -> mass per distance bin
};

// Runs `batch` (prompts of any lengths; equal lengths share one forward pass) through the model
// with a statistics observer and returns the sums over every prompt's rows; with interventions,
// the statistics of the edited run (an edited pattern is what the observer sees). Errors as
// Model::run (empty prompt, ids outside the vocabulary, longer than the context, interventions
// with a chunk) and InvalidArgument for options out of range.
HeadStats head_statistics(const Model& model, const std::vector<std::vector<int32_t>>& batch,
                          const HeadStatsOptions& options = {}, const std::vector<Intervention>& interventions = {});

}  // namespace attnscope
