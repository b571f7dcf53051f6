// Exact sums and per-head statistics: independent of order and partition to the last bit, and
// equal to closed-form values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "attnscope/scan.h"

using namespace attnscope;

TEST(ExactSum, CancellationThatNaiveSummationLoses) {
  ExactSum s;
  for (double x : {1e100, 1.0, -1e100, 1e-30}) s.add(x);
  EXPECT_EQ(s.value(), 1.0 + 1e-30);  // naive left-to-right summation gives 1e-30
  ExactSum t;
  for (int i = 0; i < 10; ++i) t.add(0.1);
  EXPECT_EQ(t.value(), 1.0);  // the correctly rounded sum of ten 0.1 (naive: 0.9999999999999999)
}

TEST(ExactSum, HalfwayCasesRoundToEven) {
  // 1 + 2^-53 is exactly half-way between 1 and its successor; a tiny extra part decides.
  ExactSum up;
  for (double x : {1.0, 0x1p-53, 0x1p-100}) up.add(x);
  EXPECT_EQ(up.value(), 1.0 + 0x1p-52);
  ExactSum even;
  for (double x : {1.0, 0x1p-53}) even.add(x);
  EXPECT_EQ(even.value(), 1.0);
}

TEST(ExactSum, OrderAndPartitionDoNotChangeTheBits) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  std::vector<double> xs;
  for (int i = 0; i < 5000; ++i) xs.push_back(d(rng) * std::pow(10.0, static_cast<int>(rng() % 12) - 6));
  ExactSum a;
  for (double x : xs) a.add(x);
  std::shuffle(xs.begin(), xs.end(), rng);
  ExactSum b, c;
  for (size_t i = 0; i < xs.size(); ++i) (i % 3 ? b : c).add(xs[i]);
  b.merge(c);
  EXPECT_EQ(a.value(), b.value());
  EXPECT_EQ(ExactSum::from_parts(a.parts()).value(), a.value());
  // And the value is the correctly rounded one: compare with a long double sum of the sorted
  // values, which is accurate to far better than half an ulp of a double here.
  std::sort(xs.begin(), xs.end(), [](double x, double y) { return std::fabs(x) < std::fabs(y); });
  long double ld = 0;
  for (double x : xs) ld += x;
  EXPECT_NEAR(a.value(), static_cast<double>(ld), std::fabs(a.value()) * 1e-15);
}

TEST(ExactSum, NonFiniteInputsPropagate) {
  ExactSum s;
  s.add(1.0);
  s.add(HUGE_VAL);
  EXPECT_EQ(s.value(), HUGE_VAL);
  s.add(-HUGE_VAL);
  EXPECT_TRUE(std::isnan(s.value()));
}

TEST(TQuantile, TableAndSeriesAgree) {
  EXPECT_DOUBLE_EQ(t_quantile_975(1), 12.706204736);
  // The series used past 30 must continue the table smoothly: t(0.975, 40) = 2.021075390,
  // t(0.975, 120) = 1.979930405 (published values).
  EXPECT_NEAR(t_quantile_975(40), 2.021075390, 2e-6);
  EXPECT_NEAR(t_quantile_975(120), 1.979930405, 1e-7);
  EXPECT_LT(t_quantile_975(31), t_quantile_975(30));
}

TEST(ScanStats, ClosedFormMeanStdInterval) {
  ScanPlan plan;
  plan.metrics = {"m"};
  plan.layers = {0};
  plan.n_head = 2;
  ScanStats s(plan);
  const double nan = std::nan("");
  for (double x : {1.0, 2.0, 3.0, 4.0}) s.add({0, {x, x == 1.0 ? 5.0 : nan}});
  const auto sum = s.summary();
  ASSERT_EQ(sum.size(), 2u);
  EXPECT_EQ(sum[0].count, 4);
  EXPECT_DOUBLE_EQ(sum[0].mean, 2.5);
  EXPECT_DOUBLE_EQ(sum[0].std, std::sqrt(5.0 / 3.0));
  EXPECT_NEAR(sum[0].ci_high - sum[0].mean, 3.182446305 * std::sqrt(5.0 / 3.0) / 2.0, 1e-12);
  EXPECT_EQ(sum[1].count, 1);  // NaN = "does not apply", not counted
  EXPECT_EQ(sum[1].mean, 5.0);
  EXPECT_EQ(sum[1].std, 0.0);
  EXPECT_EQ(sum[1].ci_low, 5.0);
}

TEST(ScanStats, MergedPartsAndJsonRoundTripGiveTheSameBits) {
  ScanPlan plan;
  plan.metrics = {"a", "b"};
  plan.layers = {1, 3};
  plan.n_head = 3;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> d(0.0, 1.0);
  std::vector<ScanRow> rows;
  for (int i = 0; i < 300; ++i) {
    ScanRow r{i, {}};
    for (int k = 0; k < 12; ++k) r.values.push_back(d(rng));
    rows.push_back(r);
  }
  ScanStats all(plan), p1(plan), p2(plan);
  for (const auto& r : rows) all.add(r);
  for (size_t i = 0; i < rows.size(); ++i) (i < 123 ? p2 : p1).add(rows[i]);
  ScanStats merged = ScanStats::from_json(p1.to_json());
  merged.merge(ScanStats::from_json(p2.to_json()));
  const auto x = all.summary(), y = merged.summary();
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].mean, y[i].mean);
    EXPECT_EQ(x[i].std, y[i].std);
    EXPECT_EQ(x[i].count, y[i].count);
  }
  ScanPlan other = plan;
  other.n_head = 2;
  EXPECT_THROW(all.merge(ScanStats(other)), std::exception);
}
