// Highway kernels for StoredWeight: per-type row decoders (to f32 or bf16) and the generation
// product (decode a weight row into L1, dot it with every x row). This file is compiled once per
// SIMD target by hwy/foreach_target.h; HWY_DYNAMIC_DISPATCH picks the best target at run time.
//
// Decoders compute each value with the same float operations, in the same order, as the scalar
// decoders of attnscope::dequantize (no fused multiply-add), so a decoded row is bit-identical to
// the fp32 expansion the float32 path used to keep in memory. Layouts: src/tensor/quant_*.cpp.
// Highway re-includes this file per target: foreach_target.h comes right after HWY_TARGET_INCLUDE
// and before highway.h, so the include sorter must leave this block alone.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/stored_kernels.cpp"
#include "tensor/stored_kernels.h"
// clang-format on

#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/quant_impl.h"

HWY_BEFORE_NAMESPACE();
namespace attnscope::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 float lanes: every block/sub-block length below (16, 32) is a multiple.
using DF = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<DF>;
using DU = hn::RebindToUnsigned<DF>;
using DU8 = hn::Rebind<uint8_t, DF>;
using DI8 = hn::Rebind<int8_t, DF>;
using DU16 = hn::Rebind<uint16_t, DF>;

// Lanes of DF from n bytes of unsigned codes.
HWY_INLINE hn::Vec<DI> LoadU8(const uint8_t* p) {
  const DI di;
  return hn::BitCast(di, hn::PromoteTo(DU(), hn::LoadU(DU8(), p)));
}

HWY_INLINE void DecodeBlocksF16(const uint8_t* src, int64_t n, float* dst) {
  const DF df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto h = hn::LoadU(hn::Rebind<hwy::float16_t, DF>(), reinterpret_cast<const hwy::float16_t*>(src + 2 * i));
    hn::StoreU(hn::PromoteTo(df, h), df, dst + i);
  }
  for (; i < n; ++i) dst[i] = detail::load_f16(src + 2 * i);
}

HWY_INLINE void DecodeBlocksBF16(const uint8_t* src, int64_t n, float* dst) {
  const DF df;
  const DU du;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto u = hn::PromoteTo(du, hn::LoadU(DU16(), reinterpret_cast<const uint16_t*>(src + 2 * i)));
    hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(u)), df, dst + i);
  }
  for (; i < n; ++i) dst[i] = detail::bf16_to_f32(detail::load_u16(src + 2 * i));
}

HWY_INLINE void DecodeQ8_0(const uint8_t* src, int64_t nb, float* dst) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  for (int64_t b = 0; b < nb; ++b, src += detail::kQ8_0Bytes, dst += detail::kQK) {
    const auto d = hn::Set(df, detail::load_f16(src));
    const auto* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (size_t j = 0; j < detail::kQK; j += N)
      hn::StoreU(hn::Mul(d, hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(DI8(), qs + j)))), df, dst + j);
  }
}

// Q4_0 / Q4_1: element j < 16 is the low nibble of qs[j], element 16 + j its high nibble.
template <bool kHasMin>
HWY_INLINE void DecodeQ4Legacy(const uint8_t* src, int64_t nb, float* dst) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  const int64_t bytes = kHasMin ? detail::kQ4_1Bytes : detail::kQ4_0Bytes;
  for (int64_t b = 0; b < nb; ++b, src += bytes, dst += detail::kQK) {
    const auto d = hn::Set(df, detail::load_f16(src));
    const uint8_t* qs = src + (kHasMin ? 4 : 2);
    for (size_t j = 0; j < 16; j += N) {
      const auto v = LoadU8(qs + j);
      auto lo = hn::And(v, hn::Set(di, 15));
      auto hi = hn::ShiftRight<4>(v);
      if constexpr (kHasMin) {
        const auto m = hn::Set(df, detail::load_f16(src + 2));
        hn::StoreU(hn::Add(hn::Mul(d, hn::ConvertTo(df, lo)), m), df, dst + j);
        hn::StoreU(hn::Add(hn::Mul(d, hn::ConvertTo(df, hi)), m), df, dst + 16 + j);
      } else {
        lo = hn::Sub(lo, hn::Set(di, 8));
        hi = hn::Sub(hi, hn::Set(di, 8));
        hn::StoreU(hn::Mul(d, hn::ConvertTo(df, lo)), df, dst + j);
        hn::StoreU(hn::Mul(d, hn::ConvertTo(df, hi)), df, dst + 16 + j);
      }
    }
  }
}

