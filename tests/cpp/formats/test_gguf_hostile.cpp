// Hostile and broken GGUF files: every one must raise attnscope::Error with a message naming the
// problem, never crash, hang or read out of bounds (this file also runs under ASan/UBSan).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "common/test_files.h"

using namespace attnscope;

namespace {
const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";

template <class T>
void patch(std::vector<uint8_t>& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(T));
}
// A small GGUF file assembled by hand; fields can be altered before build().
struct TensorSpec {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = 0;
  uint64_t offset = 0;
};
struct Builder {
  uint32_t version = 3;
  std::vector<std::vector<uint8_t>> kvs;  // encoded key + type + value
  std::vector<TensorSpec> tensors;
  uint64_t data_bytes = 0;
  uint32_t alignment = 32;

  void kv_u32(const std::string& k, uint32_t v) {
    std::vector<uint8_t> b;
    test::put_gguf_string(b, k);
    test::put_le<uint32_t>(b, 4);
    test::put_le<uint32_t>(b, v);
    kvs.push_back(b);
  }
  void kv_raw(const std::string& k, uint32_t type, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> b;
    test::put_gguf_string(b, k);
    test::put_le<uint32_t>(b, type);
    b.insert(b.end(), payload.begin(), payload.end());
    kvs.push_back(b);
  }
  std::vector<uint8_t> build() const {
    std::vector<uint8_t> b = {'G', 'G', 'U', 'F'};
    test::put_le<uint32_t>(b, version);
    test::put_le<uint64_t>(b, tensors.size());
    test::put_le<uint64_t>(b, kvs.size());
    for (const auto& kv : kvs) b.insert(b.end(), kv.begin(), kv.end());
    for (const auto& t : tensors) {
      test::put_gguf_string(b, t.name);
      test::put_le<uint32_t>(b, static_cast<uint32_t>(t.ne.size()));
      for (uint64_t n : t.ne) test::put_le<uint64_t>(b, n);
      test::put_le<uint32_t>(b, t.type);
      test::put_le<uint64_t>(b, t.offset);
    }
    while (b.size() % alignment) b.push_back(0);
    b.resize(b.size() + data_bytes, 0x3c);
    return b;
  }
};

// Two F32 tensors of 8 floats, back to back at offsets 0 and 32.
Builder valid() {
  Builder b;
  b.kv_u32("general.n", 1);
  b.tensors = {{"a", {8}, 0, 0}, {"b", {4, 2}, 0, 32}};
  b.data_bytes = 64;
  return b;
}

// Opening `bytes` must throw an Error whose message contains `needle`.
void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle, ErrorKind kind = ErrorKind::Format) {
  try {
    GgufFile f = GgufFile::open_memory(bytes, "hostile.gguf");
    ADD_FAILURE() << "opened without error; expected \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    EXPECT_NE(std::string(e.what()).find("hostile.gguf"), std::string::npos) << e.what();
    EXPECT_EQ(e.kind(), kind) << e.what();
  }
}
}  // namespace

TEST(GgufHostile, ValidBuilderFileOpens) {
  GgufFile f = GgufFile::open_memory(valid().build(), "hostile.gguf");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.find_tensor("b")->shape(), (Shape{2, 4}));
  EXPECT_EQ(f.load_tensor("b").numel(), 8);
}

TEST(GgufHostile, StoriesTruncatedAtEvery4KiB) {
  const std::vector<uint8_t> full = test::read_bytes(kStories);
  ASSERT_EQ(full.size(), 1185376u);
  std::vector<size_t> cuts;
  for (size_t n = 0; n < full.size(); n += 4096) cuts.push_back(n);
  for (size_t n : {size_t{1}, size_t{3}, size_t{5}, size_t{23}, full.size() - 1}) cuts.push_back(n);
  for (size_t n : cuts) {
    std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      GgufFile::open_memory(std::move(part), "hostile.gguf");
      ADD_FAILURE() << "truncated at " << n << " bytes opened";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::Format) << m;
      EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("past the end") != std::string::npos ||
                  m.find("exceeds the") != std::string::npos || m.find("cannot fit") != std::string::npos ||
                  m.find("impossible") != std::string::npos || m.find("not a GGUF file") != std::string::npos)
          << "cut " << n << ": " << m;
    }
  }
}

