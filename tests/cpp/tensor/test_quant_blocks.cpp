// Dequantisers on blocks written out byte by byte, with the expected values worked by hand from the
// ggml block layouts (fp16 constants: 0x3C00 = 1, 0x3800 = 0.5, 0x3400 = 0.25, 0x4000 = 2,
// 0xBC00 = -1, 0x4900 = 10, 0x2400 = 1/64).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/ggml_types.h"
#include "tensor/quant_impl.h"

using namespace attnscope;

namespace {
void f16(std::vector<uint8_t>& b, size_t at, uint16_t bits) {
  b[at] = static_cast<uint8_t>(bits & 0xFF);
  b[at + 1] = static_cast<uint8_t>(bits >> 8);
}
std::vector<float> decode(GgmlType t, const std::vector<uint8_t>& b) {
  EXPECT_EQ(static_cast<int64_t>(b.size()), ggml_block_bytes(t));
  std::vector<float> out(static_cast<size_t>(ggml_block_elems(t)));
  dequantize(t, b.data(), out.data(), ggml_block_elems(t));
  return out;
}
}  // namespace

TEST(QuantBlocks, TypeTable) {
  struct Row {
    GgmlType t;
    int64_t elems, bytes;
    const char* name;
  };
  for (Row r :
       {Row{GgmlType::F32, 1, 4, "F32"}, Row{GgmlType::F16, 1, 2, "F16"}, Row{GgmlType::BF16, 1, 2, "BF16"},
        Row{GgmlType::Q4_0, 32, 18, "Q4_0"}, Row{GgmlType::Q4_1, 32, 20, "Q4_1"}, Row{GgmlType::Q5_0, 32, 22, "Q5_0"},
        Row{GgmlType::Q5_1, 32, 24, "Q5_1"}, Row{GgmlType::Q8_0, 32, 34, "Q8_0"}, Row{GgmlType::Q2_K, 256, 84, "Q2_K"},
        Row{GgmlType::Q3_K, 256, 110, "Q3_K"}, Row{GgmlType::Q4_K, 256, 144, "Q4_K"},
        Row{GgmlType::Q5_K, 256, 176, "Q5_K"}, Row{GgmlType::Q6_K, 256, 210, "Q6_K"},
        Row{GgmlType::Q8_K, 256, 292, "Q8_K"}}) {
    EXPECT_EQ(ggml_block_elems(r.t), r.elems) << r.name;
    EXPECT_EQ(ggml_block_bytes(r.t), r.bytes) << r.name;
    EXPECT_EQ(ggml_type_name(r.t), r.name);
  }
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q4_K, 4096), 16u * 144u);
  EXPECT_THROW(ggml_row_bytes(GgmlType::Q4_K, 100), Error);
  EXPECT_THROW(ggml_block_bytes(static_cast<GgmlType>(99)), Error);
  float out[32];
  uint8_t in[64] = {};
  EXPECT_THROW(dequantize(GgmlType::Q8_0, in, out, 31), Error);
}

TEST(QuantBlocks, F16AndBF16) {
  // 0x3C00 = 1, 0xC000 = -2, 0x7BFF = 65504, 0x0001 = 2^-24, 0x7C00 = inf, 0x8000 = -0.
  std::vector<uint8_t> h = {0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00, 0x00, 0x7C, 0x00, 0x80};
  float out[6];
  dequantize(GgmlType::F16, h.data(), out, 6);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], 0x1p-24f);
  EXPECT_EQ(out[4], INFINITY);
  EXPECT_TRUE(std::signbit(out[5]) && out[5] == 0.0f);
  // bf16 is the top half of a float: 0x3FC0 = 1.5, 0xC2F7 = -123.5.
  std::vector<uint8_t> b = {0xC0, 0x3F, 0xF7, 0xC2};
  dequantize(GgmlType::BF16, b.data(), out, 2);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -123.5f);
}

