// Every dequantiser against blocks built independently of the library: a reference quantiser per
// type, written here from the ggml block layouts, encodes test data into bytes; the library
// decodes; the result must (1) equal what the chosen integer codes and scales mean by the format's
// formula and (2) lie within the stated error bound of the input.
//
// Error bounds, with A = max |x| over the block (32 elements for the legacy types, the whole
// 256-element super-block for K-quants); each follows from "error <= half the effective step",
// where scales are rounded UP to fp16 / to the integer scale grid so the code range always covers
// the data, and the fp16 round-up adds at most a factor (1 + 2^-10):
//   F16   |err| <= 2^-11 |x|       BF16  |err| <= 2^-8 |x|     (normal range)
//   Q8_0  step A/127              -> |err| <= 0.0040 A
//   Q4_0  step A/7   (codes -8..7)  -> |err| <= 0.0720 A
//   Q4_1  step (max-min)/15        -> |err| <= 0.0670 A
//   Q5_0  step A/15  (codes -16..15) -> |err| <= 0.0340 A
//   Q5_1  step (max-min)/31        -> |err| <= 0.0330 A
//   Q2_K  2-bit codes, 4-bit scale/min -> |err| <= 0.3700 A   (step < (2A + A/15)/3 * 16/15)
//   Q3_K  codes -4..3, 6-bit scale     -> |err| <= 0.1730 A   (step < A/3 * 32/31)
//   Q4_K  4-bit codes, 6-bit scale/min -> |err| <= 0.0683 A
//   Q5_K  5-bit codes, 6-bit scale/min -> |err| <= 0.0331 A
//   Q6_K  codes -32..31, 8-bit scale   -> |err| <= 0.0163 A
//   Q8_K  step A/127 (f32 scale)       -> |err| <= 0.0040 A
// Each element is also checked against its own sub-block's half step (tighter). The bounds assume
// scales in the fp16 normal range, which the test data respects (|x| between ~1e-3 and ~1e3).
// The library's own encoders (used by the GGUF writer) are checked the same way, with the bounds
// of their schemes: Q8_0 A/254, Q4_0 A/8, Q5_0 A/16 (largest |x| on the extreme negative code),
// Q4_1 (max-min)/30, Q5_1 (max-min)/62, all with fp16 slack.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "attnscope/ggml_types.h"

using namespace attnscope;

namespace {

// ---- fp16, independently: every finite positive half value, by the textbook formula ----------
double half_value(uint16_t h) {
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  const int e = (h >> 10) & 31, m = h & 1023;
  if (e == 0) return s * std::ldexp(m, -24);
  return s * std::ldexp(1.0 + m / 1024.0, e - 15);
}
const std::vector<double>& half_table() {  // index = bits, 0 .. 0x7BFF, ascending
  static const std::vector<double> t = [] {
    std::vector<double> v(0x7C00);
    for (uint32_t b = 0; b < 0x7C00; ++b) v[b] = half_value(static_cast<uint16_t>(b));
    return v;
  }();
  return t;
}
// Smallest half >= x (x >= 0).
uint16_t half_up(double x) {
  const auto& t = half_table();
  auto it = std::lower_bound(t.begin(), t.end(), x);
  return static_cast<uint16_t>(std::min<ptrdiff_t>(it - t.begin(), 0x7BFF));
}
// Largest half <= x (any sign).
uint16_t half_down(double x) {
  if (x < 0) return static_cast<uint16_t>(0x8000 | half_up(-x));
  const auto& t = half_table();
  auto it = std::upper_bound(t.begin(), t.end(), x);
  return static_cast<uint16_t>((it - t.begin()) - 1);
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xFF);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// ---- block writers: integer codes + scales -> bytes, from the layouts ---------------------------
// Legacy: element j < 16 in the low nibble of byte j, element j >= 16 in the high nibble of j - 16.
void pack_nibbles(uint8_t* qs, const int* codes) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((codes[j] & 15) | ((codes[j + 16] & 15) << 4));
}
void pack_qh32(uint8_t* qh, const int* codes) {
  uint32_t bits = 0;
  for (int j = 0; j < 32; ++j) bits |= static_cast<uint32_t>((codes[j] >> 4) & 1) << j;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(bits >> (8 * k));
}
// Q2_K / Q3_K low 2 bits: element e -> byte 32*(e/128) + e%32, bit pair (e%128)/32.
void pack_2bit(uint8_t* qs, const int* codes) {
  std::memset(qs, 0, 64);
  for (int e = 0; e < 256; ++e)
    qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>((codes[e] & 3) << (2 * ((e % 128) / 32)));
}
// Q4_K / Q5_K: 8 scales and 8 mins of 6 bits into 12 bytes.
void pack_k4_scales(uint8_t* s, const int* sc, const int* mn) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] |= static_cast<uint8_t>(sc[j] & 63);
      s[j + 4] |= static_cast<uint8_t>(mn[j] & 63);
    } else {
      s[j + 4] = static_cast<uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
      s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
}
// Q4_K / Q5_K low nibbles: sub-block j element l -> byte 32*(j/2) + l, low nibble if j even.
void pack_k4_nibbles(uint8_t* qs, const int* codes) {
  std::memset(qs, 0, 128);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, l = e % 32;
    qs[32 * (j / 2) + l] |= static_cast<uint8_t>((codes[e] & 15) << (4 * (j % 2)));
  }
}

