// GGUF writer: byte-exact layout of a small file, and write -> read round trips of every metadata
// type (nested arrays included) and of F32 / F16 / BF16 / Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <utility>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "common/test_files.h"

using namespace attnscope;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("attnscope_gguf_writer_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::create_directories(d);
  return d;
}

GgufValue u(GgufValueType t, uint64_t v) { return GgufValue::of_uint(t, v); }
GgufValue i(GgufValueType t, int64_t v) { return GgufValue::of_int(t, v); }

// Structural equality of two metadata values (floats compared exactly).
void expect_same(const GgufValue& a, const GgufValue& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  if (a.type == GgufValueType::ARRAY) {
    ASSERT_EQ(a.array_type, b.array_type) << where;
    ASSERT_EQ(a.as_array().size(), b.as_array().size()) << where;
    for (size_t k = 0; k < a.as_array().size(); ++k)
      expect_same(a.as_array()[k], b.as_array()[k], where + "[" + std::to_string(k) + "]");
  } else {
    EXPECT_TRUE(a.value == b.value) << where << ": " << a.to_display() << " vs " << b.to_display();
  }
}
}  // namespace

// The smallest interesting file, spelled out byte by byte from the format description.
TEST(GgufWriter, ByteExactSmallFile) {
  fs::path dir = temp_dir();
  GgufWriter w;
  w.set_u32("a.n", 7);
  w.add_tensor("t", Tensor({2}, {1.5f, -2.0f}));
  w.write((dir / "s.gguf").string());

  std::vector<uint8_t> want = {'G', 'G', 'U', 'F'};
  test::put_le<uint32_t>(want, 3);
  test::put_le<uint64_t>(want, 1);  // tensors
  test::put_le<uint64_t>(want, 1);  // kv
  test::put_gguf_string(want, "a.n");
  test::put_le<uint32_t>(want, 4);  // u32
  test::put_le<uint32_t>(want, 7);
  test::put_gguf_string(want, "t");
  test::put_le<uint32_t>(want, 1);  // n_dims
  test::put_le<uint64_t>(want, 2);  // ne[0]
  test::put_le<uint32_t>(want, 0);  // F32
  test::put_le<uint64_t>(want, 0);  // offset
  while (want.size() % 32) want.push_back(0);
  test::put_le<float>(want, 1.5f);
  test::put_le<float>(want, -2.0f);
  EXPECT_EQ(test::read_bytes(dir / "s.gguf"), want);
  EXPECT_FALSE(fs::exists(dir / "s.gguf.tmp"));
  fs::remove_all(dir);
}

