// Long-context head types: attention sinks, retrieval heads and induction over long repeats,
// each measured over a list of context lengths. Every run captures one layer's pattern at a time
// (RunOptions::capture_sink) and keeps only the per-head numbers it needs, so memory stays at one
// layer's [1, H, T, T] pattern.
//
// Token sources: `tokens` below are content tokens without BOS (model.encode(text, false), a
// corpus joined, or random_content_tokens); the functions put BOS in front when the model's
// tokenizer has one and take the first `length - 1` tokens for a run of `length` tokens.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/analysis.h"
#include "attnscope/tensor.h"
#include "attnscope/trace.h"

namespace attnscope {

class Model;

// n tokens drawn uniformly (with replacement) from random_token_pool(model) minus `exclude`.
// Deterministic for a seed on every platform. InvalidArgument when the pool minus `exclude` is empty.
std::vector<int32_t> random_content_tokens(const Model& model, int64_t n, uint64_t seed,
                                           const std::vector<int32_t>& exclude = {});

// ---- attention sinks -----------------------------------------------------------------------
// Xiao et al. 2023 ("Efficient Streaming Language Models with Attention Sinks", StreamingLLM);
// Gu et al. 2024 ("When Attention Sink Emerges in Language Models"). A head's sink mass at a
// length T is alpha = (1/T) sum_{p=0}^{T-1} sum_{j<k} A[p, j]: the mean over every query row of
// the attention on the first k keys (k = sink_tokens; with k = 1 this is first_token_score, raw).
// The sink rate of a set of heads is the fraction with alpha > epsilon (Gu et al.: epsilon 0.3).

struct SinkOptions {
  std::vector<int> lengths;  // context lengths in tokens, BOS included; empty: {tokens.size() + BOS}
  int sink_tokens = 1;       // k >= 1
  double epsilon = 0.3;      // in [0, 1]
  std::vector<int> layers;   // empty: all
  // Edits of every run (interventions.h), e.g. a head's pattern set to a known matrix, or a head
  // ablated to see whether another takes over the sink.
  std::vector<Intervention> interventions;
};

struct SinkLength {
  int length = 0;
  Tensor mass;                     // [n_layer, n_head] alpha; NaN rows for layers not measured
  std::vector<double> layer_rate;  // per layer, fraction of heads with alpha > epsilon (NaN if not measured)
  double rate = 0;                 // over every measured head
};

struct SinkReport {
  SinkOptions options;
  std::vector<int> layers;  // the measured layers
  std::vector<SinkLength> by_length;
  Tensor mean_mass;                // [n_layer, n_head] alpha averaged over lengths
  std::vector<double> layer_rate;  // of mean_mass
  double rate = 0;                 // of mean_mass
};

// Errors (InvalidArgument): sink_tokens < 1, epsilon outside [0, 1], a length < sink_tokens + 1
// or longer than the model's context or than BOS + tokens, a bad layer.
SinkReport attention_sinks(const Model& model, const std::vector<int32_t>& tokens, const SinkOptions& options = {});

// ---- retrieval heads -----------------------------------------------------------------------
// Wu et al. 2024, "Retrieval Head Mechanistically Explains Long-Context Factuality". A needle-in-
// a-haystack copy task per (length, depth):
//   [BOS] haystack[:d] needle haystack[d:] question needle[:cue]  -> answer needle[cue:]
// the prompt is `length` tokens (the haystack fills what the rest leaves), the needle starts at
// fraction `depth` of the haystack. By default the answer is teacher-forced (appended to the
// prompt; the row producing answer token w is the row before it); with `generate` the model
// writes the answer greedily and w is what it wrote. Head h copy-pastes w when its most-attended
// key j of that row lies inside the needle and tokens[j] == w (the paper's definition; ties: the
// first key). A head's retrieval score is the fraction of answer steps it copy-pastes, averaged
// over lengths and depths (the paper's |g_h ∩ k| / |k| counts distinct needle tokens; the two agree
// when the needle's tokens are distinct, which random needles are). Wu et al. call heads scoring
// above 0.1 retrieval heads.

struct RetrievalOptions {
  std::vector<int> lengths = {256};                          // prompt lengths in tokens, BOS included
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};  // each in [0, 1]
  std::vector<int32_t> needle;                               // empty: needle_tokens distinct random pool tokens
  int needle_tokens = 16;
  std::vector<int32_t> question;  // tokens between the haystack and the cue (may be empty)
  int cue_tokens = 1;             // needle tokens given in the prompt, 0 <= cue < needle size
  bool generate = false;          // greedy answer instead of teacher forcing
  double threshold = 0.1;
  uint64_t seed = 42;       // random needle and random haystack
  std::vector<int> layers;  // empty: all
};

