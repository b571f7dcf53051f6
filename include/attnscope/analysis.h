// Turning attention patterns into findings: per-head scores, the head-type detector, the
// random-repeat induction scan, custom pattern functions and a registry of named detectors,
// layer summaries, and table / JSON / CSV output. Names follow mlxterp's attention guide.
//
// A head's pattern A is a 2-D Tensor [Q, K] (rows = queries, columns = keys, each row sums to 1,
// causal). When Q < K (e.g. a generation step), row r is the query at absolute position
// p = r + (K - Q). Every score below is a mean over a set of rows R of the attention each row
// puts on its target column(s) T(p):
//
//   previous_token_score   R = {p >= 1},  T(p) = {p-1}            mean of A[p, p-1]
//   first_token_score      R = {p >= 0},  T(p) = {0}              mean of column 0
//   current_token_score    R = {p >= 0},  T(p) = {p}              mean of the diagonal
//   induction_score(A, n)  d = n - 1; R = {p >= d}, T(p) = {p-d}  mean of A[p, p-n+1]: on
//                          BOS + (n random tokens) repeated, the token after the previous copy
//                          (with 3+ repeats a head that spreads over all earlier copies scores
//                          less: only the latest copy counts)
//   induction_score(A, tokens)   R = rows with an earlier copy of their token,
//                          T(p) = {j : tokens[j-1] == tokens[p], j <= p}: the positions right
//                          after earlier copies (for any text, no fixed period needed)
//   duplicate_token_score  R = rows with an earlier copy of their token,
//                          T(p) = {j < p : tokens[j] == tokens[p]}
//
// ScoreOptions::exclude_bos drops position 0 wherever it would dominate: row 0 (whose only
// choice is itself) and every target in column 0 (rows whose target is only column 0 are
// dropped); first_token_score keeps its target column 0 and drops only row 0. Rows are not
// renormalised. A score with no qualifying row is 0.
//
// ScoreOptions::chance_corrected reports (s - u) / (1 - u), where u is the same score of the
// uniform causal head of the same shape (row p puts 1/(p+1) on every key 0..p), so a uniform
// head scores exactly 0 on every length and a perfect head 1; negative means "less than
// chance". u for a [T, T] pattern: first/current = H_T / T, previous = (H_T - 1) / (T - 1),
// induction(n) = (H_T - H_{n-1}) / (T - n + 1) (H_m = 1 + 1/2 + ... + 1/m). When u == 1 (a
// single row) the corrected score is 0.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope {

class Model;

// Which patterns the model-running detectors score: the attention weights (the softmax buffer),
// or value-weighted attention (attribution.h, Kobayashi et al. 2020) with each row normalised to
// sum to 1: the share of the head's output norm that comes from each key.
enum class AttentionWeighting { Weight, Value };
const char* weighting_name(AttentionWeighting w);  // "weight", "value"

struct ScoreOptions {
  bool exclude_bos = false;
  bool chance_corrected = false;
};

double previous_token_score(const Tensor& pattern, const ScoreOptions& options = {});
double first_token_score(const Tensor& pattern, const ScoreOptions& options = {});
double current_token_score(const Tensor& pattern, const ScoreOptions& options = {});
// seq_len: length of the repeated segment (n_random_tokens); >= 1.
double induction_score(const Tensor& pattern, int seq_len, const ScoreOptions& options = {});
// Token-based induction for any text; tokens.size() must equal the pattern's key length.
double induction_score(const Tensor& pattern, const std::vector<int32_t>& tokens, const ScoreOptions& options = {});
double duplicate_token_score(const Tensor& pattern, const std::vector<int32_t>& tokens,
                             const ScoreOptions& options = {});

// The uniform causal pattern [T, T] (row p: 1/(p+1) on keys 0..p): the chance reference.
Tensor uniform_causal_pattern(int64_t length);
// Head `head` of batch row `batch` of a [B, H, Q, K] pattern tensor (or of a [H, Q, K] one),
// as a [Q, K] view.
Tensor head_pattern(const Tensor& patterns, int head, int batch = 0);