// Q4_K: 4 pairs of 32-element sub-blocks; qs[32p + l] holds element 64p + l (low nibble) and
// 64p + 32 + l (high nibble); x = d*scale*q - dmin*min.
HWY_INLINE void DecodeQ4_K(const uint8_t* src, int64_t nb, float* dst) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  for (int64_t b = 0; b < nb; ++b, src += detail::kQ4_KBytes) {
    const float d = detail::load_f16(src), dmin = detail::load_f16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qs = src + 16;
    for (int p = 0; p < 4; ++p, dst += 64) {
      int sc0, m0, sc1, m1;
      detail::k4_scale_min(scales, 2 * p, sc0, m0);
      detail::k4_scale_min(scales, 2 * p + 1, sc1, m1);
      const auto d0 = hn::Set(df, d * static_cast<float>(sc0)), o0 = hn::Set(df, dmin * static_cast<float>(m0));
      const auto d1 = hn::Set(df, d * static_cast<float>(sc1)), o1 = hn::Set(df, dmin * static_cast<float>(m1));
      const uint8_t* q = qs + 32 * p;
      for (size_t l = 0; l < 32; l += N) {
        const auto v = LoadU8(q + l);
        hn::StoreU(hn::Sub(hn::Mul(d0, hn::ConvertTo(df, hn::And(v, hn::Set(di, 15)))), o0), df, dst + l);
        hn::StoreU(hn::Sub(hn::Mul(d1, hn::ConvertTo(df, hn::ShiftRight<4>(v))), o1), df, dst + 32 + l);
      }
    }
  }
}

// Q6_K: per 128-element half, element 32k + l takes its low 4 bits from ql (low nibble for
// k < 2, high nibble otherwise, byte l + 32*(k&1)) and bits 2k..2k+1 of qh[l]; x = d*sc*(q-32).
HWY_INLINE void DecodeQ6_K(const uint8_t* src, int64_t nb, float* dst) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  const auto k15 = hn::Set(di, 15), k3 = hn::Set(di, 3), k32 = hn::Set(di, 32);
  for (int64_t b = 0; b < nb; ++b, src += detail::kQ6_KBytes) {
    const float d = detail::load_f16(src + 208);
    const auto* sc = reinterpret_cast<const int8_t*>(src + 192);
    for (int h = 0; h < 2; ++h, dst += 128) {
      const uint8_t* L = src + 64 * h;
      const uint8_t* H = src + 128 + 32 * h;
      const int8_t* S = sc + 8 * h;
      for (size_t l = 0; l < 32; l += N) {
        const size_t s = l / 16;
        const auto l0 = LoadU8(L + l), l1 = LoadU8(L + l + 32), hb = LoadU8(H + l);
        const auto q0 = hn::Sub(hn::Or(hn::And(l0, k15), hn::ShiftLeft<4>(hn::And(hb, k3))), k32);
        const auto q1 = hn::Sub(hn::Or(hn::And(l1, k15), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(hb), k3))), k32);
        const auto q2 =
            hn::Sub(hn::Or(hn::ShiftRight<4>(l0), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(hb), k3))), k32);
        const auto q3 = hn::Sub(hn::Or(hn::ShiftRight<4>(l1), hn::ShiftLeft<4>(hn::ShiftRight<6>(hb))), k32);
        hn::StoreU(hn::Mul(hn::Set(df, d * static_cast<float>(S[s])), hn::ConvertTo(df, q0)), df, dst + l);
        hn::StoreU(hn::Mul(hn::Set(df, d * static_cast<float>(S[s + 2])), hn::ConvertTo(df, q1)), df, dst + l + 32);
        hn::StoreU(hn::Mul(hn::Set(df, d * static_cast<float>(S[s + 4])), hn::ConvertTo(df, q2)), df, dst + l + 64);
        hn::StoreU(hn::Mul(hn::Set(df, d * static_cast<float>(S[s + 6])), hn::ConvertTo(df, q3)), df, dst + l + 96);
      }
    }
  }
}

