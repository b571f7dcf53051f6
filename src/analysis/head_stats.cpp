// The streamed head statistics (attnscope/head_stats.h): an observer of the forward pass's
// attention blocks writes a few numbers per (sequence, head, query row) while the row is in cache;
// at the end of each layer those rows are summed into the per-head accumulators over the same row
// sets as the pattern scores (src/analysis/scores.cpp), so the two agree.
#include "attnscope/head_stats.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "attnscope/error.h"
#include "attnscope/model_config.h"

namespace attnscope {

namespace {

enum Stat : size_t { kPrevious, kFirst, kCurrent, kInduction, kDuplicate, kSink, kLocal, kEntropy, kDistance, kStats };
constexpr size_t kTargetStats = kLocal + 1;  // the target masses: chance-corrected forms exist

// Histogram bin of a distance: 0 for 0, k for 2^(k-1) <= d < 2^k.
size_t distance_bin(int64_t d) {
  size_t k = 0;
  while (d > 0) {
    d >>= 1;
    ++k;
  }
  return k;
}

// Earlier positions of the same token, for the token-based scores: M(p) = {m < p : tokens[m] ==
// tokens[p]} (without m = 0 when BOS is excluded) is a prefix of the token's position list.
struct TokenPositions {
  std::vector<const std::vector<int64_t>*> list;  // per position: its token's positions
  std::vector<int64_t> before;                    // per position: how many of them are in M(p)
  std::unordered_map<int32_t, std::vector<int64_t>> by_token;

  TokenPositions(const std::vector<int32_t>& tokens, bool exclude_bos) {
    const int64_t n = static_cast<int64_t>(tokens.size());
    for (int64_t p = 0; p < n; ++p)
      if (!(exclude_bos && p == 0)) by_token[tokens[static_cast<size_t>(p)]].push_back(p);
    list.resize(static_cast<size_t>(n));
    before.resize(static_cast<size_t>(n));
    for (int64_t p = 0; p < n; ++p) {
      const auto& l = by_token[tokens[static_cast<size_t>(p)]];
      list[static_cast<size_t>(p)] = &l;
      before[static_cast<size_t>(p)] = std::lower_bound(l.begin(), l.end(), p) - l.begin();
    }
  }
};

class StatsObserver : public PatternObserver {
 public:
  StatsObserver(const HeadStatsOptions& o, const std::vector<std::vector<int32_t>>& tokens, HeadStats& out)
      : o_(o), out_(out) {
    for (const auto& t : tokens) positions_.emplace_back(t, o.score.exclude_bos);
  }

  void begin_layer(int, int64_t batch, int64_t heads, int64_t queries, int64_t n_past) override {
    B_ = batch, H_ = heads, T_ = queries, n_past_ = n_past;
    bins_ = distance_bin(n_past + queries - 1) + 1;
    width_ = kStats + 1 + bins_;  // the statistics, a non-finite flag, the histogram
    rows_.assign(static_cast<size_t>(B_ * H_ * T_ * static_cast<int64_t>(width_)), 0.0f);
  }

  void block(const PatternBlock& blk) override {
    for (int64_t r = 0; r < blk.rows; ++r) {
      const int64_t p = blk.row0 + r, i = p - n_past_;
      float* v = rows_.data() + ((blk.batch * H_ + blk.head) * T_ + i) * static_cast<int64_t>(width_);
      row_stats(blk.data + r * blk.ld, std::min(blk.keys, p + 1), p, blk.batch, v);
    }
  }

  void end_layer(int layer) override {
    for (int64_t b = 0; b < B_; ++b)
      for (int64_t h = 0; h < H_; ++h)
        for (int64_t i = 0; i < T_; ++i)
          add_row(layer, static_cast<int>(h), b, n_past_ + i,
                  rows_.data() + ((b * H_ + h) * T_ + i) * static_cast<int64_t>(width_));
  }