TEST(QuantBlocks, Q8_0ScaleHalfCodes1To32) {
  std::vector<uint8_t> b(34);
  f16(b, 0, 0x3800);  // d = 0.5
  for (int i = 0; i < 32; ++i) b[2 + i] = static_cast<uint8_t>(i + 1);
  auto y = decode(GgmlType::Q8_0, b);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], 0.5f * static_cast<float>(i + 1));
  b[2 + 5] = 0x81;  // int8 -127
  EXPECT_EQ(decode(GgmlType::Q8_0, b)[5], -63.5f);
}

TEST(QuantBlocks, Q4_0AndQ4_1) {
  std::vector<uint8_t> b(18);
  f16(b, 0, 0x4000);  // d = 2
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = decode(GgmlType::Q4_0, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f * static_cast<float>(j - 8));       // low nibbles: elements 0..15
    EXPECT_EQ(y[16 + j], 2.0f * static_cast<float>(7 - j));  // high nibbles: elements 16..31
  }
  std::vector<uint8_t> c(20);
  f16(c, 0, 0x3800);  // d = 0.5
  f16(c, 2, 0xBC00);  // m = -1
  for (int j = 0; j < 16; ++j) c[4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  y = decode(GgmlType::Q4_1, c);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[15], 6.5f);
  EXPECT_EQ(y[16], 6.5f);
  EXPECT_EQ(y[31], -1.0f);
}

TEST(QuantBlocks, Q5_0AndQ5_1) {
  std::vector<uint8_t> b(22);
  f16(b, 0, 0x3C00);  // d = 1
  b[2] = 0x01;        // qh bit 0 -> element 0 has its 5th bit
  b[5] = 0x80;        // qh bit 31 -> element 31
  b[6 + 15] = 0xF0;   // element 31 low 4 bits = 15
  auto y = decode(GgmlType::Q5_0, b);
  EXPECT_EQ(y[0], 0.0f);    // 16 - 16
  EXPECT_EQ(y[1], -16.0f);  // 0 - 16
  EXPECT_EQ(y[31], 15.0f);  // 31 - 16
  std::vector<uint8_t> c(24);
  f16(c, 0, 0x3400);  // d = 0.25
  f16(c, 2, 0x4900);  // m = 10
  c[4 + 2] = 0x01;    // qh bit 16 -> element 16
  c[8] = 0x21;        // element 0 = 1, element 16 = 2 | 16 = 18
  y = decode(GgmlType::Q5_1, c);
  EXPECT_EQ(y[0], 10.25f);
  EXPECT_EQ(y[1], 10.0f);
  EXPECT_EQ(y[16], 14.5f);
}

// Q2_K { scales[16] @0; qs[64] @16; d @80; dmin @82 }: scale byte = scale | min << 4.
TEST(QuantBlocks, Q2_KByHand) {
  std::vector<uint8_t> b(84);
  f16(b, 80, 0x3C00);  // d = 1
  f16(b, 82, 0x3800);  // dmin = 0.5
  b[0] = 0x21;         // sub-block 0: scale 1, min 2
  b[1] = 0x03;         // sub-block 1: scale 3, min 0
  b[2] = 0x12;         // sub-block 2: scale 2, min 1
  b[6] = 0x0F;         // sub-block 6: scale 15
  b[14] = 0x01;        // sub-block 14: scale 1
  b[16 + 0] = 0xE4;    // byte 0 of the first half: codes 0,1,2,3 for elements 0, 32, 64, 96
  b[16 + 16] = 0x03;   // element 16 code 3
  b[16 + 32] = 0x40;   // second half, bits 6..7 -> element 128 + 96 = 224 code 1
  auto y = decode(GgmlType::Q2_K, b);
  EXPECT_EQ(y[0], -1.0f);  // 1*1*0 - 0.5*2
  EXPECT_EQ(y[15], -1.0f);
  EXPECT_EQ(y[16], 9.0f);  // 1*3*3 - 0
  EXPECT_EQ(y[17], 0.0f);
  EXPECT_EQ(y[32], 1.5f);  // 1*2*1 - 0.5*1
  EXPECT_EQ(y[33], -0.5f);
  EXPECT_EQ(y[64], 0.0f);   // sub-block 4: scale 0 min 0
  EXPECT_EQ(y[96], 45.0f);  // 1*15*3
  EXPECT_EQ(y[224], 1.0f);  // 1*1*1
  EXPECT_EQ(y[225], 0.0f);
}

