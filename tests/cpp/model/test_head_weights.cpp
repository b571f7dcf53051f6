// The head weight reader (src/model/head_weights.cpp) against the model file read on its own
// (GgufFile::load_tensor, by name), on stored (Q8_0, F16) models whose matrices stay in their
// stored type; and that reading them, and computing every composition score, leaves the model's one
// weight store as it was: each weight in one container, no decoded copy kept anywhere in it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "model/head_weights.h"
#include "model/model_impl.h"

using namespace attnscope;
namespace fs = std::filesystem;

namespace {

const std::string kModels = ATTNSCOPE_MODELS_DIR;

struct Case {
  std::string src, ftype;
};

// What the model's store holds: name -> (container, type, shape). Two snapshots are equal when no
// weight moved, changed type (a decoded F32 copy replacing a stored matrix) or appeared.
std::map<std::string, std::string> store_of(const Model& model) {
  std::map<std::string, std::string> s;
  for (const auto& [name, t] : model.impl().weights) s[name] = "weights " + t.shape_str();
  for (const auto& [name, m] : model.impl().matrices) {
    EXPECT_FALSE(s.count(name)) << name << " is in both containers";
    s[name] = "matrices " + m.type_name() + " " + std::to_string(m.rows) + "x" + std::to_string(m.cols);
  }
  return s;
}

// Each weight in exactly one container: vectors as float32 Tensors, matrices as StoredWeights, and
// every bound pointer pointing into them (the structs hold no weight of their own).
void expect_one_store(const Model& model, const std::string& what) {
  const Model::Impl& m = model.impl();
  std::set<const void*> entries;
  for (const auto& [name, t] : m.weights) {
    EXPECT_EQ(t.ndim(), 1) << what << ": " << name << " is a float32 matrix";
    EXPECT_FALSE(m.matrices.count(name)) << what << ": " << name << " is in both containers";
    entries.insert(&t);
  }
  for (const auto& [name, w] : m.matrices) entries.insert(&w);
  auto in_store = [&](const void* p) { return p == nullptr || entries.count(p) > 0; };
  const detail::ModelWeights& b = m.bound;
  for (const void* p : {static_cast<const void*>(b.token_embd), static_cast<const void*>(b.position_embd),
                        static_cast<const void*>(b.output_norm), static_cast<const void*>(b.output_norm_b),
                        static_cast<const void*>(b.output)})
    EXPECT_TRUE(in_store(p)) << what;
  for (const detail::LayerWeights& l : b.layers) {
    for (const StoredWeight* p : {l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down}) EXPECT_TRUE(in_store(p)) << what;
    for (const Tensor* p : {l.attn_norm, l.attn_norm_b, l.ffn_norm, l.ffn_norm_b, l.post_attn_norm, l.post_ffn_norm,
                            l.q_norm, l.k_norm, l.bq, l.bk, l.bv, l.bo, l.b_up, l.b_down})
      EXPECT_TRUE(in_store(p)) << what;
  }
}

class HeadWeightsStored : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!fs::exists(GetParam().src)) GTEST_SKIP() << "no " << GetParam().src;
    dir_ = fs::temp_directory_path() / ("attnscope_head_weights_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / ("model-" + GetParam().ftype + ".gguf")).string();
    quantize_gguf_file(GetParam().src, path_, GetParam().ftype);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string path_;
};

