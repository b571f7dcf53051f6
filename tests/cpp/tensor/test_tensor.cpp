#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "attnscope/error.h"
#include "attnscope/tensor.h"
#include "tensor/array_pool.h"

using namespace attnscope;

TEST(Tensor, OwningIsZeroFilledAndIndexedRowMajor) {
  Tensor t({2, 3});
  EXPECT_EQ(t.numel(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data()[i], 0.0f);
  t.at({1, 2}) = 5.0f;
  EXPECT_EQ(t.data()[5], 5.0f);
  EXPECT_THROW(t.at({2, 0}), Error);
}

TEST(Tensor, SliceSharesStorageAndCloneDoesNot) {
  Tensor t({2, 2}, {1, 2, 3, 4});
  Tensor row = t.slice0(1);
  EXPECT_EQ(row.shape(), Shape({2}));
  EXPECT_EQ(row.at({0}), 3.0f);
  Tensor c = t.clone();
  t.at({1, 0}) = 9.0f;
  EXPECT_EQ(row.at({0}), 9.0f);
  EXPECT_EQ(c.at({1, 0}), 3.0f);
}

TEST(Tensor, ViewsAreReadOnly) {
  auto keep = std::make_shared<std::vector<float>>(std::vector<float>{1, 2});
  Tensor v = Tensor::view({2}, keep->data(), keep);
  const Tensor& read = v;  // reading goes through the const overloads
  EXPECT_EQ(read.at({1}), 2.0f);
  EXPECT_THROW(v.data(), Error);
  EXPECT_THROW(Tensor({2}, {1, 2, 3}), Error);
}

TEST(Tensor, RecycledArraysComeBackAndZeroFilledOnesAreZero) {
  // Large arrays return to the pool when the last tensor on them goes, and the next tensor of
  // that size gets the same memory back: dirty for uninitialized(), zeroed for Tensor(shape).
  const Shape shape{64, 1024};  // 256 KB: pooled
  const float* first = nullptr;
  {
    Tensor a = Tensor::uninitialized(shape);
    std::fill(a.data(), a.data() + a.numel(), 7.0f);
    first = std::as_const(a).data();
  }
  EXPECT_GE(detail::pooled_bytes(), size_t{64 * 1024 * sizeof(float)});
  Tensor b(shape);
  EXPECT_EQ(std::as_const(b).data(), first);
  for (int64_t i = 0; i < b.numel(); ++i) ASSERT_EQ(std::as_const(b).data()[i], 0.0f) << i;
  // A clone is an independent copy even when its array is recycled.
  Tensor c = b.clone();
  c.data()[0] = 1.0f;
  EXPECT_EQ(b.at({0, 0}), 0.0f);
}