// Q3_K { hmask[32] @0; qs[64] @32; scales[12] @96; d @108 }: 6-bit scales biased by 32, codes
// (low 2 bits | hmask bit << 2) - 4.
TEST(QuantBlocks, Q3_KByHand) {
  std::vector<uint8_t> b(110);
  f16(b, 108, 0x3400);  // d = 0.25
  // Sub-block 0 scale +2 (stored 34 = 0b10'0010): low nibble of byte 0 = 2, bits 0..1 of byte 8
  // = 2. Sub-block 8 scale -3 (stored 29 = 0b01'1101): high nibble of byte 0 = 13, bits 4..5 of
  // byte 8 = 1.
  b[96 + 0] = 0xD2;
  b[96 + 8] = 0x12;
  // Every other sub-block stores 0, i.e. scale -32.
  b[0] = 0x01;        // hmask[0]: bit 0 (element 0) set, bit 4 (element 128) clear
  b[32 + 0] = 0x03;   // element 0 low bits 3 -> code 7 -> q = 3
  b[32 + 32] = 0x01;  // element 128 low bits 1, no high bit -> q = -3
  auto y = decode(GgmlType::Q3_K, b);
  EXPECT_EQ(y[0], 1.5f);     // 0.25 * 2 * 3
  EXPECT_EQ(y[1], -2.0f);    // 0.25 * 2 * -4
  EXPECT_EQ(y[16], 32.0f);   // 0.25 * -32 * -4
  EXPECT_EQ(y[128], 2.25f);  // 0.25 * -3 * -3
  EXPECT_EQ(y[129], 3.0f);   // 0.25 * -3 * -4
}

// Q4_K { d @0; dmin @2; scales[12] @4; qs[128] @16 }; 8 sub-blocks of 32 with 6-bit scale / min.
TEST(QuantBlocks, Q4_KByHand) {
  std::vector<uint8_t> b(144);
  f16(b, 0, 0x3800);  // d = 0.5
  f16(b, 2, 0x3400);  // dmin = 0.25
  uint8_t* s = b.data() + 4;
  s[0] = 10;  // sub-block 0 scale 10
  s[4] = 3;   // sub-block 0 min 3
  // Sub-block 5: scale 45 = 0b10'1101, min 50 = 0b11'0010: low nibbles in byte 9 (scale low,
  // min high), top bits in bits 6..7 of byte 1 (scale) and byte 5 (min).
  s[9] = 0x2D;
  s[1] = 0x80 | 1;  // + sub-block 1 scale 1
  s[5] = 0xC0 | 4;  // + sub-block 1 min 4
  uint8_t* qs = b.data() + 16;
  qs[0] = 0x7F;   // element 0 (sub-block 0) = 15, element 32 (sub-block 1) = 7
  qs[64] = 0x90;  // element 128 (sub-block 4) = 0, element 160 (sub-block 5) = 9
  auto y = decode(GgmlType::Q4_K, b);
  EXPECT_EQ(y[0], 74.25f);  // 0.5*10*15 - 0.25*3
  EXPECT_EQ(y[1], -0.75f);
  EXPECT_EQ(y[32], 2.5f);  // 0.5*1*7 - 0.25*4
  EXPECT_EQ(y[128], 0.0f);
  EXPECT_EQ(y[160], 190.0f);  // 0.5*45*9 - 0.25*50
  EXPECT_EQ(y[161], -12.5f);
}

