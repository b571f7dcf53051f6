// Row softmax with Highway's vectorised exp (hwy/contrib/math), for the bfloat16 compute path:
// the attention softmax is O(H T^2) and a scalar std::exp per entry costs seconds on long
// prompts. Same semantics as ops::softmax_rows: -inf entries give 0, a row of only -inf gives all
// zeros, a row holding a NaN gives all NaN. Values differ from std::exp by an ulp or two, which
// is why the float32 path keeps ops::softmax_rows.
// Highway re-includes this file per target: foreach_target.h comes right after HWY_TARGET_INCLUDE
// and before highway.h, so the include sorter must leave this block alone.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/softmax_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>
// clang-format on

#include "tensor/softmax_kernels.h"

#include <algorithm>
#include <limits>

#include "tensor/parallel.h"

HWY_BEFORE_NAMESPACE();
namespace attnscope::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void SoftmaxRow(float* v, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const float ninf = -std::numeric_limits<float>::infinity();
  auto vmax = hn::Set(d, ninf);
  auto nan = hn::FirstN(d, 0);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto x = hn::LoadU(d, v + i);
    nan = hn::Or(nan, hn::Not(hn::Eq(x, x)));  // (Ne is an ordered compare: false for NaN)
    vmax = hn::Max(vmax, x);
  }
  float mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
  bool has_nan = !hn::AllFalse(d, nan);
  for (int64_t j = i; j < n; ++j) {
    has_nan |= v[j] != v[j];
    mx = std::max(mx, v[j]);
  }
  if (has_nan) {
    std::fill(v, v + n, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  if (mx == ninf) {
    std::fill(v, v + n, 0.0f);
    return;
  }
  // exp(-inf - mx) is exactly 0: masked entries need no special case.
  const auto m = hn::Set(d, mx);
  auto vsum = hn::Zero(d);
  for (i = 0; i + N <= n; i += N) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, v + i), m));
    hn::StoreU(e, d, v + i);
    vsum = hn::Add(vsum, e);
  }
  double sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (int64_t j = i; j < n; ++j) {
    v[j] = v[j] == ninf ? 0.0f : std::exp(v[j] - mx);
    sum += v[j];
  }
  const auto inv = hn::Set(d, static_cast<float>(1.0 / sum));
  for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, v + i), inv), d, v + i);
  for (int64_t j = i; j < n; ++j) v[j] *= static_cast<float>(1.0 / sum);
}

}  // namespace HWY_NAMESPACE
}  // namespace attnscope::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace attnscope::kernels {

HWY_EXPORT(SoftmaxRow);

void softmax_rows_fast(float* x, int64_t rows, int64_t n) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, n));
  ops::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) HWY_DYNAMIC_DISPATCH(SoftmaxRow)(x + r * n, n);
  });
}

}  // namespace attnscope::kernels
#endif  // HWY_ONCE
