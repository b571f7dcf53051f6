// Closed-form checks of the head scores, the detector and the summaries on synthetic patterns.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "attnscope/analysis.h"
#include "attnscope/error.h"

using namespace attnscope;

namespace {

double harmonic(int64_t n) {
  double h = 0;
  for (int64_t m = 1; m <= n; ++m) h += 1.0 / static_cast<double>(m);
  return h;
}

// Causal pattern whose row p puts all its weight on target(p) (clamped into 0..p).
template <class F>
Tensor one_hot_pattern(int64_t t, F target) {
  Tensor a({t, t});
  for (int64_t p = 0; p < t; ++p) {
    int64_t c = target(p);
    if (c < 0 || c > p) c = 0;
    a.at({p, c}) = 1.0f;
  }
  return a;
}

// Random causal rows: softmax of Gaussian logits (a trained-looking, unstructured head).
Tensor random_pattern(int64_t t, uint32_t seed, double temperature = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, temperature);
  Tensor a({t, t});
  for (int64_t p = 0; p < t; ++p) {
    std::vector<double> e(p + 1);
    double z = 0;
    for (auto& x : e) z += (x = std::exp(g(rng)));
    for (int64_t j = 0; j <= p; ++j) a.at({p, j}) = static_cast<float>(e[j] / z);
  }
  return a;
}

const ScoreOptions kRaw{false, false};
const ScoreOptions kCorrected{false, true};

}  // namespace

TEST(Scores, PerfectPatternsScoreOne) {
  for (int64_t t : {2, 5, 17, 64}) {
    const Tensor prev = one_hot_pattern(t, [](int64_t p) { return p - 1; });
    const Tensor first = one_hot_pattern(t, [](int64_t) { return 0; });
    const Tensor cur = one_hot_pattern(t, [](int64_t p) { return p; });
    for (const auto& o : {kRaw, kCorrected, ScoreOptions{true, false}, ScoreOptions{true, true}}) {
      if (t > 2 || !o.exclude_bos) {  // t = 2 with BOS excluded leaves no previous-token row
        EXPECT_DOUBLE_EQ(previous_token_score(prev, o), 1.0) << t;
      }
      EXPECT_DOUBLE_EQ(first_token_score(first, o), 1.0) << t;
      EXPECT_DOUBLE_EQ(current_token_score(cur, o), 1.0) << t;
    }
  }
  // Induction on BOS + n random tokens repeated twice: row p looks at p - n + 1.
  for (int n : {3, 10, 50}) {
    const int64_t t = 1 + 2 * n;
    const Tensor ind = one_hot_pattern(t, [n](int64_t p) { return p - n + 1; });
    EXPECT_DOUBLE_EQ(induction_score(ind, n, kRaw), 1.0);
    EXPECT_DOUBLE_EQ(induction_score(ind, n, kCorrected), 1.0);
    EXPECT_DOUBLE_EQ(induction_score(ind, n, ScoreOptions{true, true}), 1.0);
  }
}

TEST(Scores, UniformHeadsMatchClosedFormAndCorrectToZero) {
  for (int64_t t = 2; t <= 64; ++t) {
    const Tensor u = uniform_causal_pattern(t);
    const double ht = harmonic(t);
    EXPECT_NEAR(first_token_score(u, kRaw), ht / t, 1e-6) << t;
    EXPECT_NEAR(current_token_score(u, kRaw), ht / t, 1e-6) << t;
    EXPECT_NEAR(previous_token_score(u, kRaw), (ht - 1.0) / (t - 1), 1e-6) << t;
    for (int n = 2; n <= t; n += 3)
      EXPECT_NEAR(induction_score(u, n, kRaw), (ht - harmonic(n - 1)) / (t - n + 1), 1e-6) << t << " " << n;
    for (const auto& o : {kCorrected, ScoreOptions{true, true}}) {
      EXPECT_NEAR(first_token_score(u, o), 0.0, 1e-6) << t;
      EXPECT_NEAR(current_token_score(u, o), 0.0, 1e-6) << t;
      EXPECT_NEAR(previous_token_score(u, o), 0.0, 1e-6) << t;
      for (int n = 2; n <= t; n += 3) EXPECT_NEAR(induction_score(u, n, o), 0.0, 1e-6) << t;
    }
  }
  // The example: a uniform head on a 6-token prompt scores 0.41 raw, 0 corrected.
  const Tensor u6 = uniform_causal_pattern(6);
  EXPECT_NEAR(first_token_score(u6), 0.408, 1e-3);
  EXPECT_GE(first_token_score(u6), 0.4);
  EXPECT_EQ(AttentionPatternDetector().classify_head(u6), std::vector<std::string>{"unknown"});
  AttentionPatternDetector raw;
  raw.options.chance_corrected = false;
  EXPECT_EQ(raw.classify_head(u6), (std::vector<std::string>{"first_token", "current_token"}));
}

