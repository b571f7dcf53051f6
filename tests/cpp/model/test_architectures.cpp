// Config from GGUF metadata for each supported architecture, checked end to end: small random
// models written with GgufWriter run through Model and through the plain reference forward.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/tokenizer.h"
#include "model/reference_llama.h"

using namespace attnscope;

namespace {

struct Spec {
  std::string arch = "llama";
  int layers = 2, embd = 32, heads = 4, kv_heads = 2, ff = 48, vocab = 64;
  bool biases = false, tied = false, rope_freqs = false;
  float base = 10000.0f;
  std::vector<std::string> skip;  // tensors to leave out
  bool bad_shape = false;         // write attn_k with the wrong shape
  bool no_vocab = false;          // say "no tokenizer" the way llama.cpp reads it
};

Tensor random_tensor(Shape shape, std::mt19937& g, float scale) {
  Tensor t(shape);
  std::uniform_real_distribution<float> d(-scale, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = d(g);
  return t;
}

std::string write_model(const Spec& s, const std::string& tag) {
  std::mt19937 g(42);
  GgufWriter w;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_u32(a + "block_count", s.layers);
  w.set_u32(a + "context_length", 64);
  w.set_u32(a + "embedding_length", s.embd);
  w.set_u32(a + "feed_forward_length", s.ff);
  w.set_u32(a + "attention.head_count", s.heads);
  w.set_u32(a + "attention.head_count_kv", s.kv_heads);
  w.set_f32(a + "rope.freq_base", s.base);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  if (s.no_vocab) {
    w.set_string("tokenizer.ggml.model", "no_vocab");
    w.set_u32(a + "vocab_size", s.vocab);
  }
  const int hd = s.embd / s.heads, kv = s.kv_heads * hd;
  auto add = [&](const std::string& name, Shape shape, float scale = 0.3f) {
    for (const auto& k : s.skip)
      if (k == name) return;
    w.add_tensor(name, random_tensor(shape, g, scale));
  };
  add("token_embd.weight", {s.vocab, s.embd}, 1.0f);
  if (!s.tied) add("output.weight", {s.vocab, s.embd});
  add("output_norm.weight", {s.embd}, 2.0f);
  if (s.rope_freqs) {
    std::vector<float> f(hd / 2);
    for (int i = 0; i < hd / 2; ++i) f[i] = 1.0f + static_cast<float>(i);
    w.add_tensor("rope_freqs.weight", Tensor({hd / 2}, f));
  }
  for (int l = 0; l < s.layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", {s.embd}, 2.0f);
    add(b + "ffn_norm.weight", {s.embd}, 2.0f);
    add(b + "attn_q.weight", {s.embd, s.embd});
    add(b + "attn_k.weight", {s.bad_shape ? kv + 1 : kv, s.embd});
    add(b + "attn_v.weight", {kv, s.embd});
    add(b + "attn_output.weight", {s.embd, s.embd});
    if (s.biases) {
      add(b + "attn_q.bias", {s.embd});
      add(b + "attn_k.bias", {kv});
      add(b + "attn_v.bias", {kv});
    }
    add(b + "ffn_gate.weight", {s.ff, s.embd});
    add(b + "ffn_up.weight", {s.ff, s.embd});
    add(b + "ffn_down.weight", {s.embd, s.ff});
  }
  const std::string path =
      (std::filesystem::temp_directory_path() / ("attnscope_arch_" + std::to_string(::getpid()) + "_" + tag + ".gguf"))
          .string();
  w.write(path);
  return path;
}

// Model logits vs the plain reference for one prompt; returns the largest difference.
double compare_with_reference(const std::string& path, const Model& model) {
  GgufFile f = GgufFile::open(path);
  const std::vector<int32_t> ids = {3, 17, 5, 60, 22, 9, 41, 0, 13};
  auto ref = test_reference::reference_logits(f, ids);
  Trace t = model.run(ids);
  double worst = 0;
  const int64_t V = t.logits.dim(2);
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t v = 0; v < V; ++v)
      worst = std::max(worst, std::abs(static_cast<double>(t.logits.data()[i * V + v]) - ref[i][v]));
  return worst;
}

ErrorKind load_error(const std::string& path, std::string* message) {
  try {
    Model::load(path);
  } catch (const Error& e) {
    *message = e.what();
    return e.kind();
  }
  *message = "(no error)";
  return ErrorKind::Network;
}

}  // namespace