// MLX affine groups: codes packed low bits first in uint32 words (so byte-wise little-endian),
// w = scale * q + bias per group of `group` columns.
HWY_INLINE void DecodeMlxRow(const StoredWeight& W, int64_t r, float* dst) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  const uint8_t* codes = W.data + static_cast<uint64_t>(r) * W.row_bytes;
  const int64_t groups = W.cols / W.mlx_group;
  const float* scales = W.mlx_scales + r * groups;
  const float* biases = W.mlx_biases + r * groups;
  for (int64_t g = 0; g < groups; ++g) {
    const float s = scales[g], bb = biases[g];
    float* out = dst + g * W.mlx_group;
    const int64_t c0 = g * W.mlx_group;
    if (W.mlx_bits == 8) {
      for (int64_t j = 0; j < W.mlx_group; j += static_cast<int64_t>(N))
        hn::StoreU(hn::Add(hn::Mul(hn::Set(df, s), hn::ConvertTo(df, LoadU8(codes + c0 + j))), hn::Set(df, bb)), df,
                   out + j);
      (void)di;
    } else {  // 4-bit: two codes per byte, low nibble first
      const uint8_t* p = codes + c0 / 2;
      for (int64_t j = 0; j < W.mlx_group; j += 2) {
        out[j] = s * static_cast<float>(p[j / 2] & 15) + bb;
        out[j + 1] = s * static_cast<float>(p[j / 2] >> 4) + bb;
      }
    }
  }
}

// One row of W decoded into dst (W.cols floats).
HWY_INLINE void DecodeRow(const StoredWeight& W, int64_t r, float* dst) {
  if (W.mlx_bits > 0) return DecodeMlxRow(W, r, dst);
  const uint8_t* src = W.data + static_cast<uint64_t>(r) * W.row_bytes;
  const int64_t n = W.cols;
  switch (W.type) {
    case GgmlType::F32:
      std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
      return;
    case GgmlType::F16:
      return DecodeBlocksF16(src, n, dst);
    case GgmlType::BF16:
      return DecodeBlocksBF16(src, n, dst);
    case GgmlType::Q8_0:
      return DecodeQ8_0(src, n / detail::kQK, dst);
    case GgmlType::Q4_0:
      return DecodeQ4Legacy<false>(src, n / detail::kQK, dst);
    case GgmlType::Q4_1:
      return DecodeQ4Legacy<true>(src, n / detail::kQK, dst);
    case GgmlType::Q4_K:
      return DecodeQ4_K(src, n / detail::kQKK, dst);
    case GgmlType::Q6_K:
      return DecodeQ6_K(src, n / detail::kQKK, dst);
    default:
      return attnscope::dequantize(W.type, src, dst, n);
  }
}

HWY_INLINE void ToBf16(const float* src, uint16_t* dst, int64_t n) {
  const DF df;
  const DU du;
  const DI di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto bits = hn::BitCast(du, hn::LoadU(df, src + i));
    // round to nearest even: add 0x7FFF + (bit 16)
    const auto rounded =
        hn::Add(bits, hn::Add(hn::Set(du, 0x7FFFu), hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u))));
    hn::StoreU(hn::DemoteTo(DU16(), hn::BitCast(di, hn::ShiftRight<16>(rounded))), DU16(), dst + i);
  }
  for (; i < n; ++i) dst[i] = detail::f32_to_bf16(src[i]);
}

void DequantRowsF32(const StoredWeight& W, int64_t r0, int64_t r1, float* dst) {
  for (int64_t r = r0; r < r1; ++r) DecodeRow(W, r, dst + (r - r0) * W.cols);
}

void DequantRowsBf16(const StoredWeight& W, int64_t r0, int64_t r1, uint16_t* dst) {
  if (W.mlx_bits == 0 && W.type == GgmlType::BF16) {
    std::memcpy(dst, W.data + static_cast<uint64_t>(r0) * W.row_bytes, static_cast<size_t>(r1 - r0) * W.row_bytes);
    return;
  }
  // One row at a time through an L1-sized float buffer.
  HWY_ALIGN float buf[4096];
  for (int64_t r = r0; r < r1; ++r) {
    uint16_t* out = dst + (r - r0) * W.cols;
    if (W.cols <= 4096) {
      DecodeRow(W, r, buf);
      ToBf16(buf, out, W.cols);
    } else {
      std::vector<float> row(static_cast<size_t>(W.cols));
      DecodeRow(W, r, row.data());
      ToBf16(row.data(), out, W.cols);
    }
  }
}

