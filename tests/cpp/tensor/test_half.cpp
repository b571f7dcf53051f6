// The bit-by-bit half conversions against the compiler's own _Float16 arithmetic (GCC >= 12 on
// x86-64), for every one of the 65536 half values.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "tensor/half.h"

using namespace attnscope;

TEST(Half, EveryHalfDecodesAsTheCompilersFloat16) {
  for (uint32_t h = 0; h <= 0xFFFFu; ++h) {
    const float want = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(h)));
    const float got = detail::fp16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << h;  // -0 too
      ASSERT_EQ(detail::f32_to_fp16(got), h) << h;                                  // and back
    }
  }
}