TEST(GgufWriter, RoundTripEveryMetadataType) {
  using T = GgufValueType;
  std::vector<std::pair<std::string, GgufValue>> kv = {
      {"v.u8", u(T::U8, 200)},
      {"v.i8", i(T::I8, -100)},
      {"v.u16", u(T::U16, 60000)},
      {"v.i16", i(T::I16, -30000)},
      {"v.u32", u(T::U32, 4000000000u)},
      {"v.i32", i(T::I32, std::numeric_limits<int32_t>::min())},
      {"v.f32", GgufValue::of_float(T::F32, 0.15625)},
      {"v.bool", GgufValue::of_bool(true)},
      {"v.bool0", GgufValue::of_bool(false)},
      {"v.str", GgufValue::of_string(std::string("h\xc3\xa9llo\0 world", 13))},
      {"v.empty_str", GgufValue::of_string("")},
      {"v.u64", u(T::U64, (uint64_t{1} << 63) + 5)},
      {"v.i64", i(T::I64, std::numeric_limits<int64_t>::min())},
      {"v.f64", GgufValue::of_float(T::F64, 3.141592653589793)},
      {"v.arr_u8", GgufValue::of_array(T::U8, {u(T::U8, 1), u(T::U8, 255)})},
      {"v.arr_empty", GgufValue::of_array(T::F32, {})},
      {"v.arr_str", GgufValue::of_array(T::STRING, {GgufValue::of_string("a"), GgufValue::of_string("")})},
      {"v.arr_bool", GgufValue::of_array(T::BOOL, {GgufValue::of_bool(true), GgufValue::of_bool(false)})},
      {"v.arr_f64", GgufValue::of_array(T::F64, {GgufValue::of_float(T::F64, -0.1)})},
      {"v.nested", GgufValue::of_array(T::ARRAY, {GgufValue::of_array(T::I32, {i(T::I32, 1), i(T::I32, -2)}),
                                                  GgufValue::of_array(T::STRING, {GgufValue::of_string("x")}),
                                                  GgufValue::of_array(T::U16, {})})},
      {"v.nested3",
       GgufValue::of_array(T::ARRAY, {GgufValue::of_array(T::ARRAY, {GgufValue::of_array(T::I64, {i(T::I64, 42)})})})},
  };
  GgufWriter w;
  for (const auto& [k, v] : kv) w.set(k, v);
  w.set_strings("h.strings", {"<s>", "</s>", "▁the"});
  w.set_f32s("h.floats", {0.5f, -1.25f});
  w.set_i32s("h.ints", {3, -4, 5});
  w.set_string("general.architecture", "llama");
  w.set_i32("h.i32", -7);
  w.set_f32("h.f32", 2.5f);
  w.set_bool("h.bool", false);
  w.set_u32("h.u32", 1);
  w.set_u32("h.u32", 2);  // replaces, keeps position
  fs::path dir = temp_dir();
  const std::string path = (dir / "meta.gguf").string();
  w.write(path);

  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_TRUE(f.tensors().empty());
  for (const auto& [k, v] : kv) expect_same(f.get(k), v, k);
  EXPECT_EQ(f.metadata_keys().size(), kv.size() + 8);
  EXPECT_EQ(f.metadata_keys()[0], "v.u8");
  EXPECT_EQ(f.metadata_keys().back(), "h.u32");
  EXPECT_EQ(f.get("h.strings").as_array()[2].as_string(), "▁the");
  EXPECT_EQ(f.get("h.floats").as_array()[1].as_float(), -1.25);
  EXPECT_EQ(f.get("h.ints").as_array()[1].as_int(), -4);
  EXPECT_EQ(f.get("h.i32").type, GgufValueType::I32);
  EXPECT_EQ(f.get_int("h.i32"), -7);
  EXPECT_EQ(f.get_float("h.f32"), 2.5);
  EXPECT_EQ(f.get("h.bool").as_bool(), false);
  EXPECT_EQ(f.get_int("h.u32"), 2);
  EXPECT_EQ(f.get("v.nested3").as_array()[0].as_array()[0].as_array()[0].as_int(), 42);
  fs::remove_all(dir);
}