TEST(Scores, TokenScoresOnUniformHeadsCorrectToZero) {
  const std::vector<int32_t> toks = {1, 7, 8, 9, 7, 8, 9, 4, 7, 8};
  const Tensor u = uniform_causal_pattern(static_cast<int64_t>(toks.size()));
  EXPECT_NEAR(duplicate_token_score(u, toks, kCorrected), 0.0, 1e-6);
  EXPECT_NEAR(induction_score(u, toks, kCorrected), 0.0, 1e-6);
  // Raw duplicate by hand: rows 4,5,6 have one earlier copy; row 8 two (7 at 1,4), row 9 two.
  const double dup = (1.0 / 5 + 1.0 / 6 + 1.0 / 7 + 2.0 / 9 + 2.0 / 10) / 5;
  EXPECT_NEAR(duplicate_token_score(u, toks, kRaw), dup, 1e-6);
}

TEST(Scores, TokenBasedInductionAndDuplicate) {
  // BOS a b c d a b c d: a perfect induction head at row p (second copy) looks at p - 3.
  const std::vector<int32_t> toks = {1, 10, 11, 12, 13, 10, 11, 12, 13};
  const int64_t t = static_cast<int64_t>(toks.size());
  const Tensor ind = one_hot_pattern(t, [](int64_t p) { return p >= 5 ? p - 3 : 0; });
  EXPECT_DOUBLE_EQ(induction_score(ind, toks, kRaw), 1.0);
  // Fixed-period form: rows 3..8; row 3 targets column 0 (where this pattern also looks), row 4
  // targets column 1 (not looked at).
  EXPECT_DOUBLE_EQ(induction_score(ind, 4, kRaw), 5.0 / 6);
  const Tensor dup = one_hot_pattern(t, [](int64_t p) { return p >= 5 ? p - 4 : 0; });
  EXPECT_DOUBLE_EQ(duplicate_token_score(dup, toks, kRaw), 1.0);
  EXPECT_DOUBLE_EQ(duplicate_token_score(ind, toks, kRaw), 0.0);
  EXPECT_DOUBLE_EQ(induction_score(dup, toks, kRaw), 0.0);
  // No repeated token: no qualifying row, defined as 0.
  const std::vector<int32_t> distinct = {1, 2, 3, 4};
  EXPECT_EQ(duplicate_token_score(uniform_causal_pattern(4), distinct), 0.0);
  // The detector scores induction/duplicate only when there are repeats.
  AttentionPatternDetector det;
  Tensor mixed = uniform_causal_pattern(t);  // first copy: uniform, second copy: induction
  for (int64_t p = 5; p < t; ++p)
    for (int64_t j = 0; j < t; ++j) mixed.at({p, j}) = (j == p - 3) ? 1.0f : 0.0f;
  const HeadScores s = det.analyze_head(mixed, HeadContext{std::nullopt, toks});
  ASSERT_TRUE(s.induction && s.duplicate_token);
  EXPECT_EQ(det.classify(s), std::vector<std::string>{"induction"});
  EXPECT_FALSE(det.analyze_head(uniform_causal_pattern(4), HeadContext{std::nullopt, distinct}).induction);
}

TEST(Scores, RandomPatternsStayLow) {
  double worst = 0;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    const Tensor a = random_pattern(64, seed);
    for (double s : {previous_token_score(a, kCorrected), first_token_score(a, kCorrected),
                     current_token_score(a, kCorrected), induction_score(a, 20, kCorrected)})
      worst = std::max(worst, std::abs(s));
    EXPECT_LT(previous_token_score(a, kRaw), 0.15);
    EXPECT_LT(first_token_score(a, kRaw), 0.15);
    EXPECT_LT(current_token_score(a, kRaw), 0.15);
    EXPECT_EQ(AttentionPatternDetector().classify_head(a), std::vector<std::string>{"unknown"});
  }
  EXPECT_LT(worst, 0.1);
}