HWY_INLINE float Dot(const float* a, const float* b, int64_t n) {
  const DF df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto s0 = hn::Zero(df), s1 = hn::Zero(df), s2 = hn::Zero(df), s3 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(df, a + i + N), hn::LoadU(df, b + i + N), s1);
    s2 = hn::MulAdd(hn::LoadU(df, a + i + 2 * N), hn::LoadU(df, b + i + 2 * N), s2);
    s3 = hn::MulAdd(hn::LoadU(df, a + i + 3 * N), hn::LoadU(df, b + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), s0);
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// x · (16-bit float row w): F16 / BF16 weights promoted in registers, no decoded copy.
template <bool kBF16>
HWY_INLINE float DotHalf(const float* x, const uint8_t* w, int64_t n) {
  const DF df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto load = [&](int64_t i) {
    if constexpr (kBF16) {
      const auto u = hn::PromoteTo(DU(), hn::LoadU(DU16(), reinterpret_cast<const uint16_t*>(w + 2 * i)));
      return hn::BitCast(df, hn::ShiftLeft<16>(u));
    } else {
      return hn::PromoteTo(
          df, hn::LoadU(hn::Rebind<hwy::float16_t, DF>(), reinterpret_cast<const hwy::float16_t*>(w + 2 * i)));
    }
  };
  // Four independent sums: 128 bytes of weights in flight per step (one cache-line pair).
  auto s0 = hn::Zero(df), s1 = hn::Zero(df), s2 = hn::Zero(df), s3 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(hn::LoadU(df, x + i), load(i), s0);
    s1 = hn::MulAdd(hn::LoadU(df, x + i + N), load(i + N), s1);
    s2 = hn::MulAdd(hn::LoadU(df, x + i + 2 * N), load(i + 2 * N), s2);
    s3 = hn::MulAdd(hn::LoadU(df, x + i + 3 * N), load(i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(df, x + i), load(i), s0);
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i)
    sum += x[i] * (kBF16 ? detail::bf16_to_f32(detail::load_u16(w + 2 * i)) : detail::load_f16(w + 2 * i));
  return sum;
}

void GemvRows(const StoredWeight& W, int64_t r0, int64_t r1, const float* x, int64_t M, const float* bias, float* y,
              int64_t ldy, bool accumulate, float* scratch) {
  const int64_t K = W.cols;
  const bool half = W.mlx_bits == 0 && (W.type == GgmlType::F16 || W.type == GgmlType::BF16);
  if (M == 1 && half) {  // one token: fused, each weight read once straight from the mapping
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* w = W.data + static_cast<uint64_t>(r) * W.row_bytes;
      const float v =
          (W.type == GgmlType::BF16 ? DotHalf<true>(x, w, K) : DotHalf<false>(x, w, K)) + (bias ? bias[r] : 0.0f);
      y[r] = accumulate ? y[r] + v : v;
    }
    return;
  }
  for (int64_t r = r0; r < r1; ++r) {
    const float* w = scratch;
    if (W.is_f32())
      w = reinterpret_cast<const float*>(W.data + static_cast<uint64_t>(r) * W.row_bytes);
    else
      DecodeRow(W, r, scratch);
    for (int64_t m = 0; m < M; ++m) {
      float v = Dot(x + m * K, w, K) + (bias ? bias[r] : 0.0f);
      float& out = y[m * ldy + r];
      out = accumulate ? out + v : v;
    }
  }
}

// ---- integer dot products for generation (bfloat16 compute only) ---------------------------
// x is quantised per block (see int8_gemv_block) to int8 codes (widened to int16 on load for vpmaddwd-style
// multiply-adds), a scale and the codes' sum; a weight block's integer dot with them is scaled
// once per (sub-)block instead of converting every weight to float.

// Tags for 32- and 16-element (sub-)blocks of int16 lanes; Lanes() divides the block length.
using D16x32 = hn::CappedTag<int16_t, 32>;
using D16x16 = hn::CappedTag<int16_t, 16>;

void QuantizeRowsQ8(const float* x, int64_t M, int64_t K, int64_t block, int8_t* q, float* d, int32_t* sum) {
  for (int64_t b = 0; b < M * K / block; ++b) {
    const float* xb = x + block * b;
    float amax = 0.0f;
    for (int64_t i = 0; i < block; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int64_t i = 0; i < block; ++i) q[block * b + i] = static_cast<int8_t>(std::nearbyint(xb[i] * inv));
    d[b] = scale;
  }
  for (int64_t b = 0; b < M * K / 32; ++b) {
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) s += q[32 * b + i];
    sum[b] = s;
  }
}

template <class D>
HWY_INLINE hn::Vec<D> LoadI8As16(D d, const int8_t* p) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<int8_t, D>(), p));
}
template <class D>
HWY_INLINE hn::Vec<D> LoadU8As16(D d, const uint8_t* p) {
  return hn::BitCast(d, hn::PromoteTo(hn::RebindToUnsigned<D>(), hn::LoadU(hn::Rebind<uint8_t, D>(), p)));
}