// All scores of one head. induction is present when seq_len or tokens (with a repeated token)
// were given; duplicate_token when tokens with a repeated token were given.
struct HeadScores {
  double previous_token = 0, first_token = 0, current_token = 0;
  std::optional<double> induction, duplicate_token;
  std::map<std::string, double> to_map() const;  // keys as the type names below
};

// What analyze_head may use besides the pattern.
struct HeadContext {
  std::optional<int> seq_len;   // random-repeat segment length -> induction_score(A, seq_len)
  std::vector<int32_t> tokens;  // the sequence -> token-based induction and duplicate_token
};

// How many query rows (the set R above) each score of a [q, k] pattern is the mean of. It depends
// only on the shape, the context's tokens / seq_len and options.exclude_bos, never on the
// attention. induction and duplicate_token are present when the context gives tokens (induction
// also with seq_len, which wins as in analyze_head); a count may be 0. InvalidArgument unless
// 1 <= q <= k and the tokens (if any) number k.
struct ScoreRows {
  int64_t previous_token = 0, first_token = 0, current_token = 0;
  std::optional<int64_t> induction, duplicate_token;
};
ScoreRows score_rows(int64_t q, int64_t k, const HeadContext& context = {}, const ScoreOptions& options = {});

// Fewer rows than this and a score is an anecdote, which the reports say. A score is a mean of n
// values in [0, 1]; its 95 % interval is about +-2 sigma / sqrt(n) <= 1 / sqrt(n) wide on each
// side (sigma <= 1/2). At n = 10 that is +-0.32, the size of the detectors' thresholds (0.3-0.4):
// below it a head at the threshold cannot be told from a head at chance (0, chance-corrected).
// The token-based induction score of a short prompt often rests on two or three rows.
inline constexpr int64_t kMinScoreRows = 10;

// Type names used by the detector, reports and the registry.
inline constexpr const char* kPreviousToken = "previous_token";
inline constexpr const char* kFirstToken = "first_token";
inline constexpr const char* kCurrentToken = "current_token";
inline constexpr const char* kInduction = "induction";
inline constexpr const char* kDuplicateToken = "duplicate_token";
inline constexpr const char* kUnknown = "unknown";
// A head whose pattern holds NaN or +-inf (an intervention or a broken weight): every score of
// it is NaN and this is its only type, so it is never scored, ranked or drawn as a real head.
inline constexpr const char* kNonFinite = "non_finite";

// Classifies heads with one threshold per type. The four thresholds of mlxterp's guide keep
// their defaults; duplicate_token is an addition. Scores are chance-corrected by default so a
// near-uniform head on a short prompt is not reported as first/current-token (raw mlxterp
// scores: set options.chance_corrected = false). Thresholds must lie in [0, 1].
class AttentionPatternDetector {
 public:
  explicit AttentionPatternDetector(double induction_threshold = 0.4, double previous_token_threshold = 0.5,
                                    double first_token_threshold = 0.3, double current_token_threshold = 0.3,
                                    double duplicate_token_threshold = 0.3);
  // The same threshold for every type.
  static AttentionPatternDetector uniform_threshold(double threshold);

  ScoreOptions options{false, true};
  // What detect_head_types scores.
  AttentionWeighting weighting = AttentionWeighting::Weight;

  double induction_threshold() const { return induction_; }
  double previous_token_threshold() const { return previous_; }
  double first_token_threshold() const { return first_; }
  double current_token_threshold() const { return current_; }
  double duplicate_token_threshold() const { return duplicate_; }
  double threshold(const std::string& type) const;  // InvalidArgument for an unknown type

  HeadScores analyze_head(const Tensor& pattern, const HeadContext& context = {}) const;
  // Every type whose score reaches its threshold, in the order previous, first, current,
  // induction, duplicate; {"unknown"} when none does; {"non_finite"} when a score is NaN
  // (the pattern held NaN/inf).
  std::vector<std::string> classify_head(const Tensor& pattern, const HeadContext& context = {}) const;
  std::vector<std::string> classify(const HeadScores& scores) const;