// ---- the codec description the checks run over --------------------------------------------------
struct Encoded {
  std::vector<uint8_t> bytes;
  std::vector<double> expect;     // value the codes/scales mean by the format formula
  std::vector<double> half_step;  // per element: half of its effective quantisation step
};
struct RefCodec {
  GgmlType type;
  int block;
  double bound;  // |err| <= bound * A (see header comment)
  std::function<void(const float* x, Encoded& out)> encode_block;
};

double absmax(const float* x, int n) {
  double a = 0;
  for (int i = 0; i < n; ++i) a = std::max(a, std::fabs(static_cast<double>(x[i])));
  return a;
}
int round_clamp(double v, int lo, int hi) { return std::clamp(static_cast<int>(std::lround(v)), lo, hi); }

// Symmetric legacy type with codes [-2^(b-1), 2^(b-1)-1] stored with offset 2^(b-1).
void enc_sym_legacy(const float* x, Encoded& o, int bits) {
  const int half = 1 << (bits - 1);
  const double A = absmax(x, 32);
  const uint16_t dh = half_up(A / (half - 1));
  const double d = half_value(dh);
  int codes[32];
  for (int i = 0; i < 32; ++i) codes[i] = (d == 0 ? 0 : round_clamp(x[i] / d, -half, half - 1)) + half;
  std::vector<uint8_t> b(bits == 4 ? 18 : 22);
  put16(b.data(), dh);
  if (bits == 4)
    pack_nibbles(b.data() + 2, codes);
  else
    pack_qh32(b.data() + 2, codes), pack_nibbles(b.data() + 6, codes);
  for (int i = 0; i < 32; ++i) o.expect.push_back(d * (codes[i] - half)), o.half_step.push_back(d / 2);
  o.bytes.insert(o.bytes.end(), b.begin(), b.end());
}

// Asymmetric legacy type: x ~ d * code + m, codes [0, 2^b - 1].
void enc_asym_legacy(const float* x, Encoded& o, int bits) {
  const int levels = (1 << bits) - 1;
  double mn = x[0], mx = x[0];
  for (int i = 1; i < 32; ++i) mn = std::min<double>(mn, x[i]), mx = std::max<double>(mx, x[i]);
  const uint16_t mh = half_down(mn);
  const double m = half_value(mh);
  const uint16_t dh = half_up((mx - m) / levels);
  const double d = half_value(dh);
  int codes[32];
  for (int i = 0; i < 32; ++i) codes[i] = d == 0 ? 0 : round_clamp((x[i] - m) / d, 0, levels);
  std::vector<uint8_t> b(bits == 4 ? 20 : 24);
  put16(b.data(), dh);
  put16(b.data() + 2, mh);
  if (bits == 4)
    pack_nibbles(b.data() + 4, codes);
  else
    pack_qh32(b.data() + 4, codes), pack_nibbles(b.data() + 8, codes);
  for (int i = 0; i < 32; ++i) o.expect.push_back(d * codes[i] + m), o.half_step.push_back(d / 2);
  o.bytes.insert(o.bytes.end(), b.begin(), b.end());
}

