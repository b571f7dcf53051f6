// The random-repeat induction scan: BOS + a random token segment repeated, one run per seed,
// induction_score(A, n_random_tokens) for every head.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "analysis/run_detail.h"
#include "analysis/scores_detail.h"
#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "tensor/random.h"

namespace attnscope {

namespace {

using detail::SplitMix64;

int byte_of_token_text(const std::string& text) {
  unsigned v = 0;
  char tail = 0;
  if (text.size() == 6 && std::sscanf(text.c_str(), "<0x%2X>%c", &v, &tail) == 1) return static_cast<int>(v);
  return -1;
}

}  // namespace

std::vector<int32_t> random_token_pool(const Model& model) {
  std::vector<int32_t> pool;
  if (!model.has_tokenizer()) {
    for (int32_t i = 0; i < model.config().n_vocab; ++i) pool.push_back(i);
    return pool;
  }
  const Tokenizer& tok = model.tokenizer();
  const int32_t n = std::min(tok.vocab_size(), model.config().n_vocab > 0 ? model.config().n_vocab : tok.vocab_size());
  std::vector<int32_t> bytes;
  for (int32_t i = 0; i < n; ++i) {
    const TokenType t = tok.token_type(i);
    if (i == tok.bos_id() || i == tok.eos_id()) continue;
    if (t == TokenType::Normal && !tok.token_text(i).empty()) {
      pool.push_back(i);
    } else if (t == TokenType::Byte) {
      const int b = byte_of_token_text(tok.token_text(i));
      if (b >= 0x21 && b <= 0x7E) bytes.push_back(i);
    }
  }
  // A byte-level vocabulary has (almost) no ordinary tokens: use its printable bytes.
  if (pool.size() < 64) pool.insert(pool.end(), bytes.begin(), bytes.end());
  std::sort(pool.begin(), pool.end());
  return pool;
}

std::vector<int32_t> random_repeated_tokens(const std::vector<int32_t>& pool, int32_t bos, int n_random_tokens,
                                            int n_repeats, uint64_t seed, bool distinct) {
  if (n_random_tokens < 2)
    fail(ErrorKind::InvalidArgument,
         "induction scan: n_random_tokens must be >= 2, got " + std::to_string(n_random_tokens));
  if (n_repeats < 2)
    fail(ErrorKind::InvalidArgument, "induction scan: n_repeats must be >= 2, got " + std::to_string(n_repeats));
  if (pool.empty()) fail(ErrorKind::InvalidArgument, "induction scan: no ordinary tokens to draw from");
  SplitMix64 rng{seed};
  std::vector<int32_t> seg;
  const size_t n = static_cast<size_t>(n_random_tokens);
  if (distinct && pool.size() >= n) {
    std::vector<int32_t> p(pool);
    for (size_t i = 0; i < n; ++i) {  // partial Fisher-Yates
      const size_t j = i + static_cast<size_t>(rng.below(p.size() - i));
      std::swap(p[i], p[j]);
      seg.push_back(p[i]);
    }
  } else {
    for (size_t i = 0; i < n; ++i) seg.push_back(pool[rng.below(pool.size())]);
  }
  std::vector<int32_t> ids;
  if (bos >= 0) ids.push_back(bos);
  for (int r = 0; r < n_repeats; ++r) ids.insert(ids.end(), seg.begin(), seg.end());
  return ids;
}

InductionScan detect_induction_heads(const Model& model, const InductionOptions& options) {
  detail::check_threshold(options.threshold, "detect_induction_heads");
  if (options.n_seeds < 1)
    fail(ErrorKind::InvalidArgument,
         "detect_induction_heads: n_seeds must be >= 1, got " + std::to_string(options.n_seeds));
  if (options.n_random_tokens < 2 || options.n_repeats < 2)
    fail(ErrorKind::InvalidArgument, "detect_induction_heads: need n_random_tokens >= 2 and n_repeats >= 2, got " +
                                         std::to_string(options.n_random_tokens) + " and " +
                                         std::to_string(options.n_repeats));
  const int32_t bos = model.has_tokenizer() ? model.tokenizer().bos_id() : -1;
  const int64_t length = static_cast<int64_t>(options.n_random_tokens) * options.n_repeats + (bos >= 0 ? 1 : 0);
  const int ctx = model.config().n_ctx;
  if (ctx > 0 && length > ctx)
    fail(ErrorKind::InvalidArgument, "detect_induction_heads: " + std::to_string(options.n_random_tokens) + " x " +
                                         std::to_string(options.n_repeats) + " random tokens" +
                                         (bos >= 0 ? " + BOS" : "") + " = " + std::to_string(length) +
                                         " tokens, longer than the model's context of " + std::to_string(ctx));
  const std::vector<int> layers = detail::checked_layers(model, options.layers, "detect_induction_heads");
  const std::vector<int32_t> pool = random_token_pool(model);

  InductionScan scan;
  scan.options = options;
  std::map<std::pair<int, int>, std::vector<double>> scores;
  for (int s = 0; s < options.n_seeds; ++s) {
    const std::vector<int32_t> ids =
        random_repeated_tokens(pool, bos, options.n_random_tokens, options.n_repeats,
                               options.seed + static_cast<uint64_t>(s), options.distinct_tokens);
    for (const auto& [layer, t] : detail::run_patterns(model, ids, layers, options.weighting))
      for (int h = 0; h < t.dim(1); ++h)
        scores[{layer, h}].push_back(induction_score(head_pattern(t, h, 0), options.n_random_tokens, options.score));
    scan.sequences.push_back(ids);
  }
  for (const auto& [key, v] : scores) {
    InductionHead ih;
    ih.layer = key.first;
    ih.head = key.second;
    double sum = 0;
    for (double x : v) sum += x;
    ih.score = sum / static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - ih.score) * (x - ih.score);
    ih.stddev = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
    ih.min = *std::min_element(v.begin(), v.end());
    ih.max = *std::max_element(v.begin(), v.end());
    scan.all.push_back(ih);
  }
  std::sort(scan.all.begin(), scan.all.end(), [](const InductionHead& a, const InductionHead& b) {
    if (std::isnan(a.score) != std::isnan(b.score)) return std::isnan(b.score);  // NaN (non-finite) last
    if (a.score != b.score && !std::isnan(a.score)) return a.score > b.score;
    return a.layer != b.layer ? a.layer < b.layer : a.head < b.head;
  });
  for (const auto& h : scan.all)
    if (h.score >= options.threshold) scan.heads.push_back(h);
  return scan;
}

InductionScan detect_induction_heads(const Model& model, int n_random_tokens, int n_repeats, double threshold,
                                     uint64_t seed, const std::vector<int>& layers) {
  InductionOptions o;
  o.n_random_tokens = n_random_tokens;
  o.n_repeats = n_repeats;
  o.threshold = threshold;
  o.seed = seed;
  o.layers = layers;
  return detect_induction_heads(model, o);
}

}  // namespace attnscope