 private:
  double induction_, previous_, first_, current_, duplicate_;
};

// ---- whole-model detection -------------------------------------------------------------

struct HeadReport {
  int layer = 0, head = 0;
  HeadScores scores;
  std::vector<std::string> types;  // classify() result
  double entropy = 0;              // mean row entropy (nats) of the pattern
  // detect_head_types only: first_token_score of the normalised value-weighted pattern, and the
  // sink flag: first-token by weight (>= the first-token threshold) but not by contribution
  // (value-weighted score below it): attention parked on a token whose value moves little.
  std::optional<double> value_first_token;
  bool sink = false;
};

struct HeadTypeReport {
  std::vector<int32_t> tokens;
  std::vector<std::string> str_tokens;  // empty without a tokenizer
  bool has_repeats = false;             // induction / duplicate were scored on the text
  // The query rows each score rests on (the same for every head: score_rows of the text).
  ScoreRows rows;
  // The types whose score rests on fewer than kMinScoreRows rows ("induction", ...), in the type
  // order; the reports warn about them and name the count.
  std::vector<std::string> few_row_scores() const;
  AttentionPatternDetector detector;
  std::vector<HeadReport> heads;  // every analysed head, by layer then head
  // type -> (layer, head) of every head of that type ("unknown" included), layer/head order.
  std::map<std::string, std::vector<std::pair<int, int>>> by_type() const;
  std::vector<std::pair<int, int>> heads_of(const std::string& type) const;
};

// Classifies every head of already captured patterns (layer -> [B, H, Q, K], batch row 0).
HeadTypeReport classify_heads(const std::map<int, Tensor>& patterns, const std::vector<int32_t>& tokens,
                              const AttentionPatternDetector& detector = AttentionPatternDetector());

// One traced run of `text` (with BOS), every head of `layers` (empty: all) classified.
// threshold: nullopt uses the detector's per-type defaults, a value uses it for every type.
// Errors (InvalidArgument): empty text, fewer than 2 text tokens, a layer outside the model,
// a threshold outside [0, 1].
HeadTypeReport detect_head_types(const Model& model, std::string_view text,
                                 std::optional<double> threshold = std::nullopt, const std::vector<int>& layers = {});
HeadTypeReport detect_head_types(const Model& model, std::string_view text, const AttentionPatternDetector& detector,
                                 const std::vector<int>& layers = {});

struct InductionOptions {
  int n_random_tokens = 50;
  int n_repeats = 2;
  double threshold = 0.3;
  uint64_t seed = 42;
  std::vector<int> layers;  // empty: all
  int n_seeds = 1;          // seeds seed, seed+1, ...: score is the mean, spread reported
  // Draw distinct tokens when the pool allows it (a token repeated inside the random segment
  // makes its induction target ambiguous, which matters for small vocabularies).
  bool distinct_tokens = true;
  ScoreOptions score{false, true};
  AttentionWeighting weighting = AttentionWeighting::Weight;
};

struct InductionHead {
  int layer = 0, head = 0;
  double score = 0;   // mean over seeds
  double stddev = 0;  // over seeds (0 for one seed)
  double min = 0, max = 0;
};

struct InductionScan {
  InductionOptions options;
  std::vector<std::vector<int32_t>> sequences;  // the token ids run, one per seed
  std::vector<InductionHead> heads;             // score >= threshold, best first
  std::vector<InductionHead> all;               // every scanned head, best first
};

// The random tokens detect_induction_heads draws from: the tokenizer's Normal tokens, plus the
// printable ASCII byte tokens (<0x21>..<0x7E>) when there are fewer than 64 of those (byte-level
// vocabularies such as the toy's); never control, unknown or other byte tokens.
std::vector<int32_t> random_token_pool(const Model& model);
// BOS (when the model has one) + n random pool tokens, repeated n_repeats times. Deterministic
// for a seed on every platform.
std::vector<int32_t> random_repeated_tokens(const std::vector<int32_t>& pool, int32_t bos, int n_random_tokens,
                                            int n_repeats, uint64_t seed, bool distinct = true);
