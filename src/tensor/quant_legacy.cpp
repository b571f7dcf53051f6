// The 32-element "legacy" ggml quantisations: decoders and simple round-to-nearest encoders.
//
// Layouts (little-endian, d/m are fp16):
//   Q4_0 { d; qs[16] }          x[i] = d * (nibble_i - 8)
//   Q4_1 { d; m; qs[16] }       x[i] = d * nibble_i + m
//   Q5_0 { d; qh[4]; qs[16] }   x[i] = d * ((nibble_i | bit_i(qh) << 4) - 16)
//   Q5_1 { d; m; qh[4]; qs[16] } x[i] = d * (nibble_i | bit_i(qh) << 4) + m
//   Q8_0 { d; qs[32] int8 }     x[i] = d * qs[i]
//   Q8_1 { d; s; qs[32] int8 }  x[i] = d * qs[i]   (s = d * sum(qs) is only used by dot products)
// where nibble_i for i < 16 is the low nibble of qs[i] and for i >= 16 the high nibble of qs[i-16].
#include <algorithm>
#include <cmath>

#include "tensor/quant_impl.h"

namespace attnscope::detail {

namespace {
inline int nibble(const uint8_t* qs, int i) { return i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4); }
inline int qh_bit(const uint8_t* qh, int i) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return static_cast<int>((bits >> i) & 1u);
}
}  // namespace

void dequant_q4_0(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ4_0Bytes, dst += kQK) {
    const float d = load_f16(src);
    const uint8_t* qs = src + 2;
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(nibble(qs, i) - 8);
  }
}

void dequant_q4_1(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ4_1Bytes, dst += kQK) {
    const float d = load_f16(src), m = load_f16(src + 2);
    const uint8_t* qs = src + 4;
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(nibble(qs, i)) + m;
  }
}

void dequant_q5_0(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ5_0Bytes, dst += kQK) {
    const float d = load_f16(src);
    const uint8_t* qh = src + 2;
    const uint8_t* qs = src + 6;
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>((nibble(qs, i) | (qh_bit(qh, i) << 4)) - 16);
  }
}

void dequant_q5_1(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ5_1Bytes, dst += kQK) {
    const float d = load_f16(src), m = load_f16(src + 2);
    const uint8_t* qh = src + 4;
    const uint8_t* qs = src + 8;
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(nibble(qs, i) | (qh_bit(qh, i) << 4)) + m;
  }
}

void dequant_q8_0(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ8_0Bytes, dst += kQK) {
    const float d = load_f16(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(qs[i]);
  }
}

void dequant_q8_1(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ8_1Bytes, dst += kQK) {
    const float d = load_f16(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 4);
    for (int i = 0; i < kQK; ++i) dst[i] = d * static_cast<float>(qs[i]);
  }
}

// ---- encoders ---------------------------------------------------------------------------------
// Symmetric types put the element of largest magnitude on the extreme code (-8 / -16), which uses
// the one extra negative level; asymmetric types span [min, max]. Codes are rounded to nearest
// using the fp16-rounded scale actually stored, so decoding reproduces what was intended.

namespace {
// Element with the largest |x| (its sign matters for the symmetric types).
float signed_absmax(const float* x) {
  float best = 0.0f;
  for (int i = 0; i < kQK; ++i)
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  return best;
}

void set_nibble(uint8_t* qs, int i, int v) {
  if (i < 16)
    qs[i] = static_cast<uint8_t>((qs[i] & 0xF0) | (v & 0x0F));
  else
    qs[i - 16] = static_cast<uint8_t>((qs[i - 16] & 0x0F) | ((v & 0x0F) << 4));
}

// Quantises x to codes 0..levels with x ~ d * code + offset. Writes codes.
void codes_affine(const float* x, float d, float offset, int levels, int* codes) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < kQK; ++i) {
    float c = std::nearbyint((x[i] - offset) * id);
    codes[i] = static_cast<int>(std::clamp(c, 0.0f, static_cast<float>(levels)));
  }
}

void minmax(const float* x, float& mn, float& mx) {
  mn = mx = x[0];
  for (int i = 1; i < kQK; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
}
}  // namespace

void quant_q8_0(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += kQ8_0Bytes) {
    float amax = std::fabs(signed_absmax(src));
    store_f16(dst, amax / 127.0f);
    const float d = load_f16(dst);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < kQK; ++i) {
      float q = std::clamp(std::nearbyint(src[i] * id), -127.0f, 127.0f);
      dst[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
    }
  }
}

void quant_q4_0(const float* src, uint8_t* dst, int64_t nblocks) {
  int codes[kQK];
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += kQ4_0Bytes) {
    store_f16(dst, signed_absmax(src) / -8.0f);
    const float d = load_f16(dst);
    codes_affine(src, d, -8.0f * d, 15, codes);
    std::memset(dst + 2, 0, 16);
    for (int i = 0; i < kQK; ++i) set_nibble(dst + 2, i, codes[i]);
  }
}

void quant_q5_0(const float* src, uint8_t* dst, int64_t nblocks) {
  int codes[kQK];
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += kQ5_0Bytes) {
    store_f16(dst, signed_absmax(src) / -16.0f);
    const float d = load_f16(dst);
    codes_affine(src, d, -16.0f * d, 31, codes);
    uint32_t qh = 0;
    std::memset(dst + 6, 0, 16);
    for (int i = 0; i < kQK; ++i) {
      set_nibble(dst + 6, i, codes[i]);
      qh |= static_cast<uint32_t>((codes[i] >> 4) & 1) << i;
    }
    std::memcpy(dst + 2, &qh, 4);
  }
}

void quant_q4_1(const float* src, uint8_t* dst, int64_t nblocks) {
  int codes[kQK];
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += kQ4_1Bytes) {
    float mn, mx;
    minmax(src, mn, mx);
    store_f16(dst + 2, mn);
    const float m = load_f16(dst + 2);
    store_f16(dst, (mx - m) / 15.0f);
    const float d = load_f16(dst);
    codes_affine(src, d, m, 15, codes);
    std::memset(dst + 4, 0, 16);
    for (int i = 0; i < kQK; ++i) set_nibble(dst + 4, i, codes[i]);
  }
}

void quant_q5_1(const float* src, uint8_t* dst, int64_t nblocks) {
  int codes[kQK];
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += kQ5_1Bytes) {
    float mn, mx;
    minmax(src, mn, mx);
    store_f16(dst + 2, mn);
    const float m = load_f16(dst + 2);
    store_f16(dst, (mx - m) / 31.0f);
    const float d = load_f16(dst);
    codes_affine(src, d, m, 31, codes);
    uint32_t qh = 0;
    std::memset(dst + 8, 0, 16);
    for (int i = 0; i < kQK; ++i) {
      set_nibble(dst + 8, i, codes[i]);
      qh |= static_cast<uint32_t>((codes[i] >> 4) & 1) << i;
    }
    std::memcpy(dst + 4, &qh, 4);
  }
}

}  // namespace attnscope::detail