void enc_q8_0(const float* x, Encoded& o) {
  const uint16_t dh = half_up(absmax(x, 32) / 127);
  const double d = half_value(dh);
  uint8_t b[34];
  put16(b, dh);
  for (int i = 0; i < 32; ++i) {
    const int q = d == 0 ? 0 : round_clamp(x[i] / d, -127, 127);
    b[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
    o.expect.push_back(d * q);
    o.half_step.push_back(d / 2);
  }
  o.bytes.insert(o.bytes.end(), b, b + 34);
}

// Asymmetric K-quant scheme shared by Q2_K (16 x 16, 4-bit scale/min) and Q4_K / Q5_K (8 x 32,
// 6-bit): per sub-block, min m_j*dmin <= min(0, x) and step sc_j*d >= (max - lower) / levels.
struct AsymK {
  int nsub, sub, scale_max, levels;
  double d, dmin;
  uint16_t dh, dminh;
  std::vector<int> sc, mn, codes;
};
AsymK asym_k(const float* x, int nsub, int scale_max, int levels) {
  AsymK k{nsub, 256 / nsub, scale_max, levels, 0, 0, 0, 0, {}, {}, {}};
  std::vector<double> lo(nsub), hi(nsub);
  double maxneg = 0;
  for (int j = 0; j < nsub; ++j) {
    lo[j] = 0, hi[j] = 0;
    for (int l = 0; l < k.sub; ++l)
      lo[j] = std::min<double>(lo[j], x[j * k.sub + l]), hi[j] = std::max<double>(hi[j], x[j * k.sub + l]);
    maxneg = std::max(maxneg, -lo[j]);
  }
  k.dminh = half_up(maxneg / scale_max);
  k.dmin = half_value(k.dminh);
  std::vector<double> need(nsub);
  double maxneed = 0;
  for (int j = 0; j < nsub; ++j) {
    k.mn.push_back(k.dmin == 0 ? 0 : std::min(scale_max, static_cast<int>(std::ceil(-lo[j] / k.dmin))));
    need[j] = (hi[j] + k.mn[j] * k.dmin) / levels;
    maxneed = std::max(maxneed, need[j]);
  }
  k.dh = half_up(maxneed / scale_max);
  k.d = half_value(k.dh);
  for (int j = 0; j < nsub; ++j)
    k.sc.push_back(k.d == 0 ? 0 : std::min(scale_max, static_cast<int>(std::ceil(need[j] / k.d))));
  for (int e = 0; e < 256; ++e) {
    const int j = e / k.sub;
    const double step = k.sc[j] * k.d;
    k.codes.push_back(step == 0 ? 0 : round_clamp((x[e] + k.mn[j] * k.dmin) / step, 0, levels));
  }
  return k;
}
void asym_k_expect(const AsymK& k, Encoded& o) {
  for (int e = 0; e < 256; ++e) {
    const int j = e / k.sub;
    o.expect.push_back(k.d * k.sc[j] * k.codes[e] - k.dmin * k.mn[j]);
    o.half_step.push_back(k.d * k.sc[j] / 2);
  }
}

void enc_q2_k(const float* x, Encoded& o) {
  AsymK k = asym_k(x, 16, 15, 3);
  uint8_t b[84];
  for (int j = 0; j < 16; ++j) b[j] = static_cast<uint8_t>(k.sc[j] | (k.mn[j] << 4));
  pack_2bit(b + 16, k.codes.data());
  put16(b + 80, k.dh);
  put16(b + 82, k.dminh);
  o.bytes.insert(o.bytes.end(), b, b + 84);
  asym_k_expect(k, o);
}

void enc_q4_k(const float* x, Encoded& o) {
  AsymK k = asym_k(x, 8, 63, 15);
  uint8_t b[144];
  put16(b, k.dh);
  put16(b + 2, k.dminh);
  pack_k4_scales(b + 4, k.sc.data(), k.mn.data());
  pack_k4_nibbles(b + 16, k.codes.data());
  o.bytes.insert(o.bytes.end(), b, b + 144);
  asym_k_expect(k, o);
}

void enc_q5_k(const float* x, Encoded& o) {
  AsymK k = asym_k(x, 8, 63, 31);
  uint8_t b[176];
  put16(b, k.dh);
  put16(b + 2, k.dminh);
  pack_k4_scales(b + 4, k.sc.data(), k.mn.data());
  uint8_t* qh = b + 16;
  std::memset(qh, 0, 32);
  for (int e = 0; e < 256; ++e) qh[e % 32] |= static_cast<uint8_t>(((k.codes[e] >> 4) & 1) << (e / 32));
  pack_k4_nibbles(b + 48, k.codes.data());
  o.bytes.insert(o.bytes.end(), b, b + 176);
  asym_k_expect(k, o);
}

// Symmetric K-quants: per 16-element sub-block a non-negative integer scale sc_j with
// sc_j*d >= a_j / pos_max (pos_max = largest positive code), codes in [neg, pos_max].
struct SymK {
  double d;
  uint16_t dh;
  std::vector<int> sc, q;
};
SymK sym_k(const float* x, int scale_max, int neg, int pos_max) {
  SymK k{0, 0, {}, {}};
  std::vector<double> need(16);
  double maxneed = 0;
  for (int j = 0; j < 16; ++j) {
    need[j] = absmax(x + 16 * j, 16) / pos_max;
    maxneed = std::max(maxneed, need[j]);
  }
  k.dh = half_up(maxneed / scale_max);
  k.d = half_value(k.dh);
  for (int j = 0; j < 16; ++j)
    k.sc.push_back(k.d == 0 ? 0 : std::min(scale_max, static_cast<int>(std::ceil(need[j] / k.d))));
  for (int e = 0; e < 256; ++e) {
    const double step = k.sc[e / 16] * k.d;
    k.q.push_back(step == 0 ? 0 : round_clamp(x[e] / step, neg, pos_max));
  }
  return k;
}
void sym_k_expect(const SymK& k, Encoded& o) {
  for (int e = 0; e < 256; ++e) {
    o.expect.push_back(k.d * k.sc[e / 16] * k.q[e]);
    o.half_step.push_back(k.d * k.sc[e / 16] / 2);
  }
}

void enc_q3_k(const float* x, Encoded& o) {
  SymK k = sym_k(x, 31, -4, 3);
  uint8_t b[110] = {};
  int codes[256];
  for (int e = 0; e < 256; ++e) codes[e] = k.q[e] + 4;                                           // 0..7
  for (int e = 0; e < 256; ++e) b[e % 32] |= static_cast<uint8_t>((codes[e] >> 2) << (e / 32));  // hmask
  pack_2bit(b + 32, codes);
  uint8_t* s = b + 96;
  for (int i = 0; i < 16; ++i) {
    const int stored = k.sc[i] + 32;  // signed 6-bit scale, biased
    if (i < 8)
      s[i] |= static_cast<uint8_t>(stored & 15);
    else
      s[i - 8] |= static_cast<uint8_t>((stored & 15) << 4);
    s[8 + i % 4] |= static_cast<uint8_t>((stored >> 4) << (2 * (i / 4)));
  }
  put16(b + 108, k.dh);
  o.bytes.insert(o.bytes.end(), b, b + 110);
  sym_k_expect(k, o);
}

void enc_q6_k(const float* x, Encoded& o) {
  SymK k = sym_k(x, 127, -32, 31);
  uint8_t b[210] = {};
  for (int e = 0; e < 256; ++e) {
    const int c = k.q[e] + 32;  // 0..63
    const int h = e / 128, r = e % 128, kk = r / 32, l = r % 32;
    b[64 * h + l + 32 * (kk & 1)] |= static_cast<uint8_t>((c & 15) << (kk < 2 ? 0 : 4));
    b[128 + 32 * h + l] |= static_cast<uint8_t>((c >> 4) << (2 * kk));
  }
  for (int j = 0; j < 16; ++j) b[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(k.sc[j]));
  put16(b + 208, k.dh);
  o.bytes.insert(o.bytes.end(), b, b + 210);
  sym_k_expect(k, o);
}

void enc_q8_k(const float* x, Encoded& o) {
  const float d = static_cast<float>(absmax(x, 256) / 127);
  uint8_t b[292] = {};
  std::memcpy(b, &d, 4);
  for (int e = 0; e < 256; ++e) {
    const int q = d == 0 ? 0 : round_clamp(x[e] / static_cast<double>(d), -127, 127);
    b[4 + e] = static_cast<uint8_t>(static_cast<int8_t>(q));
    o.expect.push_back(static_cast<double>(d) * q);
    o.half_step.push_back(static_cast<double>(d) / 2 * (1 + 1e-6));
  }
  o.bytes.insert(o.bytes.end(), b, b + 292);
}

std::vector<RefCodec> codecs() {
  return {
      {GgmlType::Q8_0, 32, 0.0040, enc_q8_0},
      {GgmlType::Q4_0, 32, 0.0720, [](const float* x, Encoded& o) { enc_sym_legacy(x, o, 4); }},
      {GgmlType::Q5_0, 32, 0.0340, [](const float* x, Encoded& o) { enc_sym_legacy(x, o, 5); }},
      {GgmlType::Q4_1, 32, 0.0670, [](const float* x, Encoded& o) { enc_asym_legacy(x, o, 4); }},
      {GgmlType::Q5_1, 32, 0.0330, [](const float* x, Encoded& o) { enc_asym_legacy(x, o, 5); }},
      {GgmlType::Q2_K, 256, 0.3700, enc_q2_k},
      {GgmlType::Q3_K, 256, 0.1730, enc_q3_k},
      {GgmlType::Q4_K, 256, 0.0683, enc_q4_k},
      {GgmlType::Q5_K, 256, 0.0331, enc_q5_k},
      {GgmlType::Q6_K, 256, 0.0163, enc_q6_k},
      {GgmlType::Q8_K, 256, 0.0040, enc_q8_k},
  };
}

// Test inputs: 8 super-blocks (2048 values) covering different shapes of data.
std::vector<float> test_data(int which, std::mt19937& rng) {
  std::vector<float> x(2048);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-3.0f, 3.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    switch (which) {
      case 0:
        x[i] = nd(rng);
        break;  // gaussian
      case 1:
        x[i] = ud(rng);
        break;  // uniform, both signs
      case 2:
        x[i] = 0.5f + std::fabs(ud(rng));
        break;  // all positive
      case 3:
        x[i] = -0.5f - std::fabs(ud(rng));
        break;  // all negative
      case 4:
        x[i] = nd(rng) * std::ldexp(1.0f, static_cast<int>(i / 16 % 7) - 3);
        break;  // sub-block scales differ
      case 5:
        x[i] = (i % 97 == 0) ? 40.0f * nd(rng) : 0.01f * nd(rng);
        break;  // outliers
      case 6:
        x[i] = (i < 512) ? 0.0f : (i < 1024 ? 1.25f : nd(rng) * 300.0f);
        break;  // zeros, constant, large
    }
  }
  return x;
}

}  // namespace