 private:
  // The statistics of one attention row w[0 .. n) (n = p + 1 keys at most) of query position p.
  void row_stats(const float* w, int64_t n, int64_t p, int64_t b, float* v) const {
    bool finite = true;
    double entropy = 0, distance = 0, sink = 0, local = 0;
    float* hist = v + kStats + 1;
    const int64_t local_first = std::max<int64_t>(0, p - o_.local_window + 1);
    for (int64_t j = 0; j < n; ++j) {
      const double x = w[j];
      finite &= std::isfinite(w[j]);
      if (x > 0) entropy -= x * std::log(x);
      distance += x * static_cast<double>(p - j);
      if (j < o_.sink_tokens) sink += x;
      if (j >= local_first) local += x;
      hist[distance_bin(p - j)] += w[j];
    }
    auto at = [&](int64_t j) { return j >= 0 && j < n ? static_cast<double>(w[j]) : 0.0; };
    v[kPrevious] = static_cast<float>(at(p - 1));
    v[kFirst] = static_cast<float>(at(0));
    v[kCurrent] = static_cast<float>(at(p));
    v[kSink] = static_cast<float>(sink);
    v[kLocal] = static_cast<float>(local);
    v[kEntropy] = static_cast<float>(entropy);
    v[kDistance] = static_cast<float>(distance);
    const TokenPositions& tp = positions_[static_cast<size_t>(b)];
    const auto& list = *tp.list[static_cast<size_t>(p)];
    double ind = 0, dup = 0;
    for (int64_t k = 0; k < tp.before[static_cast<size_t>(p)]; ++k) {
      const int64_t m = list[static_cast<size_t>(k)];
      dup += at(m);
      ind += at(m + 1);
    }
    v[kInduction] = static_cast<float>(o_.seq_len ? at(p - (*o_.seq_len - 1)) : ind);
    v[kDuplicate] = static_cast<float>(dup);
    v[kStats] = finite ? 0.0f : 1.0f;
  }

  // Adds row p's values to the head's sums, over the row sets of src/analysis/scores.cpp.
  void add_row(int layer, int head, int64_t b, int64_t p, const float* v) {
    const bool excl = o_.score.exclude_bos;
    if (excl && p == 0) return;
    const bool non_finite = v[kStats] != 0.0f;
    const double u = 1.0 / static_cast<double>(p + 1);  // the uniform head's weight on one key
    auto add = [&](size_t stat, double value, double uniform) {
      HeadStats::Sum& s = out_.at(stat, layer, head);
      s.sum += value;
      s.uniform += uniform;
      ++s.rows;
      s.non_finite |= non_finite;
    };
    // A single target t(p): a row when 0 <= t <= p (and t != 0 with BOS excluded, except first_token).
    auto single = [&](size_t stat, int64_t t, bool allow0) {
      if (t < 0 || t > p || (excl && t == 0 && !allow0)) return;
      add(stat, v[stat], u);
    };
    single(kPrevious, p - 1, false);
    single(kFirst, 0, true);
    single(kCurrent, p, false);
    // Token targets: one per earlier copy of the token (duplicate: the copy, induction: after it).
    const int64_t copies = positions_[static_cast<size_t>(b)].before[static_cast<size_t>(p)];
    if (copies > 0) add(kDuplicate, v[kDuplicate], static_cast<double>(copies) * u);
    if (o_.seq_len)  // random repeats: the single target p - (seq_len - 1), as analyze_head
      single(kInduction, p - (*o_.seq_len - 1), false);
    else if (copies > 0)
      add(kInduction, v[kInduction], static_cast<double>(copies) * u);
    add(kSink, v[kSink], static_cast<double>(std::min<int64_t>(o_.sink_tokens, p + 1)) * u);
    add(kLocal, v[kLocal], static_cast<double>(std::min<int64_t>(o_.local_window, p + 1)) * u);
    add(kEntropy, v[kEntropy], 0.0);  // no chance-corrected form
    add(kDistance, v[kDistance], 0.0);
    std::vector<double>& hist = out_.histogram(layer, head);
    if (hist.size() < bins_) hist.resize(bins_, 0.0);
    for (size_t k = 0; k < bins_; ++k) hist[k] += v[kStats + 1 + k];
  }