TEST(Scores, ExcludeBosDropsRowAndColumnZero) {
  // A "previous token" head that sends row 1 to BOS as it must: with exclude_bos row 1 is dropped.
  const Tensor prev = one_hot_pattern(4, [](int64_t p) { return p - 1; });
  const Tensor half = [] {
    Tensor a = one_hot_pattern(4, [](int64_t p) { return p - 1; });
    a.at({1, 0}) = 0.5f;
    a.at({1, 1}) = 0.5f;
    return a;
  }();
  EXPECT_NEAR(previous_token_score(half, kRaw), (0.5 + 1 + 1) / 3, 1e-6);
  EXPECT_DOUBLE_EQ(previous_token_score(half, ScoreOptions{true, false}), 1.0);
  // First-token with exclude_bos keeps column 0 but drops row 0.
  EXPECT_NEAR(first_token_score(prev, kRaw), 0.5, 1e-6);
  EXPECT_NEAR(first_token_score(prev, ScoreOptions{true, false}), 1.0 / 3, 1e-6);
}

TEST(Scores, RectangularPatternsUseAbsolutePositions) {
  // The last 3 rows of a 6x6 previous-token pattern, as a [3, 6] generation-step pattern.
  const Tensor full = one_hot_pattern(6, [](int64_t p) { return p - 1; });
  Tensor tail({3, 6});
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 6; ++c) tail.at({r, c}) = full.at({r + 3, c});
  EXPECT_DOUBLE_EQ(previous_token_score(tail), 1.0);
  EXPECT_DOUBLE_EQ(current_token_score(tail), 0.0);
}

TEST(Scores, BadInputsAreClearErrors) {
  EXPECT_THROW(previous_token_score(Tensor({4})), Error);
  EXPECT_THROW(first_token_score(Tensor({0, 0})), Error);
  EXPECT_THROW(current_token_score(Tensor({5, 3})), Error);
  EXPECT_THROW(induction_score(uniform_causal_pattern(4), 0), Error);
  EXPECT_THROW(duplicate_token_score(uniform_causal_pattern(4), std::vector<int32_t>{1, 2}), Error);
  EXPECT_THROW(AttentionPatternDetector(1.5), Error);
  EXPECT_THROW(AttentionPatternDetector(0.4, -0.1), Error);
  EXPECT_THROW(AttentionPatternDetector::uniform_threshold(std::nan("")), Error);
  EXPECT_THROW(AttentionPatternDetector().threshold("diagonal"), Error);
  PatternRegistry reg;
  EXPECT_THROW(reg.register_pattern("", [](const Tensor&) { return 0.0; }), Error);
  EXPECT_THROW(reg.register_pattern("x", nullptr), Error);
  EXPECT_THROW(reg.register_pattern(
                   "x", [](const Tensor&) { return 0.0; }, 2.0),
               Error);
  EXPECT_THROW(uniform_causal_pattern(0), Error);
  EXPECT_THROW(head_pattern(Tensor({2, 3, 3}), 3), Error);
  // One-row pattern: defined (uniform = perfect, corrected score 0).
  EXPECT_DOUBLE_EQ(first_token_score(uniform_causal_pattern(1)), 1.0);
  EXPECT_DOUBLE_EQ(first_token_score(uniform_causal_pattern(1), kCorrected), 0.0);
  EXPECT_DOUBLE_EQ(previous_token_score(uniform_causal_pattern(1)), 0.0);
}

