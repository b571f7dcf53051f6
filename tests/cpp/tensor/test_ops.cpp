// The numerical kernels against closed forms and naive loops written here.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "attnscope/model.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

using namespace attnscope;

namespace {
std::vector<float> random_vec(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
}  // namespace

TEST(Ops, LinearMatchesNaiveLoopsWithBiasAndAccumulate) {
  for (int64_t M : {1, 3, 64, 130}) {
    const int64_t K = 37, N = 29;
    auto x = random_vec(M * K, 1), W = random_vec(N * K, 2), b = random_vec(N, 3);
    std::vector<float> y(M * N, 0.5f), acc(M * N, 0.5f);
    ops::linear(x.data(), M, K, W.data(), N, b.data(), y.data());
    ops::linear(x.data(), M, K, W.data(), N, nullptr, acc.data(), true);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += static_cast<double>(x[m * K + k]) * W[n * K + k];
        EXPECT_NEAR(y[m * N + n], s + b[n], 1e-4);
        EXPECT_NEAR(acc[m * N + n], s + 0.5, 1e-4);
      }
  }
}

TEST(Ops, StridedBatchedMatmulBroadcastsTheSharedOperand) {
  // src [2, 3, M, K] read through a transposed layout, wei [2, 1, K, N] broadcast over dim 1.
  const int64_t B = 2, G = 3, M = 4, K = 5, N = 6;
  auto s = random_vec(B * G * M * K, 4), w = random_vec(B * K * N, 5);
  // src stored as [B, M, G, K]
  std::vector<float> out(B * G * M * N);
  ops::matmul({{B, G, M, K}, {M * G * K, K, G * K, 1}}, s.data(), {{B, 1, K, N}, {K * N, 1, N, 1}}, w.data(),
              {{B, G, M, N}, {}}, out.data());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += s[((b * M + m) * G + g) * K + k] * w[(b * K + k) * N + n];
          EXPECT_NEAR(out[((b * G + g) * M + m) * N + n], acc, 1e-5);
        }
}

TEST(Ops, SoftmaxRowsSumToOneAndIgnoreMaskedEntries) {
  const float ninf = -std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f, std::log(3.0f), ninf, 1000.0f, 1000.0f, ninf, ninf, ninf, ninf};
  ops::softmax_rows(x.data(), 3, 3);
  EXPECT_NEAR(x[0], 0.25f, 1e-7);
  EXPECT_NEAR(x[1], 0.75f, 1e-7);
  EXPECT_EQ(x[2], 0.0f);
  EXPECT_NEAR(x[3], 0.5f, 1e-7);  // no overflow for large logits
  EXPECT_EQ(x[5], 0.0f);
  EXPECT_EQ(x[6], 0.0f);  // a fully masked row is zeros, not NaN
}

// numpy / PyTorch semantics: softmax over a row holding NaN is NaN everywhere (even one NaN
// among finite scores), an all-NaN row is NaN (not the zeros of a fully masked row), and a row
// whose maximum is +inf is NaN (exp(inf - inf)).
TEST(Ops, SoftmaxOfNaNIsNaNNotAMaskedRow) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {nan, nan, nan, 1.0f, nan, 2.0f, -inf, nan, -inf, inf, 0.0f, -inf, -inf, -inf, -inf};
  ops::softmax_rows(x.data(), 5, 3);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(std::isnan(x[i])) << "entry " << i << " = " << x[i];
  for (int i = 12; i < 15; ++i) EXPECT_EQ(x[i], 0.0f) << "fully masked entry " << i;
}

