// IEEE half (fp16) and bfloat16 conversions, written out bit by bit so they do not depend on
// compiler support for _Float16.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace attnscope::detail {

inline float fp16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exact in float (a multiply: ldexp was a tenth of the time
    // of quantised generation, whose small block scales are often subnormal halves).
    const float f = static_cast<float>(mant) * 0x1p-24f;
    return sign ? -f : f;
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan (payload kept)
  } else {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);  // rebias 15 -> 127
  }
  return std::bit_cast<float>(bits);
}

// Round to nearest, ties to even; overflow gives inf, NaN stays NaN.
inline uint16_t f32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) return sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u : 0u);
  if (ax >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to inf
  if (ax < 0x38800000u) {
    // Below 2^-14: subnormal half. v * 2^24 is exact; nearbyint rounds ties to even.
    float v = std::bit_cast<float>(ax);
    return sign | static_cast<uint16_t>(std::nearbyint(v * 16777216.0f));
  }
  uint32_t h = (((ax >> 23) - 112u) << 10) | ((ax & 0x7FFFFFu) >> 13);
  const uint32_t rem = ax & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry may bump the exponent: correct
  return sign | static_cast<uint16_t>(h);
}

inline float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7FFFu + ((x >> 16) & 1u);                                                       // round to nearest even
  return static_cast<uint16_t>(x >> 16);
}

}  // namespace attnscope::detail