TEST(GgufWriter, RoundTripTensors) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  auto randn = [&](Shape s) {
    Tensor t(s);
    for (int64_t k = 0; k < t.numel(); ++k) t.data()[k] = nd(rng);
    return t;
  };
  // Values that are exact in F16 and BF16 (small integers over powers of two).
  Tensor exact({3, 32});
  for (int64_t k = 0; k < exact.numel(); ++k) exact.data()[k] = static_cast<float>(k - 40) / 8.0f;

  Tensor f32 = randn({2, 1, 3, 5});
  Tensor f16 = randn({4, 64});
  Tensor bf16 = randn({7, 3});
  Tensor q8 = randn({3, 64});
  Tensor q4 = randn({2, 32});

  for (uint32_t alignment : {32u, 64u, 8u}) {
    GgufWriter w;
    w.set_string("general.architecture", "test");
    w.add_tensor("f32", f32);
    w.add_tensor("f16", f16, GgmlType::F16);
    w.add_tensor("f16_exact", exact, GgmlType::F16);
    w.add_tensor("bf16", bf16, GgmlType::BF16);
    w.add_tensor("bf16_exact", exact, GgmlType::BF16);
    w.add_tensor("q8", q8, GgmlType::Q8_0);
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1})
      w.add_tensor("q_" + ggml_type_name(t), q4, t);
    w.add_tensor_generated("gen", {5, 32}, GgmlType::F32, [](float* dst, int64_t r0, int64_t nr) {
      for (int64_t r = 0; r < nr; ++r)
        for (int c = 0; c < 32; ++c) dst[r * 32 + c] = static_cast<float>((r0 + r) * 100 + c);
    });
    fs::path dir = temp_dir();
    const std::string path = (dir / "t.gguf").string();
    w.write(path, alignment);

    GgufFile f = GgufFile::open(path);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.has("general.alignment"), alignment != 32);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    ASSERT_EQ(f.tensors().size(), 11u);
    for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % alignment, 0u) << t.name;

    const GgufTensorInfo* info = f.find_tensor("f32");
    EXPECT_EQ(info->ne, (std::vector<int64_t>{5, 3, 1, 2}));  // ggml order = reversed
    const Tensor r32 = f.load_tensor("f32");
    EXPECT_EQ(r32.shape(), f32.shape());
    EXPECT_EQ(std::memcmp(r32.data(), std::as_const(f32).data(), f32.numel() * 4), 0);

    for (const char* name : {"f16_exact", "bf16_exact"}) {
      const Tensor r = f.load_tensor(name);
      EXPECT_EQ(r.shape(), exact.shape());
      for (int64_t k = 0; k < exact.numel(); ++k) ASSERT_EQ(r.data()[k], std::as_const(exact).data()[k]) << name;
    }
    // Rounding error bounds: F16 2^-11 relative (normal range), BF16 2^-8 relative.
    const Tensor r16 = f.load_tensor("f16");
    for (int64_t k = 0; k < f16.numel(); ++k)
      ASSERT_LE(std::fabs(r16.data()[k] - f16.data()[k]), std::ldexp(std::fabs(f16.data()[k]), -11) + 1e-7);
    const Tensor rb = f.load_tensor("bf16");
    EXPECT_EQ(rb.shape(), (Shape{7, 3}));
    for (int64_t k = 0; k < bf16.numel(); ++k)
      ASSERT_LE(std::fabs(rb.data()[k] - bf16.data()[k]), std::ldexp(std::fabs(bf16.data()[k]), -8));
    // Q8_0: error at most half a step, step = block absmax / 127 (fp16-rounded scale: +0.1%).
    const Tensor rq = f.load_tensor("q8");
    for (int64_t b = 0; b < q8.numel() / 32; ++b) {
      float amax = 0;
      for (int k = 0; k < 32; ++k) amax = std::max(amax, std::fabs(q8.data()[b * 32 + k]));
      for (int k = 0; k < 32; ++k)
        ASSERT_LE(std::fabs(rq.data()[b * 32 + k] - q8.data()[b * 32 + k]), 0.5f * amax / 127.0f * 1.002f);
    }
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1}) {
      const Tensor r = f.load_tensor("q_" + ggml_type_name(t));
      EXPECT_EQ(f.find_tensor("q_" + ggml_type_name(t))->type, t);
      EXPECT_EQ(r.shape(), (Shape{2, 32}));
      // The loose 4-bit bound (block range / 15); test_quant checks the tight per-type ones.
      for (int64_t k = 0; k < r.numel(); ++k) ASSERT_LE(std::fabs(r.data()[k] - q4.data()[k]), 8.0f / 15.0f);
    }
    const Tensor g = f.load_tensor("gen");
    EXPECT_EQ(g.at({3, 7}), 307.0f);
    fs::remove_all(dir);
  }
}