// sum_i w[i] * x[i] over n int16 lanes (n a multiple of Lanes(d)), as float lanes (not reduced).
template <class D, class LoadW>
HWY_INLINE hn::Vec<hn::Repartition<float, D>> IntDot(D d, const int8_t* x, int n, const LoadW& load_w) {
  const hn::Repartition<int32_t, D> d32;
  const int N = static_cast<int>(hn::Lanes(d));
  auto acc = hn::Zero(d32), acc1 = hn::Zero(d32);
  for (int i = 0; i < n; i += N) acc = hn::ReorderWidenMulAccumulate(d32, load_w(i), LoadI8As16(d, x + i), acc, acc1);
  return hn::ConvertTo(hn::Repartition<float, D>(), hn::RearrangeToOddPlusEven(acc, acc1));
}

// Q6_K row dot, x scaled per super-block (xd[sb]): quarter k of half h is x block 8*sb + 4h + k; its
// two 16-element halves have own int8 scales, multiplied into the codes in int16 (<= 32 * 128).
// A vector of up to 32 lanes covers both halves (AVX-512: one step per quarter, the two scales
// side by side); narrower vectors take one scale per step.
HWY_INLINE float DotQ6K(const uint8_t* w, int64_t nb, const int8_t* xq, const float* xd) {
  const D16x32 d16;
  const hn::Repartition<float, D16x32> df;
  const hn::Repartition<int32_t, D16x32> d32;
  const int L = static_cast<int>(hn::Lanes(d16));
  const auto k3 = hn::Set(d16, 3), k15 = hn::Set(d16, 15), k32 = hn::Set(d16, 32);
  auto acc = hn::Zero(df);
  for (int64_t sb = 0; sb < nb / 8; ++sb, w += detail::kQ6_KBytes) {
    const float d = detail::load_f16(w + 208);
    const auto* sc = reinterpret_cast<const int8_t*>(w + 192);
    auto isum = hn::Zero(d32), isum1 = hn::Zero(d32);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* Lo = w + 64 * h;
      const uint8_t* Hi = w + 128 + 32 * h;
      for (int k = 0; k < 4; ++k) {
        const int64_t b = 8 * sb + 4 * h + k;
        const int8_t* s = sc + 8 * h + 2 * k;  // scales of elements 0..15 and 16..31
        for (int l = 0; l < 32; l += L) {
          const auto lo = LoadU8As16(d16, Lo + l + 32 * (k & 1));
          const auto hb = hn::ShiftRightSame(LoadU8As16(d16, Hi + l), 2 * k);
          const auto low4 = k < 2 ? hn::And(lo, k15) : hn::ShiftRight<4>(lo);
          const auto codes = hn::Sub(hn::Or(low4, hn::ShiftLeft<4>(hn::And(hb, k3))), k32);
          // Lanes of elements l + i < 16 take s[0], the others s[1] (all one of them if L <= 16).
          const int half = l / 16;
          const auto scale =
              hn::IfThenElse(hn::FirstN(d16, static_cast<size_t>(16 - 16 * half)),
                             hn::Set(d16, static_cast<int16_t>(s[0])), hn::Set(d16, static_cast<int16_t>(s[1])));
          isum =
              hn::ReorderWidenMulAccumulate(d32, hn::Mul(codes, scale), LoadI8As16(d16, xq + 32 * b + l), isum, isum1);
        }
      }
    }
    const auto dot = hn::ConvertTo(df, hn::RearrangeToOddPlusEven(isum, isum1));
    acc = hn::MulAdd(dot, hn::Set(df, d * xd[sb]), acc);
  }
  return hn::GetLane(hn::SumOfLanes(df, acc));
}

// The x86 targets with AVX2 integer ops (evaluated per target pass: HWY_TARGET changes).
#ifndef ATTNSCOPE_X86_AVX2_PLUS
#define ATTNSCOPE_X86_AVX2_PLUS (HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)
#endif
// A half-precision block scale: by F16C on the x86 targets that have it (one instruction where
// the portable decoder branches on the exponent; both exact, subnormals included).
HWY_INLINE float ScaleF16(const uint8_t* p) {
#if ATTNSCOPE_X86_AVX2_PLUS
  return _cvtsh_ss(detail::load_u16(p));
#else
  return detail::load_f16(p);
#endif
}