TEST(Scores, EntropyAndLayerSummary) {
  const Tensor u = uniform_causal_pattern(8);
  double h = 0;
  for (int p = 0; p < 8; ++p) h += std::log(p + 1.0);
  EXPECT_NEAR(pattern_entropy(u), h / 8, 1e-6);
  EXPECT_NEAR(normalized_pattern_entropy(u), 1.0, 1e-6);
  const Tensor cur = one_hot_pattern(8, [](int64_t p) { return p; });
  EXPECT_NEAR(pattern_entropy(cur), 0.0, 1e-9);
  // [1, 2, 8, 8]: head 0 uniform, head 1 diagonal.
  Tensor both({1, 2, 8, 8});
  std::copy(u.data(), u.data() + 64, both.data());
  std::copy(cur.data(), cur.data() + 64, both.data() + 64);
  const LayerSummary s = layer_attention_summary(both, 3);
  EXPECT_EQ(s.layer, 3);
  ASSERT_EQ(s.entropy.size(), 2u);
  EXPECT_NEAR(s.norm_entropy[0], 1.0, 1e-6);
  EXPECT_NEAR(s.norm_entropy[1], 0.0, 1e-6);
  EXPECT_NEAR(s.mean.at({4, 4}), (0.2 + 1.0) / 2, 1e-6);
  EXPECT_NEAR(s.max.at({4, 4}), 1.0, 1e-6);
  EXPECT_NEAR(s.max.at({4, 0}), 0.2, 1e-6);
  const std::string csv = format_report(std::vector<LayerSummary>{s}, ReportFormat::Csv);
  EXPECT_NE(csv.find("3,0,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("3,1,0.000,0.000"), std::string::npos) << csv;
}

TEST(Scores, RegistryAndFindOnCapturedPatterns) {
  // layer 0: [1, 3, 10, 10] = previous, first, uniform.
  const int64_t t = 10;
  Tensor l0({1, 3, t, t});
  const Tensor parts[3] = {one_hot_pattern(t, [](int64_t p) { return p - 1; }),
                           one_hot_pattern(t, [](int64_t) { return 0; }), uniform_causal_pattern(t)};
  for (int h = 0; h < 3; ++h) std::copy(parts[h].data(), parts[h].data() + t * t, l0.data() + h * t * t);
  const std::map<int, Tensor> pats{{0, l0}};
  PatternRegistry reg = PatternRegistry::with_builtin();
  reg.register_pattern(
      "diagonal", [](const Tensor& a) { return current_token_score(a); }, 0.3);
  const auto all = reg.detect_all(pats);
  ASSERT_EQ(all.size(), 4u);
  ASSERT_EQ(all.at("previous_token").size(), 1u);
  EXPECT_EQ(all.at("previous_token")[0].head, 0);
  ASSERT_EQ(all.at("first_token").size(), 1u);  // raw scores: the previous head has first 0.2
  EXPECT_EQ(all.at("first_token")[0].head, 1);
  EXPECT_TRUE(all.at("diagonal").empty());
  const auto found = find_attention_pattern(
      pats, [](const Tensor& a) { return first_token_score(a); }, 0.1);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].head, 1);  // best first
  EXPECT_GE(found[0].score, found[1].score);
  const HeadTypeReport r = classify_heads(pats, std::vector<int32_t>(t, 5) /* all repeats */);
  EXPECT_EQ(r.heads_of("previous_token"), (std::vector<std::pair<int, int>>{{0, 0}}));
  EXPECT_FALSE(format_report(r, ReportFormat::Json).empty());
  EXPECT_NE(format_report(r, ReportFormat::Csv).find("layer,head"), std::string::npos);
  EXPECT_NE(format_report(all, ReportFormat::Table).find("previous_token"), std::string::npos);
}

// A head whose pattern holds a NaN is not attention: every score is NaN (not a number computed
// from the finite entries or 0), its only type is non_finite, and the report says which head.
TEST(Scores, NonFinitePatternScoresNaNAndIsReportedByHead) {
  Tensor good = uniform_causal_pattern(4);
  Tensor bad = uniform_causal_pattern(4);
  bad.data()[2 * 4 + 1] = std::numeric_limits<float>::quiet_NaN();  // one entry, not on any target row
  const std::vector<int32_t> toks = {1, 5, 6, 5};
  for (const ScoreOptions& o : {ScoreOptions{false, false}, ScoreOptions{true, true}}) {
    EXPECT_TRUE(std::isnan(previous_token_score(bad, o)));
    EXPECT_TRUE(std::isnan(first_token_score(bad, o)));
    EXPECT_TRUE(std::isnan(current_token_score(bad, o)));
    EXPECT_TRUE(std::isnan(induction_score(bad, 2, o)));
    EXPECT_TRUE(std::isnan(induction_score(bad, toks, o)));
    EXPECT_TRUE(std::isnan(duplicate_token_score(bad, toks, o)));
    EXPECT_FALSE(std::isnan(previous_token_score(good, o)));
  }
  EXPECT_TRUE(std::isnan(pattern_entropy(bad)));
  const AttentionPatternDetector det;
  EXPECT_EQ(det.classify_head(bad), std::vector<std::string>{kNonFinite});

  // Layer 0 holds heads [good, bad] as [1, 2, 4, 4].
  Tensor layer({1, 2, 4, 4});
  std::copy(good.data(), good.data() + 16, layer.data());
  std::copy(bad.data(), bad.data() + 16, layer.data() + 16);
  const HeadTypeReport r = classify_heads({{0, layer}}, toks);
  EXPECT_EQ(r.heads_of(kNonFinite), (std::vector<std::pair<int, int>>{{0, 1}}));
  const std::string table = format_report(r, ReportFormat::Table);
  EXPECT_EQ(table.rfind("warning: 1 head holds non-finite attention", 0), 0u) << table;
  EXPECT_NE(table.find("L0H1"), std::string::npos) << table;
  const auto j = nlohmann::json::parse(format_report(r, ReportFormat::Json));
  EXPECT_TRUE(j["heads"][1]["scores"]["previous_token"].is_null());
  EXPECT_EQ(j["by_type"]["non_finite"][0], nlohmann::json({0, 1}));
}