TEST(GgufWriter, RejectsBadInput) {
  GgufWriter w;
  EXPECT_THROW(w.add_tensor("q", Tensor({2, 31}), GgmlType::Q8_0),
               Error);                                                    // row not a block multiple
  EXPECT_THROW(w.add_tensor("k", Tensor({256}), GgmlType::Q2_K), Error);  // no Q2_K encoder
  w.add_tensor("a", Tensor({4}));
  EXPECT_THROW(w.add_tensor("a", Tensor({4})), Error);  // duplicate
  EXPECT_THROW(w.add_tensor("big", Tensor({1, 1, 1, 1, 1})), Error);
  fs::path dir = temp_dir();
  EXPECT_THROW(w.write((dir / "x.gguf").string(), 24), Error);  // alignment not a power of two
  w.set("bad", GgufValue::of_uint(GgufValueType::U8, 300));
  EXPECT_THROW(w.write((dir / "x.gguf").string()), Error);
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
  EXPECT_FALSE(fs::exists(dir / "x.gguf.tmp"));
  w.set("bad", GgufValue::of_array(GgufValueType::U8, {GgufValue::of_string("no")}));
  EXPECT_THROW(w.write((dir / "x.gguf").string()), Error);
  w.set("bad", GgufValue::of_bool(true));
  try {
    w.write((dir / "no-such-dir" / "x.gguf").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
  }
  w.write((dir / "x.gguf").string());
  EXPECT_TRUE(fs::exists(dir / "x.gguf"));
  fs::remove_all(dir);
}

// llama-quantize's job: stories260K rewritten as Q8_0 and as the Q4_K_M mix keeps every metadata
// value, gives each tensor the recipe's type (its 64-wide rows cannot hold 256-element K-quant
// blocks and ffn_down's 172-wide rows not even 32-element ones, so the fallbacks are exercised),
// and decodes to within each type's error bound of the original; an existing file is refused.
TEST(GgufWriter, QuantizeFileFollowsTheRecipe) {
  const std::string src = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
  if (!fs::exists(src)) GTEST_SKIP() << "no " << src;
  const fs::path dir = temp_dir();
  const GgufFile in = GgufFile::open(src);
  struct Case {
    std::string ftype;
    GgmlType attn_q, ffn_down, embd;
    double bound;  // |err| <= bound * max|row| (Q8_0: A/254, Q5_0: A/16; see test_quant_roundtrip)
  };
  for (const Case& c : {Case{"Q8_0", GgmlType::Q8_0, GgmlType::F16, GgmlType::Q8_0, 0.005},
                        Case{"Q4_K_M", GgmlType::Q5_0, GgmlType::F16, GgmlType::Q8_0, 0.07}}) {
    const std::string dst = (dir / (c.ftype + ".gguf")).string();
    quantize_gguf_file(src, dst, c.ftype);
    const GgufFile out = GgufFile::open(dst);
    for (const std::string& key : in.metadata_keys())
      if (key != "general.file_type") expect_same(in.get(key), out.get(key), c.ftype + " " + key);
    ASSERT_EQ(out.tensors().size(), in.tensors().size());
    EXPECT_EQ(out.find_tensor("blk.1.attn_q.weight")->type, c.attn_q) << c.ftype;
    EXPECT_EQ(out.find_tensor("blk.1.ffn_down.weight")->type, c.ffn_down) << c.ftype;
    EXPECT_EQ(out.find_tensor("token_embd.weight")->type, c.embd) << c.ftype;
    EXPECT_EQ(out.find_tensor("blk.1.attn_norm.weight")->type, GgmlType::F32) << c.ftype;
    for (const GgufTensorInfo& t : in.tensors()) {
      const Tensor a = in.load_tensor(t.name), b = out.load_tensor(t.name);
      ASSERT_EQ(a.shape(), b.shape()) << t.name;
      const int64_t row = a.shape().back();
      for (int64_t r = 0; r < a.numel() / row; ++r) {
        double mx = 0;
        for (int64_t k = 0; k < row; ++k) mx = std::max(mx, std::fabs(static_cast<double>(a.data()[r * row + k])));
        for (int64_t k = 0; k < row; ++k)
          ASSERT_LE(std::fabs(a.data()[r * row + k] - b.data()[r * row + k]), c.bound * mx + 1e-12)
              << c.ftype << " " << t.name << " row " << r;
      }
    }
    EXPECT_THROW(quantize_gguf_file(src, dst, c.ftype), Error);  // never overwrites
  }
  EXPECT_THROW(gguf_recipe_type("Q3_K_S", "blk.0.attn_q.weight", 5, 256), Error);
  fs::remove_all(dir);
}
