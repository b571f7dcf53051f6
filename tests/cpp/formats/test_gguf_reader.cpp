// GGUF reader on the real model files in shared/models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "common/test_files.h"

using namespace attnscope;

namespace {
const std::string kModels = ATTNSCOPE_MODELS_DIR;
const std::string kStories = kModels + "/stories260K.gguf";
const std::string kTinyRandom = kModels + "/llama-2-tiny-random.gguf";
const std::string kLegacyV1 = kModels + "/legacy/tinyllamas-stories-260k-f32.gguf";

// Independent IEEE half decode, by the textbook formula rather than bit moves.
double half_by_formula(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int e = (h >> 10) & 31;
  const int m = h & 1023;
  if (e == 0) return sign * std::ldexp(m / 1024.0, -14);
  if (e == 31) return m ? NAN : sign * INFINITY;
  return sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}
}  // namespace

TEST(GgufReader, Stories260KMetadata) {
  GgufFile f = GgufFile::open(kStories);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.file_size(), 1185376u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.block_count"), 5);
  EXPECT_EQ(f.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(f.get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv"), 4);
  EXPECT_NEAR(*f.get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-12);
  EXPECT_FALSE(f.get_int("llama.rope.freq_base").has_value());
  EXPECT_FALSE(f.has("no.such.key"));
  EXPECT_EQ(f.metadata_keys().size(), f.metadata().size());

  const GgufValue& tokens = f.get("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.type, GgufValueType::ARRAY);
  EXPECT_EQ(tokens.array_type, GgufValueType::STRING);
  ASSERT_EQ(tokens.as_array().size(), 512u);
  for (const auto& t : tokens.as_array()) EXPECT_EQ(t.type, GgufValueType::STRING);
  EXPECT_EQ(tokens.as_array()[1].as_string(), "<s>");
  EXPECT_EQ(tokens.as_array()[2].as_string(), "</s>");
  EXPECT_EQ(f.get("tokenizer.ggml.scores").as_array().size(), 512u);
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id"), 1);

  // Wrong-type accessors name the key.
  try {
    (void)f.get_int("general.architecture");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("general.architecture"), std::string::npos);
  }
  EXPECT_THROW(f.get("missing.key"), Error);
}

TEST(GgufReader, Stories260KTensors) {
  GgufFile f = GgufFile::open(kStories);
  ASSERT_EQ(f.tensors().size(), 48u);
  int64_t params = 0;
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.type, GgmlType::F32) << t.name;
    params += t.numel();
  }
  EXPECT_EQ(params, 292800);
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(emb->shape(), (Shape{512, 64}));
  const Tensor e = f.load_tensor("token_embd.weight");
  EXPECT_EQ(e.shape(), (Shape{512, 64}));
  EXPECT_TRUE(e.is_view());  // F32: zero copy into the mapping
  // Row-major: element [r, c] is float number r*64 + c of the tensor's bytes.
  float raw;
  std::memcpy(&raw, emb->data + (3 * 64 + 5) * 4, 4);
  EXPECT_EQ(e.at({3, 5}), raw);
  // output.weight is bit-identical to token_embd.weight in this file (MANIFEST).
  const Tensor out = f.load_tensor("output.weight");
  EXPECT_EQ(std::memcmp(out.data(), e.data(), 512 * 64 * 4), 0);
  EXPECT_EQ(f.load_tensor("blk.0.attn_k.weight").shape(), (Shape{32, 64}));
  EXPECT_THROW(f.load_tensor("nope"), Error);
}

TEST(GgufReader, ViewOutlivesFile) {
  Tensor t;
  {
    GgufFile f = GgufFile::open(kStories);
    t = f.load_tensor("output_norm.weight");
  }
  // The mapping is kept alive by the view.
  float sum = 0;
  for (int64_t i = 0; i < t.numel(); ++i) sum += std::as_const(t).data()[i];
  EXPECT_TRUE(std::isfinite(sum));
  EXPECT_EQ(t.shape(), (Shape{64}));
}

TEST(GgufReader, TinyRandomF16MatchesIndependentDecode) {
  GgufFile f = GgufFile::open(kTinyRandom);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_int("general.file_type"), 1);
  int n_f16 = 0, n_f32 = 0;
  for (const auto& t : f.tensors()) {
    if (t.type == GgmlType::F16) ++n_f16;
    if (t.type == GgmlType::F32) ++n_f32;
    const Tensor x = f.load_tensor(t.name);
    ASSERT_EQ(x.numel(), t.numel());
    EXPECT_EQ(x.shape(), t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) {
      double want;
      if (t.type == GgmlType::F16) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        want = half_by_formula(h);
      } else {
        float v;
        std::memcpy(&v, t.data + 4 * i, 4);
        want = v;
      }
      ASSERT_EQ(static_cast<double>(x.data()[i]), want) << t.name << " element " << i;
    }
  }
  EXPECT_EQ(n_f16, 9);
  EXPECT_EQ(n_f32, 3);
  EXPECT_EQ(f.find_tensor("output.weight")->shape(), (Shape{32000, 8}));
  EXPECT_EQ(f.get("tokenizer.ggml.tokens").as_array().size(), 32000u);
}

TEST(GgufReader, RejectsVersion1) {
  try {
    GgufFile::open(kLegacyV1);
    FAIL() << "v1 must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_NE(std::string(e.what()).find("unsupported GGUF v1"), std::string::npos) << e.what();
  }
}

TEST(GgufReader, MissingFileIsNotFound) {
  try {
    GgufFile::open(kModels + "/does-not-exist.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
}

TEST(GgufReader, OpenMemoryMatchesOpen) {
  GgufFile a = GgufFile::open(kStories);
  GgufFile b = GgufFile::open_memory(test::read_bytes(kStories), "stories-copy");
  EXPECT_EQ(b.path(), "stories-copy");
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  EXPECT_EQ(a.metadata_keys(), b.metadata_keys());
  const Tensor x = a.load_tensor("blk.4.ffn_down.weight"), y = b.load_tensor("blk.4.ffn_down.weight");
  EXPECT_EQ(std::memcmp(x.data(), y.data(), x.numel() * 4), 0);
}