#if ATTNSCOPE_X86_AVX2_PLUS
// Q4_K row dot with vpmaddubsw (u8 codes x i8 x -> int16 pair sums; Highway 1.0.3 has no such op,
// so this is AVX2 intrinsics, which the AVX2 and AVX-512 targets both compile): 64 codes take
// two multiply-adds where the int16 form below takes four, and its sums are the same integers
// (a pair sum is at most 2 * 15 * 127, no saturation). x is scaled per super-block (xd[sb]).
// The -dmin * min terms are one vector product of the 8 mins with the 8 x sub-block code sums
// (each at most 63 * 32 * 127 < 2^24: exact as int32 and as float).
HWY_INLINE float DotQ4KMaddubs(const uint8_t* w, int64_t nb, const int8_t* xq, const float* xd, const int32_t* xs) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps(), acc_mins = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nb / 8; ++sb, w += detail::kQ4_KBytes) {
    const float d = ScaleF16(w) * xd[sb], dmin = ScaleF16(w + 2) * xd[sb];
    alignas(8) uint8_t sc[8], m[8];
    detail::k4_scales_mins(w + 4, sc, m);
    __m256i isum = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {  // 32 bytes: sub-block 2p in the low nibbles, 2p+1 in the high
      const int64_t b = 8 * sb + 2 * p;
      const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16 + 32 * p));
      const __m256i lo = _mm256_and_si256(codes, low_nibbles);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(codes, 4), low_nibbles);
      const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * b)));
      const __m256i phi =
          _mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * (b + 1))));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * p])));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * p + 1])));
    }
    const __m256i mins = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(m)));
    const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + 8 * sb));
    acc_mins = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(mins, sums)), _mm256_set1_ps(dmin), acc_mins);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d), acc);
  }
  const hn::Full256<float> d8;
  return hn::GetLane(hn::SumOfLanes(d8, hn::Vec256<float>{_mm256_sub_ps(acc, acc_mins)}));
}

// Q6_K row dot with vpmaddubsw: the 6-bit codes c (0..63; a pair sum is at most 2 * 63 * 127)
// times x, minus 32 times x (the codes' offset) by one more vpmaddubsw; each 16-element half's
// int8 scale then multiplies its pair sums (vpmaddwd) as in the int16 form.
template <int k>
HWY_INLINE __m256i Q6KQuarter(__m256i lo, __m256i hi, const int8_t* x, __m256i scales) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F), two_bits = _mm256_set1_epi8(3), offset = _mm256_set1_epi8(32);
  const __m256i low4 = _mm256_and_si256(k < 2 ? lo : _mm256_srli_epi16(lo, 4), low_nibbles);
  const __m256i high2 = _mm256_and_si256(_mm256_srli_epi16(hi, 2 * k), two_bits);
  const __m256i codes = _mm256_or_si256(low4, _mm256_slli_epi16(high2, 4));
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(codes, xv), _mm256_maddubs_epi16(offset, xv));
  return _mm256_madd_epi16(pairs, scales);
}

HWY_INLINE float DotQ6KMaddubs(const uint8_t* w, int64_t nb, const int8_t* xq, const float* xd) {
  auto pick = [](int j) {  // vpshufb indices: word j of a 128-bit half to the low 8 lanes, j + 1 to the high
    alignas(32) int8_t idx[32];
    for (int i = 0; i < 32; ++i) idx[i] = static_cast<int8_t>(2 * (j + i / 16) + i % 2);
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(idx));
  };
  const __m256i pick0 = pick(0), pick1 = pick(2), pick2 = pick(4), pick3 = pick(6);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nb / 8; ++sb, w += detail::kQ6_KBytes) {
    const float d = ScaleF16(w + 208);
    // The 16 int8 scales as int16: scales 0..7 (half 0) and 8..15 (half 1), each in both lanes.
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 192)));
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i s =
          h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00) : _mm256_permute2x128_si256(sc16, sc16, 0x11);
      const __m256i lo_a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * h));
      const __m256i lo_b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * h + 32));
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 128 + 32 * h));
      const int8_t* x = xq + 32 * (8 * sb + 4 * h);  // quarter k: x block 8 * sb + 4h + k
      isum = _mm256_add_epi32(isum, Q6KQuarter<0>(lo_a, hi, x, _mm256_shuffle_epi8(s, pick0)));
      isum = _mm256_add_epi32(isum, Q6KQuarter<1>(lo_b, hi, x + 32, _mm256_shuffle_epi8(s, pick1)));
      isum = _mm256_add_epi32(isum, Q6KQuarter<2>(lo_a, hi, x + 64, _mm256_shuffle_epi8(s, pick2)));
      isum = _mm256_add_epi32(isum, Q6KQuarter<3>(lo_b, hi, x + 96, _mm256_shuffle_epi8(s, pick3)));
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * xd[sb]), acc);
  }
  const hn::Full256<float> d8;
  return hn::GetLane(hn::SumOfLanes(d8, hn::Vec256<float>{acc}));
}
#endif

