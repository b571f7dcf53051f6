// safetensors reader: real files from the shared models, round trips through the writer, sharded
// checkpoints, and hostile headers that must each give a clear Format error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "attnscope/error.h"
#include "formats/safetensors.h"

using namespace attnscope;
namespace fs = std::filesystem;

namespace {

const std::string kModels = ATTNSCOPE_MODELS_DIR;

fs::path temp_dir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("attnscope_st_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// A file with a given 8-byte length field, header text and data bytes (each possibly lying).
std::string write_raw(const fs::path& dir, const std::string& name, uint64_t len_field, const std::string& header,
                      size_t data_bytes) {
  fs::path p = dir / name;
  std::ofstream out(p, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(len_field >> (8 * i)));
  out << header;
  out << std::string(data_bytes, '\0');
  return p.string();
}
std::string write_header(const fs::path& dir, const std::string& name, const std::string& header, size_t data) {
  return write_raw(dir, name, header.size(), header, data);
}

// Expects a Format error whose message contains `needle`.
void expect_format_error(const std::string& path, const std::string& needle) {
  try {
    SafetensorsFile::open(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Safetensors, ReadsStories260KHeaderAndData) {
  auto f = SafetensorsFile::open(kModels + "/safetensors/stories260K-hf/model.safetensors");
  EXPECT_EQ(f.tensors().size(), 48u);  // 5 layers x 9 + embed, norm, lm_head
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto& e = f.at("model.embed_tokens.weight");
  EXPECT_EQ(e.dtype, StDtype::F32);
  EXPECT_EQ(e.shape, Shape({512, 64}));
  const Tensor t = f.load_tensor("model.embed_tokens.weight");
  EXPECT_TRUE(t.is_view());  // F32 and aligned: no copy
  // Independent read of the same bytes with plain file IO.
  std::ifstream in(f.path(), std::ios::binary);
  uint64_t hl = 0;
  in.read(reinterpret_cast<char*>(&hl), 8);
  in.seekg(static_cast<std::streamoff>(8 + hl + e.begin + 4 * 777));
  float v;
  in.read(reinterpret_cast<char*>(&v), 4);
  EXPECT_EQ(t.data()[777], v);
  EXPECT_EQ(f.find("nope"), nullptr);
  EXPECT_THROW(f.at("nope"), Error);
}

TEST(Safetensors, ReadsGpt2FixtureShapes) {
  auto f = SafetensorsFile::open(kModels + "/safetensors/lm-buddy-tiny_gpt2-random/model.safetensors");
  EXPECT_EQ(f.at("h.0.attn.c_attn.weight").shape, Shape({2, 6}));
  EXPECT_EQ(f.at("wpe.weight").shape, Shape({1024, 2}));
  EXPECT_EQ(f.at("wte.weight").shape, Shape({21, 2}));
}

TEST(Safetensors, HalfConversionsRoundTripAndRound) {
  // Every finite f16 converts to f32 and back unchanged.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    float f = st_f16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(st_f32_to_f16(f), h) << h;
  }
  EXPECT_EQ(st_f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(st_f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(st_f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(st_bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(st_f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie -> even
  EXPECT_EQ(st_f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(st_f32_to_f16(65536.0f), 0x7c00);  // overflow -> inf
}

TEST(Safetensors, WriterRoundTripsEveryDtype) {
  fs::path dir = temp_dir("rt");
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  Tensor a({3, 5});
  for (int i = 0; i < 15; ++i) a.data()[i] = nd(rng);
  SafetensorsWriter w;
  w.add_f32("a", a);
  w.add_f16("b", a);
  w.add_bf16("c", a);
  w.add_u32("d", {2, 2}, {0, 1, 0xffffffffu, 7});
  std::vector<uint8_t> i32(8);
  int32_t iv[2] = {-5, 12};
  std::memcpy(i32.data(), iv, 8);
  w.add("e", StDtype::I32, {2}, i32);
  w.add("f", StDtype::U8, {3}, {0, 200, 255});
  w.add("empty", StDtype::F32, {0, 4}, {});
  w.set_metadata("format", "mlx");
  w.write((dir / "x.safetensors").string());
  EXPECT_FALSE(fs::exists(dir / "x.safetensors.tmp"));

  auto f = SafetensorsFile::open((dir / "x.safetensors").string());
  EXPECT_EQ(f.metadata().at("format"), "mlx");
  const Tensor ra = f.load_tensor("a"), rb = f.load_tensor("b"), rc = f.load_tensor("c");
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(ra.data()[i], a.data()[i]);
    EXPECT_NEAR(rb.data()[i], a.data()[i], std::fabs(a.data()[i]) * 1e-3 + 1e-7);
    EXPECT_NEAR(rc.data()[i], a.data()[i], std::fabs(a.data()[i]) * 8e-3);
  }
  const Tensor rd = f.load_tensor("d");
  EXPECT_EQ(rd.data()[2], 4294967295.0f);
  EXPECT_EQ(f.load_tensor("e").at({0}), -5.0f);
  EXPECT_EQ(f.load_tensor("f").at({1}), 200.0f);
  EXPECT_EQ(f.at("empty").nbytes(), 0u);
  fs::remove_all(dir);
}

TEST(Safetensors, ShardedCheckpointThroughIndex) {
  fs::path dir = temp_dir("shard");
  Tensor a({2, 2}, {1, 2, 3, 4}), b({3}, {5, 6, 7});
  SafetensorsWriter w1, w2;
  w1.add_f32("layer.a", a);
  w2.add_f32("layer.b", b);
  w1.write((dir / "model-00001-of-00002.safetensors").string());
  w2.write((dir / "model-00002-of-00002.safetensors").string());
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"metadata": {"total_size": 28}, "weight_map": {"layer.a": "model-00001-of-00002.safetensors",
            "layer.b": "model-00002-of-00002.safetensors"}})";
  auto ck = SafetensorsCheckpoint::open_dir(dir.string());
  EXPECT_EQ(ck.names(), std::vector<std::string>({"layer.a", "layer.b"}));
  const Tensor lb = ck.load_tensor("layer.b");
  EXPECT_EQ(lb.at({2}), 7.0f);
  EXPECT_EQ(ck.files().size(), 2u);

  // An index naming a tensor its shard does not hold, or a path outside the directory: refused.
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"weight_map": {"layer.a": "model-00001-of-00002.safetensors", "layer.c": "model-00002-of-00002.safetensors"}})";
  EXPECT_THROW(SafetensorsCheckpoint::open_dir(dir.string()), Error);
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {"layer.a": "../../etc/passwd"}})";
  EXPECT_THROW(SafetensorsCheckpoint::open_dir(dir.string()), Error);
  fs::remove_all(dir);
}

TEST(SafetensorsHostile, HeaderLengthPastEndOfFile) {
  fs::path dir = temp_dir("h1");
  expect_format_error(write_raw(dir, "a", 5000, R"({"x":1})", 16), "runs past the end of the file");
  expect_format_error(write_raw(dir, "b", 0, "", 0), "cannot hold");
  // Shorter than the length field itself.
  std::ofstream(dir / "c", std::ios::binary) << "abc";
  expect_format_error((dir / "c").string(), "too short");
  fs::remove_all(dir);
}

TEST(SafetensorsHostile, HundredMegabyteHeaderClaim) {
  fs::path dir = temp_dir("h2");
  expect_format_error(write_raw(dir, "a", 100'000'001ull, "{}", 0), "exceeds the 100000000-byte limit");
  expect_format_error(write_raw(dir, "b", ~0ull, "{}", 0), "exceeds");
  fs::remove_all(dir);
}

TEST(SafetensorsHostile, NonJsonHeader) {
  fs::path dir = temp_dir("h3");
  expect_format_error(write_header(dir, "a", "this is not json", 0), "not valid JSON");
  expect_format_error(write_header(dir, "b", R"({"a": {"dtype": "F32", )", 0), "not valid JSON");
  expect_format_error(write_header(dir, "c", "[1, 2, 3]", 0), "not a JSON object");
  expect_format_error(write_header(dir, "d", std::string(1000, '[') + std::string(1000, ']'), 0), "nested deeper");
  expect_format_error(write_header(dir, "e", R"({"a": 5})", 0), "not a JSON object");
  expect_format_error(write_header(dir, "f", R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4), "dtype");
  fs::remove_all(dir);
}

TEST(SafetensorsHostile, DtypeShapeMismatch) {
  fs::path dir = temp_dir("h4");
  // 2x3 F32 needs 24 bytes; the range gives 12.
  expect_format_error(
      write_header(dir, "a", R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 12]}})", 24),
      "needs 24 bytes but data_offsets give 12");
  // Same range, F16 would fit: the dtype decides.
  EXPECT_NO_THROW(SafetensorsFile::open(
      write_header(dir, "b", R"({"w": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 12]}})", 12)));
  expect_format_error(write_header(dir, "c", R"({"w": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 2]}})", 2),
                      "unknown dtype");
  // A shape whose element count overflows 64 bits.
  expect_format_error(
      write_header(dir, "d",
                   R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})", 0),
      "absurdly large");
  expect_format_error(write_header(dir, "e", R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
                      "non-negative");
  try {
    SafetensorsFile::open(
        write_header(dir, "f", R"({"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", 8));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_NE(std::string(e.what()).find("F64"), std::string::npos);
  }
  fs::remove_all(dir);
}

TEST(SafetensorsHostile, OverlappingAndOutOfRangeOffsets) {
  fs::path dir = temp_dir("h5");
  expect_format_error(write_header(dir, "a",
                                   R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                       "y": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                                   16),
                      "overlapping");
  expect_format_error(write_header(dir, "b", R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", 16),
                      "run past the data section");
  expect_format_error(write_header(dir, "c", R"({"x": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 16),
                      "before begin");
  expect_format_error(write_header(dir, "d", R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 16),
                      "data_offsets");
  fs::remove_all(dir);
}

TEST(SafetensorsHostile, TruncatedRealFileNeverCrashes) {
  // The real file cut at many points: each open either fails with an Error or (never, here) works.
  fs::path dir = temp_dir("h6");
  std::ifstream in(kModels + "/safetensors/lm-buddy-tiny_gpt2-random/model.safetensors", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (size_t cut = 0; cut < bytes.size(); cut += 97) {
    fs::path p = dir / "t.safetensors";
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(cut));
    EXPECT_THROW(SafetensorsFile::open(p.string()), Error) << "cut at " << cut;
  }
  fs::remove_all(dir);
}