// Q5_K { d @0; dmin @2; scales[12] @4; qh[32] @16; qs[128] @48 }; 5th bit of sub-block j in bit j
// of qh.
TEST(QuantBlocks, Q5_KByHand) {
  std::vector<uint8_t> b(176);
  f16(b, 0, 0x2400);  // d = 1/64
  f16(b, 2, 0x3C00);  // dmin = 1
  uint8_t* s = b.data() + 4;
  s[0] = 63;  // sub-block 0 scale 63
  s[4] = 63;  // sub-block 0 min 63
  // Sub-block 7: scale 33 = 0b10'0001, min 17 = 0b01'0001.
  s[11] = 0x11;
  s[3] = 0x80 | 5;  // + sub-block 3 scale 5
  s[7] = 0x40 | 6;  // + sub-block 3 min 6
  uint8_t* qh = b.data() + 16;
  uint8_t* qs = b.data() + 48;
  qh[0] = 0x81;   // element 0 (sub-block 0) and element 224 (sub-block 7) get the 5th bit
  qs[0] = 0x0F;   // element 0 low bits 15 -> 31
  qs[96] = 0xA0;  // element 224 low bits 10 -> 26
  qs[32] = 0x30;  // element 96 (sub-block 3) = 3
  auto y = decode(GgmlType::Q5_K, b);
  EXPECT_EQ(y[0], -32.484375f);  // 63/64*31 - 63
  EXPECT_EQ(y[1], -63.0f);
  EXPECT_EQ(y[224], -3.59375f);  // 33/64*26 - 17
  EXPECT_EQ(y[96], -5.765625f);  // 5/64*3 - 6
  EXPECT_EQ(y[64], 0.0f);        // sub-block 2: scale 0, min 0
}

// Q6_K { ql[128] @0; qh[64] @128; scales[16] int8 @192; d @208 }; codes (4 low | 2 high bits) - 32.
TEST(QuantBlocks, Q6_KByHand) {
  std::vector<uint8_t> b(210);
  f16(b, 208, 0x3800);  // d = 0.5
  int8_t sc[16] = {-3, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0};
  std::memcpy(b.data() + 192, sc, 16);
  uint8_t* ql = b.data();
  uint8_t* qh = b.data() + 128;
  ql[0] = 0x2F;        // element 0 low 15, element 64 low 2
  qh[0] = 0x03;        // element 0 high 3 -> code 63; elements 32, 64, 96 high 0
  ql[64 + 16] = 0x50;  // second half l = 16: element 144 low 0, element 208 low 5
  qh[32 + 16] = 0x20;  // element 208 high 2 -> code 37
  auto y = decode(GgmlType::Q6_K, b);
  EXPECT_EQ(y[0], -46.5f);    // 0.5 * -3 * 31
  EXPECT_EQ(y[32], -80.0f);   // 0.5 * 5 * -32 (sub-block 2)
  EXPECT_EQ(y[64], -15.0f);   // 0.5 * 1 * (2 - 32) (sub-block 4)
  EXPECT_EQ(y[144], 0.0f);    // sub-block 9 scale 0
  EXPECT_EQ(y[208], 317.5f);  // 0.5 * 127 * 5 (sub-block 13)
}

TEST(QuantBlocks, Q8_KByHand) {
  std::vector<uint8_t> b(292);
  const float d = 0.125f;
  std::memcpy(b.data(), &d, 4);
  for (int i = 0; i < 256; ++i) b[4 + i] = static_cast<uint8_t>(i - 128);
  auto y = decode(GgmlType::Q8_K, b);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], 0.125f * static_cast<float>(static_cast<int8_t>(i - 128)));
}

TEST(QuantBlocks, K4ScalesMinsAllAtOnceEqualOneByOne) {
  uint32_t state = 12345u;
  for (int trial = 0; trial < 2000; ++trial) {
    uint8_t s[12];
    for (auto& b : s) b = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
    uint8_t sc[8], mn[8];
    detail::k4_scales_mins(s, sc, mn);
    for (int j = 0; j < 8; ++j) {
      int want_sc = 0, want_mn = 0;
      detail::k4_scale_min(s, j, want_sc, want_mn);
      ASSERT_EQ(sc[j], want_sc) << trial << " " << j;
      ASSERT_EQ(mn[j], want_mn) << trial << " " << j;
    }
  }
}