TEST(GgufHostile, StoriesPatchedHeader) {
  const std::vector<uint8_t> full = test::read_bytes(kStories);
  auto b = full;
  b[0] = 'X';
  expect_error(b, "bad magic");
  b = full;
  patch<uint64_t>(b, 8, uint64_t{1} << 62);  // tensor count
  expect_error(b, "tensor count");
  b = full;
  patch<uint64_t>(b, 16, std::numeric_limits<uint64_t>::max());  // metadata count
  expect_error(b, "metadata count");
  b = full;
  patch<uint64_t>(b, 24, uint64_t{1} << 60);  // length of the first key
  expect_error(b, "string length");
  b = full;
  patch<uint32_t>(b, 4, 1);
  expect_error(b, "unsupported GGUF v1", ErrorKind::Unsupported);
}

TEST(GgufHostile, Magic) {
  expect_error({}, "not a GGUF file");
  expect_error({'G', 'G', 'U'}, "not a GGUF file");
  auto b = valid().build();
  b[3] = 'L';
  expect_error(b, "bad magic");
  expect_error({'G', 'G', 'U', 'F', 3, 0}, "truncated");
}

TEST(GgufHostile, Versions) {
  Builder v = valid();
  v.version = 1;
  expect_error(v.build(), "unsupported GGUF v1", ErrorKind::Unsupported);
  v.version = 4;
  expect_error(v.build(), "unsupported GGUF version 4", ErrorKind::Unsupported);
  v.version = 0x03000000;
  expect_error(v.build(), "big-endian", ErrorKind::Unsupported);
  v.version = 2;
  EXPECT_NO_THROW(GgufFile::open_memory(v.build(), "v2"));
}

TEST(GgufHostile, TensorOffsets) {
  Builder b = valid();
  b.tensors[1].offset = uint64_t{1} << 40;
  expect_error(b.build(), "past the end");
  b = valid();
  b.tensors[1].offset = std::numeric_limits<uint64_t>::max() - 31;  // offset + size wraps
  expect_error(b.build(), "past the end");
  b = valid();
  b.data_bytes = 63;  // last tensor one byte short
  expect_error(b.build(), "past the end");
  b = valid();
  b.tensors[1].offset = 4;
  expect_error(b.build(), "not a multiple of the alignment");
  b = valid();
  b.tensors[1].offset = 0;
  expect_error(b.build(), "overlap");
  b = valid();
  b.tensors[1].name = "a";
  expect_error(b.build(), "duplicate tensor 'a'");
}

TEST(GgufHostile, TensorShapesAndTypes) {
  Builder b = valid();
  b.tensors[0].ne.assign(100, 1);
  expect_error(b.build(), "n_dims 100");
  b = valid();
  b.tensors[0].type = 99;
  expect_error(b.build(), "type id 99", ErrorKind::Unsupported);
  b = valid();
  b.tensors[0].ne = {uint64_t{1} << 32, uint64_t{1} << 32};
  expect_error(b.build(), "overflow");
  b = valid();
  b.tensors[0].ne = {uint64_t{1} << 63};
  expect_error(b.build(), "out of range");
  b = valid();
  b.tensors[0].ne = {uint64_t{1} << 40};  // fits in int64, but not in the file
  expect_error(b.build(), "past the end");
  b = valid();
  b.tensors[0].type = 8;  // Q8_0 needs rows of 32
  expect_error(b.build(), "not a multiple of the Q8_0 block size");
  b = valid();
  b.tensors[0].name = std::string(3, 'x');
  auto bytes = b.build();
  // Patch the first tensor name length (right after the kv entry) to something absurd.
  const size_t name_at = 24 + b.kvs[0].size();
  patch<uint64_t>(bytes, name_at, uint64_t{1} << 62);
  expect_error(bytes, "string length");
}