// Errors (InvalidArgument): n_random_tokens < 2, n_repeats < 2, a sequence longer than the
// model's context, threshold outside [0, 1], n_seeds < 1, a bad layer.
InductionScan detect_induction_heads(const Model& model, const InductionOptions& options = {});
InductionScan detect_induction_heads(const Model& model, int n_random_tokens, int n_repeats = 2, double threshold = 0.3,
                                     uint64_t seed = 42, const std::vector<int>& layers = {});

// ---- custom patterns ---------------------------------------------------------------------

// Scores one head's [Q, K] pattern; by convention in [0, 1].
using PatternFn = std::function<double(const Tensor& pattern)>;

struct PatternMatch {
  int layer = 0, head = 0;
  double score = 0;
  std::string pattern;  // name (registry) or "custom"
};

// Every head of `patterns` (layer -> [B, H, Q, K], batch row 0) whose score >= threshold, best
// first (ties: layer, head).
std::vector<PatternMatch> find_attention_pattern(const std::map<int, Tensor>& patterns, const PatternFn& pattern_fn,
                                                 double threshold = 0.3, const std::string& name = "custom");
// One traced run of `text` (with BOS). Errors as detect_head_types (one-token text allowed).
std::vector<PatternMatch> find_attention_pattern(const Model& model, std::string_view text, const PatternFn& pattern_fn,
                                                 double threshold = 0.3, const std::vector<int>& layers = {},
                                                 AttentionWeighting weighting = AttentionWeighting::Weight);

// Named custom detectors, all evaluated in one pass.
class PatternRegistry {
 public:
  // Replaces a pattern of the same name. Errors: empty name, null fn, threshold outside [0, 1].
  void register_pattern(const std::string& name, PatternFn fn, double threshold = 0.3);
  bool unregister_pattern(const std::string& name);
  bool has(const std::string& name) const { return patterns_.count(name) != 0; }
  std::vector<std::string> names() const;  // sorted
  size_t size() const { return patterns_.size(); }
  // pattern name -> matches (best first); every registered name is a key, possibly empty.
  std::map<std::string, std::vector<PatternMatch>> detect_all(const std::map<int, Tensor>& patterns) const;
  std::map<std::string, std::vector<PatternMatch>> detect_all(
      const Model& model, std::string_view text, const std::vector<int>& layers = {},
      AttentionWeighting weighting = AttentionWeighting::Weight) const;
  // A registry holding previous_token (0.5), first_token (0.3) and current_token (0.3).
  static PatternRegistry with_builtin();

 private:
  std::map<std::string, std::pair<PatternFn, double>> patterns_;
};

// ---- summaries ---------------------------------------------------------------------------

// Mean row entropy (nats) of a [Q, K] pattern, and the same divided by the uniform head's
// (log(p+1) per row; rows with one choice skipped), so a uniform head is 1 and a one-hot 0.
double pattern_entropy(const Tensor& pattern);
double normalized_pattern_entropy(const Tensor& pattern);

struct LayerSummary {
  int layer = 0;
  Tensor mean;                       // [Q, K] mean over heads
  Tensor max;                        // [Q, K] max over heads
  std::vector<double> entropy;       // per head, nats
  std::vector<double> norm_entropy;  // per head, in [0, 1]
};
// patterns: [B, H, Q, K] or [H, Q, K].
LayerSummary layer_attention_summary(const Tensor& patterns, int layer = 0, int batch = 0);
std::vector<LayerSummary> layer_attention_summaries(const std::map<int, Tensor>& patterns, int batch = 0);

// ---- output --------------------------------------------------------------------------------

enum class ReportFormat { Table, Json, Csv };
std::string format_report(const HeadTypeReport& report, ReportFormat format);
std::string format_report(const InductionScan& scan, ReportFormat format);
std::string format_report(const std::map<std::string, std::vector<PatternMatch>>& matches, ReportFormat format);
std::string format_report(const std::vector<LayerSummary>& summaries, ReportFormat format);

}  // namespace attnscope