TEST(QuantRoundTrip, ReferenceQuantiserThenLibraryDequantiser) {
  std::mt19937 rng(42);
  for (const RefCodec& c : codecs()) {
    const std::string name = ggml_type_name(c.type);
    double worst_ratio = 0;  // max |err| / A seen, reported for the record
    for (int which = 0; which < 7; ++which) {
      std::vector<float> x = test_data(which, rng);
      Encoded enc;
      for (size_t b = 0; b < x.size(); b += static_cast<size_t>(c.block)) c.encode_block(x.data() + b, enc);
      ASSERT_EQ(enc.bytes.size(), ggml_row_bytes(c.type, static_cast<int64_t>(x.size()))) << name;
      std::vector<float> y(x.size());
      dequantize(c.type, enc.bytes.data(), y.data(), static_cast<int64_t>(x.size()));
      for (size_t b = 0; b < x.size(); b += static_cast<size_t>(c.block)) {
        const double A = absmax(x.data() + b, c.block);
        for (size_t i = b; i < b + static_cast<size_t>(c.block); ++i) {
          // (1) decoded value = the format's meaning of the codes (float vs double arithmetic).
          ASSERT_NEAR(y[i], enc.expect[i], 2e-6 * (std::fabs(enc.expect[i]) + A) + 1e-30)
              << name << " data " << which << " element " << i;
          // (2) within half a step of the input, and within the per-type bound.
          const double err = std::fabs(static_cast<double>(y[i]) - x[i]);
          ASSERT_LE(err, enc.half_step[i] * (1 + 1e-5) + 1e-6 * A) << name << " data " << which << " element " << i;
          ASSERT_LE(err, c.bound * A + 1e-30) << name << " data " << which << " element " << i;
          if (A > 0) worst_ratio = std::max(worst_ratio, err / A);
        }
      }
    }
    RecordProperty(name + "_worst_err_over_absmax", std::to_string(worst_ratio));
    EXPECT_GT(worst_ratio, 0.0) << name;  // the data really exercises the rounding
  }
}