// Dot of one weight row with one quantised x row (K / 32 blocks).
HWY_INLINE float RowDotInt8(const StoredWeight& W, const uint8_t* w, const int8_t* xq, const float* xd,
                            const int32_t* xs) {
  const int64_t nb = W.cols / 32;
  if (W.type == GgmlType::Q8_0 || W.type == GgmlType::Q4_K) {
    const D16x32 d16;
    const hn::Repartition<float, D16x32> df;
    auto acc = hn::Zero(df);
    if (W.type == GgmlType::Q8_0) {
      for (int64_t b = 0; b < nb; ++b, w += detail::kQ8_0Bytes) {
        const auto* qs = reinterpret_cast<const int8_t*>(w + 2);
        const auto dot = IntDot(d16, xq + 32 * b, 32, [&](int i) { return LoadI8As16(d16, qs + i); });
        acc = hn::MulAdd(dot, hn::Set(df, ScaleF16(w) * xd[b]), acc);
      }
      return hn::GetLane(hn::SumOfLanes(df, acc));
    }
#if ATTNSCOPE_X86_AVX2_PLUS
    return DotQ4KMaddubs(w, nb, xq, xd, xs);
#endif
    // Q4_K, x scaled per super-block (xd[sb]): the 6-bit sub-block scales multiply the 4-bit
    // codes in int16 (<= 15 * 63), so a super-block is one int32 sum and one float multiply.
    const hn::Repartition<int32_t, D16x32> d32;
    const int L = static_cast<int>(hn::Lanes(d16));
    float mins = 0.0f;  // the -dmin * min terms: one product with each x sub-block's code sum
    const auto k15 = hn::Set(d16, 15);
    for (int64_t sb = 0; sb < nb / 8; ++sb, w += detail::kQ4_KBytes) {
      const float d = detail::load_f16(w), dmin = detail::load_f16(w + 2);
      uint8_t sc[8], m[8];
      detail::k4_scales_mins(w + 4, sc, m);
      auto isum = hn::Zero(d32), isum1 = hn::Zero(d32);
      int32_t msum = 0;
      for (int p = 0; p < 4; ++p) {  // 32 bytes: sub-block 2p in the low nibbles, 2p+1 in the high
        const uint8_t* q = w + 16 + 32 * p;
        const int64_t b = 8 * sb + 2 * p;
        const auto s_lo = hn::Set(d16, static_cast<int16_t>(sc[2 * p]));
        const auto s_hi = hn::Set(d16, static_cast<int16_t>(sc[2 * p + 1]));
        for (int i = 0; i < 32; i += L) {
          const auto codes = LoadU8As16(d16, q + i);
          isum = hn::ReorderWidenMulAccumulate(d32, hn::Mul(hn::And(codes, k15), s_lo),
                                               LoadI8As16(d16, xq + 32 * b + i), isum, isum1);
          isum = hn::ReorderWidenMulAccumulate(d32, hn::Mul(hn::ShiftRight<4>(codes), s_hi),
                                               LoadI8As16(d16, xq + 32 * (b + 1) + i), isum, isum1);
        }
        msum += m[2 * p] * xs[b] + m[2 * p + 1] * xs[b + 1];
      }
      const auto dot = hn::ConvertTo(df, hn::RearrangeToOddPlusEven(isum, isum1));
      acc = hn::MulAdd(dot, hn::Set(df, d * xd[sb]), acc);
      mins += dmin * xd[sb] * static_cast<float>(msum);
    }
    return hn::GetLane(hn::SumOfLanes(df, acc)) - mins;
  }
  const D16x16 d16;
  const hn::Repartition<float, D16x16> df;
  auto acc = hn::Zero(df);
  const auto k15 = hn::Set(d16, 15);
  if (W.type == GgmlType::Q4_0) {
    const auto k8 = hn::Set(d16, 8);
    for (int64_t b = 0; b < nb; ++b, w += detail::kQ4_0Bytes) {
      const uint8_t* qs = w + 2;  // elements 0..15: low nibbles, 16..31: high nibbles
      const auto lo =
          IntDot(d16, xq + 32 * b, 16, [&](int i) { return hn::Sub(hn::And(LoadU8As16(d16, qs + i), k15), k8); });
      const auto hi = IntDot(d16, xq + 32 * b + 16, 16,
                             [&](int i) { return hn::Sub(hn::ShiftRight<4>(LoadU8As16(d16, qs + i)), k8); });
      acc = hn::MulAdd(hn::Add(lo, hi), hn::Set(df, ScaleF16(w) * xd[b]), acc);
    }
    return hn::GetLane(hn::SumOfLanes(df, acc));
  }
#if ATTNSCOPE_X86_AVX2_PLUS
  return DotQ6KMaddubs(w, nb, xq, xd);
#endif
  return DotQ6K(w, nb, xq, xd);
}