TEST_P(HeadWeightsStored, EqualTheFileReadByNameAndLeaveTheStoreAsItWas) {
  LoadOptions o;
  o.dtype = "bfloat16";  // matrices stay in the file's type
  const Model model = Model::load(path_, o);
  const GgufFile file = GgufFile::open(path_);
  const ModelConfig& c = model.config();
  ASSERT_NE(model.impl().matrices.at("blk.0.attn_output.weight").type_name(), "F32");
  expect_one_store(model, path_);
  const auto before = store_of(model);

  const int64_t D = c.n_embd, Dh = c.head_dim, H = c.n_head, Hkv = c.n_head_kv;
  const bool fused = file.find_tensor("blk.0.attn_qkv.weight") != nullptr;
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    // [q; k; v] rows: separate tensors, or one fused tensor in that order (the converter's layout).
    Tensor q, k, v;
    int64_t k0 = 0, v0 = 0;
    if (fused) {
      q = k = v = file.load_tensor(b + "attn_qkv.weight");
      k0 = H * Dh;
      v0 = k0 + Hkv * Dh;
    } else {
      q = file.load_tensor(b + "attn_q.weight");
      k = file.load_tensor(b + "attn_k.weight");
      v = file.load_tensor(b + "attn_v.weight");
    }
    const Tensor o = file.load_tensor(b + "attn_output.weight");
    const GgufTensorInfo* qn = file.find_tensor(b + "attn_q_norm.weight");
    const Tensor q_norm = qn ? file.load_tensor(qn->name) : Tensor();
    for (int h = 0; h < c.n_head; ++h) {
      const detail::HeadWeights hw = detail::head_weights(model, l, h);
      const int64_t g = hw.kv_head;
      ASSERT_EQ(g, h / (H / Hkv));
      for (int64_t d = 0; d < D; ++d)
        for (int64_t r = 0; r < Dh; ++r) {
          ASSERT_EQ(hw.W_Q.at({d, r}), q.data()[(h * Dh + r) * D + d]) << b << " head " << h;
          ASSERT_EQ(hw.W_K.at({d, r}), k.data()[(k0 + g * Dh + r) * D + d]) << b << " head " << h;
          ASSERT_EQ(hw.W_V.at({d, r}), v.data()[(v0 + g * Dh + r) * D + d]) << b << " head " << h;
          ASSERT_EQ(hw.W_O.at({r, d}), o.data()[d * H * Dh + h * Dh + r]) << b << " head " << h;
        }
      if (!q_norm.empty()) {
        ASSERT_FALSE(hw.q_norm.empty());
        const int64_t off = q_norm.numel() == Dh ? 0 : h * Dh;  // per head, or all heads at once
        for (int64_t r = 0; r < Dh; ++r) ASSERT_EQ(hw.q_norm.data()[r], q_norm.data()[off + r]) << b;
      }
    }
  }
  // The head's rows, decoded one at a time.
  const Tensor head = file.load_tensor(file.find_tensor("output.weight") ? "output.weight" : "token_embd.weight");
  for (int32_t t : {0, c.n_vocab / 2, c.n_vocab - 1}) {
    const Tensor row = detail::unembed_row(model, t);
    ASSERT_EQ(row.numel(), D);
    for (int64_t d = 0; d < D; ++d) ASSERT_EQ(row.data()[d], head.data()[t * D + d]) << "token " << t;
  }
  EXPECT_THROW(detail::unembed_row(model, c.n_vocab), Error);
  const Tensor fn = file.load_tensor("output_norm.weight");
  const detail::NormWeights final_norm = detail::final_norm_weights(model);
  for (int64_t d = 0; d < D; ++d) ASSERT_EQ(final_norm.w.data()[d], fn.data()[d]);

  for (CompositionKind kind : {CompositionKind::Q, CompositionKind::K, CompositionKind::V})
    all_composition_scores(model, kind);
  EXPECT_EQ(store_of(model), before) << "reading weights for analysis changed the model's store";
}

INSTANTIATE_TEST_SUITE_P(Families, HeadWeightsStored,
                         ::testing::Values(Case{kModels + "/stories260K.gguf", "Q8_0"},
                                           Case{kModels + "/arch/gptneox/model.gguf", "F16"},
                                           Case{kModels + "/arch/olmo2/model.gguf", "F16"},
                                           Case{kModels + "/arch/gemma3/model.gguf", "F16"}),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

TEST(HeadWeightsStore, Float32LoadsKeepEachWeightOnceToo) {
  // The float32 path decodes every matrix at load; it must then live only as an F32 StoredWeight,
  // not also as the Tensor it was decoded into.
  for (const std::string& path : {kModels + "/stories260K.gguf", kModels + "/arch/gptneox/model.gguf",
                                  kModels + "/safetensors/lm-buddy-tiny_gpt2-random"}) {
    if (!fs::exists(path)) continue;
    LoadOptions o;
    o.dtype = "float32";
    const Model model = Model::load(path, o);
    expect_one_store(model, path);
    for (const auto& [name, m] : model.impl().matrices) EXPECT_TRUE(m.is_f32()) << path << ": " << name;
    if (fs::is_directory(path)) continue;
    // Every tensor of the file counted once (fused ones as their parts; rope_freqs is config).
    int64_t in_file = 0;
    const GgufFile file = GgufFile::open(path);
    for (const GgufTensorInfo& t : file.tensors())
      if (t.name != "rope_freqs.weight") in_file += t.numel();
    EXPECT_EQ(model.parameter_count(), in_file) << path;
  }
}

}  // namespace