// Codes and scales drawn at random (not from data), so every bit of every field is exercised,
// including the extreme codes and scales the round-trip data may not reach.
TEST(QuantRoundTrip, RandomCodesDecodeByFormula) {
  std::mt19937 rng(9);
  // Feeding the reference quantisers random data with random per-sub-block signs and magnitudes
  // spanning 2^-6 .. 2^6 drives codes and scales across their full ranges; the decoded value must
  // always match the formula value of the chosen codes.
  for (const RefCodec& c : codecs()) {
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> x(static_cast<size_t>(c.block) * 4);
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      for (size_t i = 0; i < x.size(); ++i) x[i] = u(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 13) - 6);
      Encoded enc;
      for (size_t b = 0; b < x.size(); b += static_cast<size_t>(c.block)) c.encode_block(x.data() + b, enc);
      std::vector<float> y(x.size());
      dequantize(c.type, enc.bytes.data(), y.data(), static_cast<int64_t>(x.size()));
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_NEAR(y[i], enc.expect[i], 2e-6 * (std::fabs(enc.expect[i]) + 64)) << ggml_type_name(c.type) << " " << i;
    }
  }
}

// The library's encoders (what the GGUF writer stores) against the test's own decoding of the
// bytes.
TEST(QuantRoundTrip, LibraryEncoders) {
  std::mt19937 rng(5);
  struct Case {
    GgmlType t;
  };
  for (int which = 0; which < 7; ++which) {
    std::vector<float> x = test_data(which, rng);
    const int64_t n = static_cast<int64_t>(x.size());
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_1, GgmlType::Q5_1}) {
      std::vector<uint8_t> q = quantize(t, x.data(), n);
      ASSERT_EQ(q.size(), ggml_row_bytes(t, n));
      std::vector<float> y(x.size());
      dequantize(t, q.data(), y.data(), n);
      const size_t bb = static_cast<size_t>(ggml_block_bytes(t));
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = q.data() + b * bb;
        const float* xb = x.data() + b * 32;
        double mn = xb[0], mx = xb[0];
        for (int i = 0; i < 32; ++i) mn = std::min<double>(mn, xb[i]), mx = std::max<double>(mx, xb[i]);
        const double A = absmax(xb, 32);
        for (int i = 0; i < 32; ++i) {
          // Independent decode of the library's bytes.
          const double d = half_value(static_cast<uint16_t>(blk[0] | (blk[1] << 8)));
          double want = 0, bound = 0;
          const int nib = i < 16 ? (blk[(t == GgmlType::Q4_0   ? 2
                                         : t == GgmlType::Q4_1 ? 4
                                         : t == GgmlType::Q5_0 ? 6
                                                               : 8) +
                                        i] &
                                    15)
                                 : (blk[(t == GgmlType::Q4_0   ? 2
                                         : t == GgmlType::Q4_1 ? 4
                                         : t == GgmlType::Q5_0 ? 6
                                                               : 8) +
                                        i - 16] >>
                                    4);
          if (t == GgmlType::Q8_0) {
            want = d * static_cast<int8_t>(blk[2 + i]);
            bound = A / 254 * 1.002;
          } else if (t == GgmlType::Q4_0) {
            want = d * (nib - 8);
            bound = A / 8 * 1.002;
          } else if (t == GgmlType::Q5_0) {
            const int hb = (blk[2 + i / 8] >> (i % 8)) & 1;
            want = d * ((nib | hb << 4) - 16);
            bound = A / 16 * 1.002;
          } else {
            const double m = half_value(static_cast<uint16_t>(blk[2] | (blk[3] << 8)));
            const int levels = t == GgmlType::Q4_1 ? 15 : 31;
            const int hb = t == GgmlType::Q5_1 ? (blk[4 + i / 8] >> (i % 8)) & 1 : 0;
            want = d * (nib | hb << 4) + m;
            bound = (mx - mn) / (2 * levels) * 1.002 + std::fabs(mn) * 1e-3 + 1e-7;
          }
          ASSERT_NEAR(y[b * 32 + i], want, 1e-6 * (std::fabs(want) + A)) << ggml_type_name(t);
          ASSERT_LE(std::fabs(y[b * 32 + i] - xb[i]), bound + 1e-7 * A)
              << ggml_type_name(t) << " data " << which << " block " << b << " element " << i;
        }
      }
    }
  }
}

