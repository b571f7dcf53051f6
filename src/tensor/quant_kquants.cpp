// Decoders for the ggml "K-quants": 256-element super-blocks split into sub-blocks, each with its
// own small integer scale (and for the asymmetric types a min), themselves scaled by fp16 d/dmin.
//
// Layouts (little-endian; d, dmin fp16):
//   Q2_K { scales[16]; qs[64]; d; dmin }     16 sub-blocks of 16; scales byte = scale | min << 4;
//        2-bit codes; x = d*scale*q - dmin*min.
//   Q3_K { hmask[32]; qs[64]; scales[12]; d } 16 sub-blocks of 16; 6-bit signed scales (stored
//   +32);
//        code = low 2 bits | hmask bit << 2, value q - 4 in [-4, 3]; x = d*(scale-32)*(q-4).
//   Q4_K { d; dmin; scales[12]; qs[128] }    8 sub-blocks of 32; 6-bit scale and min packed in 12
//   B;
//        4-bit codes; x = d*scale*q - dmin*min.
//   Q5_K { d; dmin; scales[12]; qh[32]; qs[128] } as Q4_K with a 5th bit from qh.
//   Q6_K { ql[128]; qh[64]; scales[16] int8; d }  16 sub-blocks of 16; 6-bit codes, x =
//   d*scale*(q-32). Q8_K { d (f32); qs[256] int8; bsums[16] int16 }  x = d*qs (bsums only serve dot
//   products).
//
// Bit placement: the codes are laid out in 128-element halves (Q2/Q3/Q6) or 64-element pairs of
// sub-blocks (Q4/Q5) so that SIMD code can unpack whole registers with one shift; see each decoder.
#include "tensor/quant_impl.h"

namespace attnscope::detail {

// 6-bit scale i (0..15) of Q3_K, still biased by +32: the low 4 bits are the low nibbles of bytes
// 0..7 for i < 8 and their high nibbles for i >= 8; the top 2 bits are bit pair (i / 4) of byte
// 8 + i % 4.
int k3_scale(const uint8_t* s, int i) {
  int low = i < 8 ? (s[i] & 0x0F) : (s[i - 8] >> 4);
  int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
  return low | (high << 4);
}

void dequant_q2_k(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ2_KBytes) {
    const uint8_t* scales = src;
    const uint8_t* qs = src + 16;
    const float d = load_f16(src + 80), dmin = load_f16(src + 82);
    // Element e: half h = e / 128; within the half, quarter k = (e % 128) / 32 takes bit pair k of
    // byte qs[32 h + e % 32]. Sub-block (scale byte) = e / 16.
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = qs + 32 * h;
      for (int k = 0; k < 4; ++k) {
        for (int half16 = 0; half16 < 2; ++half16) {
          const uint8_t sc = scales[8 * h + 2 * k + half16];
          const float dl = d * static_cast<float>(sc & 0x0F), ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 16 * half16; l < 16 * half16 + 16; ++l)
            *dst++ = dl * static_cast<float>((q[l] >> (2 * k)) & 3) - ml;
        }
      }
    }
  }
}

void dequant_q3_k(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ3_KBytes) {
    const uint8_t* hmask = src;
    const uint8_t* qs = src + 32;
    const uint8_t* scales = src + 96;
    const float d = load_f16(src + 108);
    // Same 2-bit placement as Q2_K; the third bit of element e is bit (e / 32) of hmask[e % 32]
    // and a clear bit means "subtract 4".
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = qs + 32 * h;
      for (int k = 0; k < 4; ++k) {
        const int group = 4 * h + k;  // e / 32
        for (int half16 = 0; half16 < 2; ++half16) {
          const float dl = d * static_cast<float>(k3_scale(scales, 2 * group + half16) - 32);
          for (int l = 16 * half16; l < 16 * half16 + 16; ++l) {
            const int low = (q[l] >> (2 * k)) & 3;
            const int sub = ((hmask[l] >> group) & 1) ? 0 : 4;
            *dst++ = dl * static_cast<float>(low - sub);
          }
        }
      }
    }
  }
}

void dequant_q4_k(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ4_KBytes) {
    const float d = load_f16(src), dmin = load_f16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qs = src + 16;
    // Each 32 bytes of qs hold two sub-blocks: low nibbles sub-block 2p, high nibbles 2p+1.
    for (int p = 0; p < 4; ++p) {
      int sc0, m0, sc1, m1;
      k4_scale_min(scales, 2 * p, sc0, m0);
      k4_scale_min(scales, 2 * p + 1, sc1, m1);
      const float d0 = d * static_cast<float>(sc0), o0 = dmin * static_cast<float>(m0);
      const float d1 = d * static_cast<float>(sc1), o1 = dmin * static_cast<float>(m1);
      const uint8_t* q = qs + 32 * p;
      for (int l = 0; l < 32; ++l) dst[l] = d0 * static_cast<float>(q[l] & 0x0F) - o0;
      for (int l = 0; l < 32; ++l) dst[32 + l] = d1 * static_cast<float>(q[l] >> 4) - o1;
      dst += 64;
    }
  }
}

void dequant_q5_k(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ5_KBytes) {
    const float d = load_f16(src), dmin = load_f16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    // As Q4_K; the 5th bit of sub-block j, element l is bit j of qh[l].
    for (int p = 0; p < 4; ++p) {
      int sc0, m0, sc1, m1;
      k4_scale_min(scales, 2 * p, sc0, m0);
      k4_scale_min(scales, 2 * p + 1, sc1, m1);
      const float d0 = d * static_cast<float>(sc0), o0 = dmin * static_cast<float>(m0);
      const float d1 = d * static_cast<float>(sc1), o1 = dmin * static_cast<float>(m1);
      const uint8_t* q = qs + 32 * p;
      for (int l = 0; l < 32; ++l) {
        int q0 = (q[l] & 0x0F) | (((qh[l] >> (2 * p)) & 1) << 4);
        int q1 = (q[l] >> 4) | (((qh[l] >> (2 * p + 1)) & 1) << 4);
        dst[l] = d0 * static_cast<float>(q0) - o0;
        dst[32 + l] = d1 * static_cast<float>(q1) - o1;
      }
      dst += 64;
    }
  }
}

void dequant_q6_k(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ6_KBytes) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = load_f16(src + 208);
    // Per 128-element half h: ql[64h .. 64h+63], qh[32h .. 32h+31]. Element r (0..127) of the
    // half: quarter k = r / 32, l = r % 32; low 4 bits are the low nibble of ql[l + 32*(k&1)]
    // for k < 2 and the high nibble for k >= 2; the top 2 bits are bits 2k..2k+1 of qh[l].
    for (int h = 0; h < 2; ++h, dst += 128) {
      const uint8_t* L = ql + 64 * h;
      const uint8_t* H = qh + 32 * h;
      const int8_t* S = sc + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q0 = ((L[l] & 0x0F) | ((H[l] & 3) << 4)) - 32;
        const int q1 = ((L[l + 32] & 0x0F) | (((H[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * static_cast<float>(S[s]) * static_cast<float>(q0);
        dst[l + 32] = d * static_cast<float>(S[s + 2]) * static_cast<float>(q1);
        dst[l + 64] = d * static_cast<float>(S[s + 4]) * static_cast<float>(q2);
        dst[l + 96] = d * static_cast<float>(S[s + 6]) * static_cast<float>(q3);
      }
    }
  }
}

void dequant_q8_k(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQ8_KBytes) {
    const float d = load_f32(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 4);
    for (int i = 0; i < kQKK; ++i) *dst++ = d * static_cast<float>(qs[i]);
  }
}

}  // namespace attnscope::detail