  const HeadStatsOptions& o_;
  HeadStats& out_;
  std::vector<TokenPositions> positions_;  // per sequence of the batch
  int64_t B_ = 0, H_ = 0, T_ = 0, n_past_ = 0;
  size_t bins_ = 0, width_ = 0;
  std::vector<float> rows_;  // [B, H, T, width_] of the current layer call
};

void check_options(const HeadStatsOptions& o) {
  if (o.sink_tokens < 1)
    fail(ErrorKind::InvalidArgument, "sink_tokens must be >= 1, got " + std::to_string(o.sink_tokens));
  if (o.local_window < 1)
    fail(ErrorKind::InvalidArgument, "local_window must be >= 1, got " + std::to_string(o.local_window));
  if (o.seq_len && *o.seq_len < 1)
    fail(ErrorKind::InvalidArgument, "seq_len must be >= 1, got " + std::to_string(*o.seq_len));
  if (o.chunk < 0) fail(ErrorKind::InvalidArgument, "chunk must be >= 0, got " + std::to_string(o.chunk));
}

}  // namespace

HeadStats::HeadStats(int n_layer, int n_head)
    : n_layer_(n_layer),
      n_head_(n_head),
      sums_(kStats * static_cast<size_t>(n_layer) * static_cast<size_t>(n_head)),
      histograms_(static_cast<size_t>(n_layer) * static_cast<size_t>(n_head)) {}

const std::vector<std::string>& HeadStats::names() {
  static const std::vector<std::string> n{"previous_token", "first_token",     "current_token",
                                          "induction",      "duplicate_token", "sink_mass",
                                          "local_mass",     "entropy",         "mean_distance"};
  return n;
}

size_t HeadStats::stat_index(const std::string& name) const {
  const auto& n = names();
  const auto it = std::find(n.begin(), n.end(), name);
  if (it == n.end()) fail(ErrorKind::NotFound, "no head statistic '" + name + "'" + did_you_mean(name, n));
  return static_cast<size_t>(it - n.begin());
}

size_t HeadStats::index(size_t stat, int layer, int head) const {
  if (layer < 0 || layer >= n_layer_ || head < 0 || head >= n_head_)
    fail(ErrorKind::InvalidArgument, "head L" + std::to_string(layer) + "H" + std::to_string(head) +
                                         " is outside the model's " + std::to_string(n_layer_) + " layers x " +
                                         std::to_string(n_head_) + " heads");
  return (stat * static_cast<size_t>(n_layer_) + static_cast<size_t>(layer)) * static_cast<size_t>(n_head_) +
         static_cast<size_t>(head);
}

double HeadStats::value(const std::string& name, int layer, int head, bool chance_corrected) const {
  const size_t stat = stat_index(name);
  const Sum& s = sums_[index(stat, layer, head)];
  if (s.non_finite) return std::nan("");
  if (s.rows == 0) return 0.0;
  const double mean = s.sum / static_cast<double>(s.rows);
  if (!chance_corrected || stat >= kTargetStats) return mean;
  const double u = s.uniform / static_cast<double>(s.rows);
  if (1.0 - u < 1e-12) return 0.0;
  return (mean - u) / (1.0 - u);
}

int64_t HeadStats::rows(const std::string& name, int layer, int head) const {
  return sums_[index(stat_index(name), layer, head)].rows;
}

Tensor HeadStats::table(const std::string& name, bool chance_corrected) const {
  stat_index(name);
  Tensor t({n_layer_, n_head_});
  for (int l = 0; l < n_layer_; ++l)
    for (int h = 0; h < n_head_; ++h)
      t.data()[l * n_head_ + h] = static_cast<float>(value(name, l, h, chance_corrected));
  return t;
}

std::vector<double> HeadStats::distance_histogram(int layer, int head) const {
  const Sum& s = sums_[index(kEntropy, layer, head)];  // every row is an entropy row
  std::vector<double> h = histograms_[static_cast<size_t>(layer) * n_head_ + head];
  for (double& x : h) x = s.rows ? x / static_cast<double>(s.rows) : 0.0;
  return h;
}

void HeadStats::merge(const HeadStats& other) {
  if (other.n_layer_ != n_layer_ || other.n_head_ != n_head_)
    fail(ErrorKind::InvalidArgument, "cannot merge head statistics of " + std::to_string(other.n_layer_) + "x" +
                                         std::to_string(other.n_head_) + " heads into " + std::to_string(n_layer_) +
                                         "x" + std::to_string(n_head_));
  for (size_t i = 0; i < sums_.size(); ++i) {
    sums_[i].sum += other.sums_[i].sum;
    sums_[i].uniform += other.sums_[i].uniform;
    sums_[i].rows += other.sums_[i].rows;
    sums_[i].non_finite |= other.sums_[i].non_finite;
  }
  for (size_t i = 0; i < histograms_.size(); ++i) {
    auto& h = histograms_[i];
    const auto& o = other.histograms_[i];
    if (h.size() < o.size()) h.resize(o.size(), 0.0);
    for (size_t k = 0; k < o.size(); ++k) h[k] += o[k];
  }
}

HeadStats head_statistics(const Model& model, const std::vector<std::vector<int32_t>>& batch,
                          const HeadStatsOptions& options, const std::vector<Intervention>& interventions) {
  check_options(options);
  if (batch.empty()) fail(ErrorKind::InvalidArgument, "head_statistics: no prompts given");
  const ModelConfig& c = model.config();
  HeadStats out(c.n_layer, c.n_head);
  // Equal-length prompts run together; the others one by one (a ragged pass would pad rows).
  std::vector<std::vector<std::vector<int32_t>>> groups;
  for (const auto& ids : batch) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& grp) { return grp[0].size() == ids.size(); });
    if (g == groups.end())
      groups.push_back({ids});
    else
      g->push_back(ids);
  }
  for (const auto& group : groups) {
    StatsObserver observer(options, group, out);
    RunOptions run;
    run.return_logits = false;
    run.pattern_observer = &observer;
    run.prefill_chunk = options.chunk;
    run.interventions = interventions;
    model.run_batch(group, run);
  }
  return out;
}

}  // namespace attnscope