struct RetrievalTrial {
  int length = 0;
  double depth = 0;
  int64_t needle_start = 0;  // position of needle[0] in the prompt
  int64_t answer_tokens = 0;
  double accuracy = 0;  // answer steps where the model's greedy token is the needle's
  Tensor score;         // [n_layer, n_head] fraction of answer steps copy-pasted; NaN rows unmeasured
};

struct RetrievalHead {
  int layer = 0, head = 0;
  double score = 0;
};

struct RetrievalReport {
  RetrievalOptions options;  // with the needle actually used
  bool random_haystack = false;
  std::vector<int> layers;
  std::vector<RetrievalTrial> trials;  // lengths x depths, length-major
  Tensor score;                        // [n_layer, n_head] mean over trials
  double accuracy = 0;                 // mean over trials
  std::vector<RetrievalHead> heads;    // score > threshold, best first
  std::vector<RetrievalHead> all;      // every measured head, best first
};

// haystack: content tokens (no BOS), at least as many as the longest prompt leaves for it; empty:
// random pool tokens (without the needle's tokens, so the needle is the only place to copy from).
// Errors (InvalidArgument): a needle shorter than 2 or cue_tokens outside [0, needle size), a depth
// outside [0, 1], a length that leaves no haystack token or exceeds the context, too short a
// haystack, a threshold outside [0, 1], a bad layer.
RetrievalReport retrieval_heads(const Model& model, const std::vector<int32_t>& haystack,
                                const RetrievalOptions& options = {});

// ---- induction over long repeats -------------------------------------------------------------
// The random-repeat induction scan (detect_induction_heads) with BOS + n random tokens repeated
// twice, for each n in `lengths`: the repeat distance is n, the sequence 2n + 1 tokens. The score
// is induction_score(A, n) (chance-corrected by default), one per head and length.

struct LongInductionOptions {
  std::vector<int> lengths = {16, 64, 256};  // repeat distances n >= 2; 2n + BOS within the context
  uint64_t seed = 42;
  bool distinct_tokens = true;
  ScoreOptions score{false, true};
  std::vector<int> layers;
};

struct LongInductionReport {
  LongInductionOptions options;
  std::vector<int> layers;
  Tensor score;  // [n_lengths, n_layer, n_head]; NaN rows for layers not measured
};

LongInductionReport induction_by_length(const Model& model, const LongInductionOptions& options = {});

// ---- output --------------------------------------------------------------------------------
// Table (terminal), JSON (every number) or CSV (one row per length/trial, layer and head).
std::string format_report(const SinkReport& report, ReportFormat format);
std::string format_report(const RetrievalReport& report, ReportFormat format);
std::string format_report(const LongInductionReport& report, ReportFormat format);

// Figures (PNG, SVG or PDF by extension): sinks -> layers x heads mean mass; retrieval -> layers x heads score;
// induction -> score versus repeat distance, one line per head above `min_score` at some length (at most 12, best
// first).
void save_sink_figure(const std::string& path, const SinkReport& report);
// The sink rate versus length: every heads' and (up to 11 layers) each layer's.
void save_sink_length_figure(const std::string& path, const SinkReport& report);
void save_retrieval_figure(const std::string& path, const RetrievalReport& report);
void save_induction_length_figure(const std::string& path, const LongInductionReport& report, double min_score = 0.3);

}  // namespace attnscope