void GemvRowsInt8(const StoredWeight& W, int64_t r0, int64_t r1, const int8_t* xq, const float* xd, const int32_t* xs,
                  int64_t M, const float* bias, float* y, int64_t ldy, bool accumulate) {
  const int64_t nb = W.cols / 32, nd = W.cols / int8_gemv_block(W);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* w = W.data + static_cast<uint64_t>(r) * W.row_bytes;
    for (int64_t m = 0; m < M; ++m) {
      const float v = RowDotInt8(W, w, xq + m * W.cols, xd + m * nd, xs + m * nb) + (bias ? bias[r] : 0.0f);
      float& out = y[m * ldy + r];
      out = accumulate ? out + v : v;
    }
  }
}

void F32ToBf16(const float* src, uint16_t* dst, int64_t n) { ToBf16(src, dst, n); }
void Bf16ToF32(const uint16_t* src, float* dst, int64_t n) {
  DecodeBlocksBF16(reinterpret_cast<const uint8_t*>(src), n, dst);
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace attnscope::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace attnscope::kernels {

HWY_EXPORT(DequantRowsF32);
HWY_EXPORT(DequantRowsBf16);
HWY_EXPORT(GemvRows);
HWY_EXPORT(F32ToBf16);
HWY_EXPORT(Bf16ToF32);
HWY_EXPORT(QuantizeRowsQ8);
HWY_EXPORT(GemvRowsInt8);
HWY_EXPORT(TargetName);

void dequant_rows_f32(const StoredWeight& W, int64_t r0, int64_t r1, float* dst) {
  HWY_DYNAMIC_DISPATCH(DequantRowsF32)(W, r0, r1, dst);
}
void dequant_rows_bf16(const StoredWeight& W, int64_t r0, int64_t r1, uint16_t* dst) {
  HWY_DYNAMIC_DISPATCH(DequantRowsBf16)(W, r0, r1, dst);
}
void gemv_rows(const StoredWeight& W, int64_t r0, int64_t r1, const float* x, int64_t M, const float* bias, float* y,
               int64_t ldy, bool accumulate, float* scratch) {
  HWY_DYNAMIC_DISPATCH(GemvRows)(W, r0, r1, x, M, bias, y, ldy, accumulate, scratch);
}
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) { HWY_DYNAMIC_DISPATCH(F32ToBf16)(src, dst, n); }
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) { HWY_DYNAMIC_DISPATCH(Bf16ToF32)(src, dst, n); }
const char* target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }
bool has_int8_gemv(const StoredWeight& W) {
  return W.mlx_bits == 0 &&
         (W.type == GgmlType::Q8_0 || W.type == GgmlType::Q4_0 || W.type == GgmlType::Q4_K || W.type == GgmlType::Q6_K);
}
int64_t int8_gemv_block(const StoredWeight& W) {
  return W.type == GgmlType::Q4_K || W.type == GgmlType::Q6_K ? 256 : 32;
}
void quantize_rows_q8(const float* x, int64_t M, int64_t K, int64_t block, int8_t* q, float* d, int32_t* sum) {
  HWY_DYNAMIC_DISPATCH(QuantizeRowsQ8)(x, M, K, block, q, d, sum);
}
void gemv_rows_int8(const StoredWeight& W, int64_t r0, int64_t r1, const int8_t* xq, const float* xd, const int32_t* xs,
                    int64_t M, const float* bias, float* y, int64_t ldy, bool accumulate) {
  HWY_DYNAMIC_DISPATCH(GemvRowsInt8)(W, r0, r1, xq, xd, xs, M, bias, y, ldy, accumulate);
}

}  // namespace attnscope::kernels
#endif  // HWY_ONCE