// The library's K-quant encoders (Q4_K, Q6_K: what a Q4_K_M-style file is written with) against
// the test's reference quantiser of the same type: decoded with the dequantiser checked above, the
// library's squared error must not exceed the reference's by more than 5 % on any data set (its
// scale search should make it smaller), and no element may be off by more than a fifth of its
// super-block's largest magnitude (a layout bug puts values in the wrong place: errors ~ A).
TEST(QuantRoundTrip, LibraryKQuantEncoders) {
  std::mt19937 rng(17);
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K}) {
    const RefCodec* ref = nullptr;
    const auto all = codecs();
    for (const RefCodec& c : all)
      if (c.type == t) ref = &c;
    ASSERT_NE(ref, nullptr);
    for (int which = 0; which < 7; ++which) {
      std::vector<float> x = test_data(which, rng);
      const int64_t n = static_cast<int64_t>(x.size());
      std::vector<uint8_t> q = quantize(t, x.data(), n);
      ASSERT_EQ(q.size(), ggml_row_bytes(t, n));
      std::vector<float> y(x.size()), yr(x.size());
      dequantize(t, q.data(), y.data(), n);
      Encoded enc;
      for (int64_t b = 0; b < n; b += ref->block) ref->encode_block(x.data() + b, enc);
      dequantize(t, enc.bytes.data(), yr.data(), n);
      double sse = 0, sse_ref = 0;
      for (int64_t b = 0; b < n; b += 256) {
        const double A = absmax(x.data() + b, 256);
        for (int64_t i = b; i < b + 256; ++i) {
          ASSERT_LE(std::fabs(y[i] - x[i]), 0.2 * A + 1e-30)
              << ggml_type_name(t) << " data " << which << " element " << i;
          sse += (y[i] - x[i]) * static_cast<double>(y[i] - x[i]);
          sse_ref += (yr[i] - x[i]) * static_cast<double>(yr[i] - x[i]);
        }
      }
      EXPECT_LE(sse, 1.05 * sse_ref + 1e-30) << ggml_type_name(t) << " data " << which;
    }
  }
}

