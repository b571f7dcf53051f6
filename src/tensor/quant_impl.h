// Private: per-type block decoders and encoders behind attnscope::dequantize / quantize.
// Each function handles `nblocks` consecutive blocks; `src` may be unaligned (fields are read
// with memcpy), and layouts follow the ggml block formats byte for byte (little-endian).
#pragma once
#include <cstdint>
#include <cstring>

#include "tensor/half.h"

namespace attnscope::detail {

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float load_f16(const uint8_t* p) { return fp16_to_f32(load_u16(p)); }
inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void store_f16(uint8_t* p, float f) {
  uint16_t h = f32_to_fp16(f);
  std::memcpy(p, &h, 2);
}

// Block sizes (elements, bytes).
constexpr int kQK = 32;    // legacy quants
constexpr int kQKK = 256;  // K-quants (super-block)
constexpr int kQ4_0Bytes = 2 + 16;
constexpr int kQ4_1Bytes = 2 + 2 + 16;
constexpr int kQ5_0Bytes = 2 + 4 + 16;
constexpr int kQ5_1Bytes = 2 + 2 + 4 + 16;
constexpr int kQ8_0Bytes = 2 + 32;
constexpr int kQ8_1Bytes = 2 + 2 + 32;
constexpr int kQ2_KBytes = 16 + 64 + 2 + 2;
constexpr int kQ3_KBytes = 32 + 64 + 12 + 2;
constexpr int kQ4_KBytes = 2 + 2 + 12 + 128;
constexpr int kQ5_KBytes = 2 + 2 + 12 + 32 + 128;
constexpr int kQ6_KBytes = 128 + 64 + 16 + 2;
constexpr int kQ8_KBytes = 4 + 256 + 16 * 2;

// Legacy 32-element blocks (quant_legacy.cpp).
void dequant_q4_0(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q4_1(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q5_0(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q5_1(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q8_0(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q8_1(const uint8_t* src, float* dst, int64_t nblocks);
void quant_q4_0(const float* src, uint8_t* dst, int64_t nblocks);
void quant_q4_1(const float* src, uint8_t* dst, int64_t nblocks);
void quant_q5_0(const float* src, uint8_t* dst, int64_t nblocks);
void quant_q5_1(const float* src, uint8_t* dst, int64_t nblocks);
void quant_q8_0(const float* src, uint8_t* dst, int64_t nblocks);

// K-quants, 256-element super-blocks (quant_kquants.cpp).
void dequant_q2_k(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q3_k(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q4_k(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q5_k(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q6_k(const uint8_t* src, float* dst, int64_t nblocks);
void dequant_q8_k(const uint8_t* src, float* dst, int64_t nblocks);
void quant_q4_k(const float* src, uint8_t* dst, int64_t nblocks);
void quant_q6_k(const float* src, uint8_t* dst, int64_t nblocks);
// 6-bit scale and min of sub-block j (0..7) from the 12-byte packing of Q4_K / Q5_K: the first
// four pairs sit in the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); the last four keep
// their low 4 bits in bytes 8..11 (scale low nibble, min high nibble) and their top 2 bits in the
// top 2 bits of bytes 0..3 (scales) and 4..7 (mins).
inline void k4_scale_min(const uint8_t* s, int j, int& scale, int& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// All eight (scale, min) pairs of a Q4_K/Q5_K super-block at once, four bytes per word operation
// (the same layout as k4_scale_min: 6-bit values, the top two bits of 8..11's pairs kept in the
// top bits of bytes 0..7). Hot in generation's integer dot products.
inline void k4_scales_mins(const uint8_t* s, uint8_t scale[8], uint8_t min[8]) {
  uint32_t a, b, c;
  std::memcpy(&a, s, 4);
  std::memcpy(&b, s + 4, 4);
  std::memcpy(&c, s + 8, 4);
  const uint32_t lo[2] = {a & 0x3F3F3F3Fu, (c & 0x0F0F0F0Fu) | (((a >> 6) & 0x03030303u) << 4)};
  const uint32_t mn[2] = {b & 0x3F3F3F3Fu, ((c >> 4) & 0x0F0F0F0Fu) | (((b >> 6) & 0x03030303u) << 4)};
  std::memcpy(scale, lo, 8);
  std::memcpy(min, mn, 8);
}

}  // namespace attnscope::detail