TEST(Architectures, Qwen2HasBiasesNeoxRopeAndTiedOutput) {
  Spec s;
  s.arch = "qwen2";
  s.biases = true;
  s.tied = true;
  s.base = 1000000.0f;
  const std::string path = write_model(s, "qwen2");
  Model m = Model::load(path);
  EXPECT_EQ(m.config().rope_layout, RopeLayout::NeoX);
  EXPECT_TRUE(m.config().qkv_bias);
  EXPECT_TRUE(m.config().tied_embeddings);
  EXPECT_EQ(m.config().n_head_kv, 2);
  EXPECT_FLOAT_EQ(m.config().rope_base, 1000000.0f);
  EXPECT_FALSE(m.has_tokenizer());
  EXPECT_LT(compare_with_reference(path, m), 1e-4);
  std::filesystem::remove(path);
}

// llama.cpp's "no_vocab" (a model without a tokenizer; the benchmark files carry it so that
// llama-bench reads them) loads as a model without a tokenizer, and asking for one says why.
TEST(Architectures, NoVocabMeansNoTokenizer) {
  Spec s;
  s.no_vocab = true;
  const std::string path = write_model(s, "novocab");
  Model m = Model::load(path);
  EXPECT_FALSE(m.has_tokenizer());
  EXPECT_EQ(m.config().n_vocab, s.vocab);
  EXPECT_LT(compare_with_reference(path, m), 1e-4);
  try {
    Tokenizer::from_gguf(GgufFile::open(path));
    ADD_FAILURE() << "a no_vocab file gave a tokenizer";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_NE(std::string(e.what()).find("'no_vocab'"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Architectures, Llama3RopeFrequencyFactorsAreApplied) {
  Spec s;
  s.rope_freqs = true;
  s.base = 500000.0f;
  const std::string path = write_model(s, "llama3");
  Model m = Model::load(path);
  ASSERT_EQ(m.config().rope_freq_factors.size(), 4u);
  EXPECT_FLOAT_EQ(m.config().rope_freq_factors[3], 4.0f);
  EXPECT_LT(compare_with_reference(path, m), 1e-4);
  std::filesystem::remove(path);
}

TEST(Architectures, MistralIsLlamaShaped) {
  Spec s;
  s.arch = "mistral";
  s.kv_heads = 1;
  const std::string path = write_model(s, "mistral");
  Model m = Model::load(path);
  EXPECT_EQ(m.config().rope_layout, RopeLayout::Interleaved);
  EXPECT_EQ(m.config().n_head_kv, 1);
  EXPECT_LT(compare_with_reference(path, m), 1e-4);
  std::filesystem::remove(path);
}

TEST(Architectures, UnknownOrBrokenModelsAreNamedInTheError) {
  std::string msg;
  Spec unknown;
  unknown.arch = "mamba";
  std::string path = write_model(unknown, "mamba");
  EXPECT_EQ(load_error(path, &msg), ErrorKind::Unsupported);
  EXPECT_NE(msg.find("'mamba'"), std::string::npos) << msg;
  std::filesystem::remove(path);

  Spec missing;
  missing.skip = {"blk.1.ffn_up.weight"};
  path = write_model(missing, "missing");
  EXPECT_EQ(load_error(path, &msg), ErrorKind::Format);
  EXPECT_NE(msg.find("blk.1.ffn_up.weight"), std::string::npos) << msg;
  std::filesystem::remove(path);

  Spec bad;
  bad.bad_shape = true;
  path = write_model(bad, "badshape");
  EXPECT_EQ(load_error(path, &msg), ErrorKind::Format);
  EXPECT_NE(msg.find("blk.0.attn_k.weight"), std::string::npos) << msg;
  std::filesystem::remove(path);
}
