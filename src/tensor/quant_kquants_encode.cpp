// Encoders for the K-quants the GGUF writer produces: Q4_K and Q6_K (together enough for a
// "Q4_K_M"-style file: Q4_K for most matrices, Q6_K for the sensitive ones). Written from the
// block layouts in quant_kquants.cpp (whose decoders are the reference the tests compare with):
//
//   Q4_K: per 32-element sub-block, codes q in [0, 15] with x ~ scale*q - min (min >= 0 so that
//         zero stays representable: the sub-block range is widened to include 0). The 8 float
//         scales and mins are then coded as 6-bit integers times the super-block's fp16 d / dmin,
//         and the codes are recomputed against the coded scale and min.
//   Q6_K: per 16-element sub-block, codes q in [-32, 31] with x ~ scale*q, scale = max|x| / 31
//         (the extra negative code is left unused: round-to-nearest never needs it); the 16 scales
//         are coded as int8 times the super-block's fp16 d.
//
// Each sub-block's float scale is chosen by a small search (the range shrunk by a few factors,
// keeping the one with the least squared error), which clips rare outliers in favour of the rest.
#include <algorithm>
#include <cmath>

#include "tensor/quant_impl.h"

namespace attnscope::detail {

namespace {

int clamp_round(float v, int lo, int hi) { return std::clamp(static_cast<int>(std::nearbyint(v)), lo, hi); }

// Best (scale, min) for x[0..n) coded as q in [0, levels] with x ~ scale*q - min, min >= 0.
void fit_affine(const float* x, int n, int levels, float& scale, float& min) {
  float lo = 0.0f, hi = 0.0f;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  scale = 0.0f;
  min = -lo;
  if (hi <= lo) return;
  float best = INFINITY;
  for (float shrink : {1.0f, 0.97f, 0.94f, 0.91f, 0.88f, 0.85f}) {
    const float s = (hi - lo) * shrink / static_cast<float>(levels);
    // Centre the shrunk range on the data's range (but keep min >= 0).
    const float m = std::max(0.0f, -lo - (hi - lo) * (1.0f - shrink) * 0.5f);
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int q = clamp_round((x[i] + m) / s, 0, levels);
      const float e = s * static_cast<float>(q) - m - x[i];
      err += e * e;
    }
    if (err < best) {
      best = err;
      scale = s;
      min = m;
    }
  }
}

// Best scale for x[0..n) coded as q in [-qmax, qmax] with x ~ scale*q.
float fit_symmetric(const float* x, int n, int qmax) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0.0f) return 0.0f;
  float best = INFINITY, scale = amax / static_cast<float>(qmax);
  for (float shrink : {1.0f, 0.96f, 0.92f, 0.88f}) {
    const float s = amax * shrink / static_cast<float>(qmax);
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float e = s * static_cast<float>(clamp_round(x[i] / s, -qmax, qmax)) - x[i];
      err += e * e;
    }
    if (err < best) {
      best = err;
      scale = s;
    }
  }
  return scale;
}

}  // namespace

void quant_q4_k(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQKK, dst += kQ4_KBytes) {
    float scale[8], min[8];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
      fit_affine(src + 32 * j, 32, 15, scale[j], min[j]);
      max_scale = std::max(max_scale, scale[j]);
      max_min = std::max(max_min, min[j]);
    }
    store_f16(dst, max_scale / 63.0f);
    store_f16(dst + 2, max_min / 63.0f);
    const float d = load_f16(dst), dmin = load_f16(dst + 2);  // what the decoder will see
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) {
      sc[j] = d > 0.0f ? clamp_round(scale[j] / d, 0, 63) : 0;
      mn[j] = dmin > 0.0f ? clamp_round(min[j] / dmin, 0, 63) : 0;
    }
    uint8_t* s = dst + 4;
    for (int j = 0; j < 4; ++j) {
      s[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
      s[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
      s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
    uint8_t q[kQKK];
    for (int j = 0; j < 8; ++j) {
      const float ds = d * static_cast<float>(sc[j]), dm = dmin * static_cast<float>(mn[j]);
      for (int l = 0; l < 32; ++l)
        q[32 * j + l] = static_cast<uint8_t>(ds > 0.0f ? clamp_round((src[32 * j + l] + dm) / ds, 0, 15) : 0);
    }
    uint8_t* qs = dst + 16;
    for (int p = 0; p < 4; ++p)
      for (int l = 0; l < 32; ++l) qs[32 * p + l] = static_cast<uint8_t>(q[64 * p + l] | (q[64 * p + 32 + l] << 4));
  }
}

void quant_q6_k(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQKK, dst += kQ6_KBytes) {
    float scale[16], max_scale = 0.0f;
    for (int i = 0; i < 16; ++i) {
      scale[i] = fit_symmetric(src + 16 * i, 16, 31);
      max_scale = std::max(max_scale, scale[i]);
    }
    store_f16(dst + 208, max_scale / 127.0f);
    const float d = load_f16(dst + 208);
    auto* sc = reinterpret_cast<int8_t*>(dst + 192);
    int q[kQKK];
    for (int i = 0; i < 16; ++i) {
      sc[i] = static_cast<int8_t>(d > 0.0f ? clamp_round(scale[i] / d, -128, 127) : 0);
      const float ds = d * static_cast<float>(sc[i]);
      for (int l = 0; l < 16; ++l) q[16 * i + l] = (ds != 0.0f ? clamp_round(src[16 * i + l] / ds, -32, 31) : 0) + 32;
    }
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = dst + 64 * h;
      uint8_t* qh = dst + 128 + 32 * h;
      const int* Q = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int q0 = Q[l], q1 = Q[l + 32], q2 = Q[l + 64], q3 = Q[l + 96];
        ql[l] = static_cast<uint8_t>((q0 & 15) | ((q2 & 15) << 4));
        ql[l + 32] = static_cast<uint8_t>((q1 & 15) | ((q3 & 15) << 4));
        qh[l] = static_cast<uint8_t>((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
      }
    }
  }
}

}  // namespace attnscope::detail