TEST(GgufHostile, Metadata) {
  // Absurd array length.
  Builder b = valid();
  std::vector<uint8_t> arr;
  test::put_le<uint32_t>(arr, 10);  // u64 elements
  test::put_le<uint64_t>(arr, uint64_t{1} << 61);
  b.kv_raw("big.array", 9, arr);
  expect_error(b.build(), "array length");
  // An array that fits in the file but exceeds the metadata value limit (8M values).
  b = valid();
  std::vector<uint8_t> many;
  test::put_le<uint32_t>(many, 0);  // u8 elements
  test::put_le<uint64_t>(many, (uint64_t{1} << 23) + 1);
  many.resize(many.size() + (size_t{1} << 23) + 1, 7);
  b.kv_raw("many", 9, many);
  expect_error(b.build(), "exceeds the limit");
  // Absurd string value length.
  b = valid();
  std::vector<uint8_t> s;
  test::put_le<uint64_t>(s, std::numeric_limits<uint64_t>::max());
  b.kv_raw("big.string", 8, s);
  expect_error(b.build(), "string length");
  // Unknown value types, top level and in an array.
  b = valid();
  b.kv_raw("odd", 77, {0, 0, 0, 0});
  expect_error(b.build(), "unknown value type id 77");
  b = valid();
  std::vector<uint8_t> a2;
  test::put_le<uint32_t>(a2, 13);
  test::put_le<uint64_t>(a2, 1);
  b.kv_raw("odd.array", 9, a2);
  expect_error(b.build(), "unknown metadata array element type id 13");
  // Arrays nested 1000 deep: refused, no stack overflow.
  b = valid();
  std::vector<uint8_t> deep;
  for (int k = 0; k < 1000; ++k) {
    test::put_le<uint32_t>(deep, 9);
    test::put_le<uint64_t>(deep, 1);
  }
  b.kv_raw("deep", 9, deep);
  expect_error(b.build(), "nested deeper");
  // Duplicate key.
  b = valid();
  b.kv_u32("general.n", 2);
  expect_error(b.build(), "duplicate metadata key 'general.n'");
  // general.alignment: zero, not a power of two, wrong type.
  b = valid();
  b.kv_u32("general.alignment", 0);
  expect_error(b.build(), "not a power of two");
  b = valid();
  b.kv_u32("general.alignment", 48);
  expect_error(b.build(), "not a power of two");
  b = valid();
  b.kv_raw("general.alignment", 10, {64, 0, 0, 0, 0, 0, 0, 0});
  expect_error(b.build(), "general.alignment has type u64");
  // A valid non-default alignment is honoured.
  b = valid();
  b.kv_u32("general.alignment", 64);
  b.alignment = 64;
  b.tensors[1].offset = 64;
  b.data_bytes = 96;
  GgufFile f = GgufFile::open_memory(b.build(), "aligned");
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
}

// Random byte corruption of the header region: every outcome is a clean open or an Error.
TEST(GgufHostile, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> small = valid().build();
  std::vector<uint8_t> stories = test::read_bytes(kStories);
  stories.resize(300000);  // header + some data: the data part then fails cleanly
  std::mt19937 rng(1234);
  int opened = 0, errors = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::vector<uint8_t> b = (iter % 3 == 0) ? stories : small;
    const size_t region = (iter % 3 == 0) ? 4096 : b.size();
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % region] = static_cast<uint8_t>(rng());
    try {
      GgufFile f = GgufFile::open_memory(std::move(b), "fuzz");
      for (const auto& t : f.tensors()) (void)f.load_tensor(t.name);
      ++opened;
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_EQ(opened + errors, 600);
}

// A weight with no elements is refused when the model loads, before anything is decoded: a
// Q8_0 [10^12, 0] tensor is 0 bytes in the file, so the reader's size checks pass, but decoding
// it walked 10^12 rows (the loader hung: a fuzzing finding, kept in fuzz/regressions/gguf_model).
TEST(GgufHostile, EmptyWeightIsRefusedBeforeItIsDecoded) {
  for (const uint64_t rows : {uint64_t{1'000'000'000'000}, uint64_t{64}}) {
    Builder b;
    b.kvs.clear();
    std::vector<uint8_t> arch;
    test::put_gguf_string(arch, "llama");
    b.kv_raw("general.architecture", 8, arch);
    for (const auto& [key, value] : std::vector<std::pair<std::string, uint32_t>>{{"llama.block_count", 1},
                                                                                  {"llama.context_length", 64},
                                                                                  {"llama.embedding_length", 32},
                                                                                  {"llama.feed_forward_length", 32},
                                                                                  {"llama.attention.head_count", 2}})
      b.kv_u32(key, value);
    b.tensors = {{"token_embd.weight", {32, 12}, 0, 0}, {"blk.0.attn_q.weight", {0, rows}, 8, 1536}};
    b.data_bytes = 1536;
    const auto bytes = b.build();
    const std::string path = (std::filesystem::temp_directory_path() / "attnscope-empty-weight.gguf").string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    for (const char* dtype : {"float32", "bfloat16"}) {
      LoadOptions options;
      options.dtype = dtype;
      try {
        Model::load(path, options);
        ADD_FAILURE() << "a model with an empty weight loaded";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Format) << e.what();
        const std::string shape = "[" + std::to_string(rows) + ", 0]";
        EXPECT_NE(std::string(e.what()).find("tensor 'blk.0.attn_q.weight' has shape " + shape + ", no elements"),
                  std::string::npos)
            << e.what();
      }
    }
    std::filesystem::remove(path);
  }
}