TEST(Ops, RmsNormAndLayerNormClosedForms) {
  std::vector<float> x = {3.0f, 4.0f}, w = {1.0f, 2.0f}, y(2);
  ops::rmsnorm(x.data(), w.data(), y.data(), 1, 2, 0.0f);  // rms = sqrt(12.5)
  EXPECT_NEAR(y[0], 3.0 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(y[1], 8.0 / std::sqrt(12.5), 1e-6);
  std::vector<float> b = {0.5f, -0.5f};
  ops::layernorm(x.data(), w.data(), b.data(), y.data(), 1, 2, 0.0f);  // mean 3.5, var 0.25
  EXPECT_NEAR(y[0], -1.0 + 0.5, 1e-6);
  EXPECT_NEAR(y[1], 2.0 - 0.5, 1e-6);
}

TEST(Ops, RopeRotatesTheRightPairsByTheRightAngles) {
  // One head of 4 dims, rope over all 4, base 100: frequencies 1 and 1/10.
  const int32_t pos = 3;
  std::vector<float> a = {1, 0, 1, 0}, n = {1, 1, 0, 0};
  ops::rope(a.data(), 1, 1, 4, &pos, 4, 100.0f, false, nullptr);
  EXPECT_NEAR(a[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(a[1], std::sin(3.0), 1e-6);
  EXPECT_NEAR(a[2], std::cos(0.3), 1e-6);
  EXPECT_NEAR(a[3], std::sin(0.3), 1e-6);
  // NeoX pairs (0, 2) and (1, 3).
  ops::rope(n.data(), 1, 1, 4, &pos, 4, 100.0f, true, nullptr);
  EXPECT_NEAR(n[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(n[2], std::sin(3.0), 1e-6);
  EXPECT_NEAR(n[1], std::cos(0.3), 1e-6);
  EXPECT_NEAR(n[3], std::sin(0.3), 1e-6);
  // Frequency factors divide the angle; rope_dim < head_dim leaves the tail alone.
  std::vector<float> f = {1, 0, 1, 0, 7, 8};
  const float factors[] = {2.0f};
  ops::rope(f.data(), 1, 1, 6, &pos, 2, 100.0f, false, factors);
  EXPECT_NEAR(f[0], std::cos(1.5), 1e-6);
  EXPECT_NEAR(f[1], std::sin(1.5), 1e-6);
  EXPECT_EQ(f[2], 1.0f);
  EXPECT_EQ(f[5], 8.0f);
}

TEST(Ops, Activations) {
  std::vector<float> g = {0.0f, 2.0f}, u = {5.0f, 3.0f}, o(2);
  ops::silu_mul(g.data(), u.data(), o.data(), 2);
  EXPECT_NEAR(o[0], 0.0f, 1e-7);
  EXPECT_NEAR(o[1], 2.0 / (1.0 + std::exp(-2.0)) * 3.0, 1e-5);
  std::vector<float> x = {1.0f};
  ops::gelu_tanh(x.data(), 1);
  EXPECT_NEAR(x[0], 0.5 * (1 + std::tanh(std::sqrt(2 / M_PI) * (1 + 0.044715))), 1e-6);
}

TEST(Ops, ThreadCountChangesNothingButSpeed) {
  const int64_t M = 64, K = 512, N = 256;
  auto x = random_vec(M * K, 6), W = random_vec(N * K, 7);
  std::vector<float> a(M * N), b(M * N);
  set_num_threads(1);
  ops::linear(x.data(), M, K, W.data(), N, nullptr, a.data());
  set_num_threads(2);
  ops::linear(x.data(), M, K, W.data(), N, nullptr, b.data());
  set_num_threads(0);
  for (int64_t i = 0; i < M * N; ++i) EXPECT_NEAR(a[i], b[i], 1e-4);
}

// Issue 28: threads writing one float output must never share a 64-byte line. The split is
// checked as parallel_for hands it out (which OpenMP thread got which range), over sizes that are
// and are not multiples of a line and thread counts above the core count.
TEST(Ops, ParallelForGivesThreadsDisjointWholeCacheLines) {
  for (int threads : {2, 3, 7}) {
    set_num_threads(threads);
    for (int64_t n : {int64_t{16}, int64_t{17}, int64_t{100}, int64_t{2048}, int64_t{2053}, int64_t{128256}}) {
      std::vector<std::pair<int64_t, int64_t>> ranges(static_cast<size_t>(threads), {-1, -1});
      std::vector<float> out(static_cast<size_t>(n));
      ops::parallel_for(
          n, 1,
          [&](int64_t b, int64_t e) {
            ranges[static_cast<size_t>(omp_get_thread_num())] = {b, e};
            for (int64_t i = b; i < e; ++i) out[static_cast<size_t>(i)] += 1.0f;
          },
          ops::kFloatsPerLine);
      std::vector<std::pair<int64_t, int64_t>> used;
      for (const auto& r : ranges)
        if (r.first >= 0) used.push_back(r);
      std::sort(used.begin(), used.end());
      ASSERT_FALSE(used.empty());
      EXPECT_EQ(used.front().first, 0);
      EXPECT_EQ(used.back().second, n);
      for (size_t i = 0; i < used.size(); ++i) {
        EXPECT_EQ(used[i].first % ops::kFloatsPerLine, 0) << "n " << n << " threads " << threads;
        if (i > 0) {
          EXPECT_EQ(used[i].first, used[i - 1].second) << "n " << n;  // disjoint, no gap
          // byte ranges [4b, 4e) of different threads never meet inside one 64-byte line
          EXPECT_EQ((4 * used[i].first) % 64, 0);
        }
      }
      EXPECT_EQ(static_cast<int64_t>(used.size()), std::min<int64_t>(threads, (n + 15) / 16)) << n;
      for (float v : out) ASSERT_EQ(v, 1.0f);
    }
  }
  set_num_threads(0);
}

TEST(Ops, ChunkBoundsAreEvenWholeMultiplesCoveringTheRange) {
  for (int64_t n : {0, 1, 15, 16, 33, 1000, 4099})
    for (int64_t parts : {1, 2, 5})
      for (int64_t align : {1, 16}) {
        int64_t at = 0, smallest = n, largest = 0;
        for (int64_t p = 0; p < parts; ++p) {
          const auto [b, e] = ops::chunk_bounds(n, parts, p, align);
          EXPECT_EQ(b, at);
          EXPECT_LE(b, e);
          if (b < n) {
            EXPECT_EQ(b % align, 0);
          }
          smallest = std::min(smallest, e - b), largest = std::max(largest, e - b);
          at = e;
        }
        EXPECT_EQ(at, n);
        if (parts * align <= n) {
          EXPECT_LE(largest - smallest, 2 * align) << n << " " << parts << " " << align;
        }
      }
}

TEST(Ops, TensorsStartOnACacheLine) {
  for (int64_t n : {1, 5, 1000, 70000})
    EXPECT_EQ(reinterpret_cast<uintptr_t>(Tensor::uninitialized({n}).data()) % 64, 0u);
}

TEST(Ops, ParallelForCoversEveryIndexOnce) {
  set_num_threads(2);
  for (int64_t n : {0, 1, 7, 100000}) {
    std::vector<int> seen(static_cast<size_t>(n), 0);
    ops::parallel_for(n, 10, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ++seen[i];
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << n << " " << i;
  }
  set_num_threads(0);
}