TEST(QuantRoundTrip, F16AndBF16Encoders) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(4096);
  for (size_t i = 0; i < x.size(); ++i) x[i] = nd(rng) * std::ldexp(1.0f, static_cast<int>(i % 20) - 8);
  x[0] = 65504.0f, x[1] = -0.0f, x[2] = 1e-6f /* subnormal half */, x[3] = 70000.0f /* -> inf */;
  auto h = quantize(GgmlType::F16, x.data(), 4096);
  auto b = quantize(GgmlType::BF16, x.data(), 4096);
  std::vector<float> yh(4096), yb(4096);
  dequantize(GgmlType::F16, h.data(), yh.data(), 4096);
  dequantize(GgmlType::BF16, b.data(), yb.data(), 4096);
  EXPECT_EQ(yh[0], 65504.0f);
  EXPECT_TRUE(std::signbit(yh[1]));
  EXPECT_NEAR(yh[2], 1e-6, std::ldexp(1.0, -25));  // subnormal: absolute half-ulp 2^-25
  EXPECT_EQ(yh[3], INFINITY);
  for (size_t i = 4; i < x.size(); ++i) {
    // Round to nearest: the stored half is the nearest one (checked against the half table).
    const uint16_t bits = static_cast<uint16_t>(h[2 * i] | (h[2 * i + 1] << 8));
    const double ax = std::fabs(x[i]);
    const double lo = half_value(half_down(ax)), hi = half_value(half_up(ax));
    EXPECT_LE(std::fabs(std::fabs(half_value(bits)) - ax), std::min(ax - lo, hi - ax) + 1e-30);
    EXPECT_LE(std::fabs(yh[i] - x[i]), std::ldexp(std::fabs(x[i]), -11) + std::ldexp(1.0, -25));
    EXPECT_LE(std::fabs(yb[i] - x[i]), std::ldexp(std::fabs(x[i]), -8));
  }
}
