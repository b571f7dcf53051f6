// config.json parsing, HF -> canonical weight names, the q/k RoPE permutation, and the
// stories260K-hf checkpoint read into exactly the weights of stories260K.gguf.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "formats/safetensors.h"
#include "model/hf_checkpoint.h"

using namespace attnscope;

namespace {
const std::string kModels = ATTNSCOPE_MODELS_DIR;

template <typename F>
void expect_error(F&& f, ErrorKind kind, const std::string& needle) {
  try {
    f();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(HfConfig, Stories260K) {
  HfConfig h = read_hf_config(kModels + "/safetensors/stories260K-hf/config.json");
  const ModelConfig& c = h.model;
  EXPECT_EQ(h.hf_arch, "LlamaForCausalLM");
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.act, Activation::SwiGLU);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.rope_dim, 8);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_ctx, 512);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c.rope_base, 10000.0f);
  EXPECT_EQ(c.rope_layout, RopeLayout::Interleaved);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_EQ(h.bos_id, 1);
  EXPECT_EQ(h.eos_id, 2);
  EXPECT_FALSE(h.quant.enabled());
}

TEST(HfConfig, Gpt2FixtureAndArchitectures) {
  HfConfig g = read_hf_config(kModels + "/safetensors/lm-buddy-tiny_gpt2-random/config.json");
  EXPECT_EQ(g.model.arch, "gpt2");
  EXPECT_EQ(g.model.arch, "gpt2");
  EXPECT_EQ(g.model.n_embd, 2);
  EXPECT_EQ(g.model.n_ff, 8);  // n_inner null -> 4 * n_embd
  EXPECT_EQ(g.model.n_ctx, 1024);
  EXPECT_EQ(g.model.norm, NormKind::LayerNorm);
  EXPECT_EQ(g.model.act, Activation::GeluTanh);
  EXPECT_TRUE(g.model.tied_embeddings);
  EXPECT_TRUE(g.model.qkv_bias && g.model.out_bias);

  const std::string base = R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100)";
  HfConfig q =
      parse_hf_config(R"({"architectures": ["Qwen2ForCausalLM"], )" + base + R"(, "rope_theta": 1000000.0})", "q");
  EXPECT_EQ(q.model.arch, "qwen2");
  EXPECT_EQ(q.model.rope_layout, RopeLayout::NeoX);
  EXPECT_TRUE(q.model.qkv_bias);
  EXPECT_FLOAT_EQ(q.model.rope_base, 1e6f);
  EXPECT_EQ(q.model.head_dim, 16);
  HfConfig m = parse_hf_config(R"({"architectures": ["MistralForCausalLM"], )" + base + "}", "m");
  EXPECT_EQ(m.model.arch, "mistral");
  EXPECT_EQ(m.model.rope_layout, RopeLayout::Interleaved);
  // SmolLM is a LlamaForCausalLM with tied embeddings.
  HfConfig s =
      parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "tie_word_embeddings": true, )" + base + "}", "s");
  EXPECT_TRUE(s.model.tied_embeddings);
  // No architectures list: model_type decides.
  EXPECT_EQ(parse_hf_config(R"({"model_type": "llama", )" + base + "}", "t").model.arch, "llama");

  expect_error([&] { parse_hf_config(R"({"architectures": ["FalconForCausalLM"], )" + base + "}", "cfg.json"); },
               ErrorKind::Unsupported, "architecture 'FalconForCausalLM' is not supported");
  expect_error([&] { parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64})", "cfg.json"); },
               ErrorKind::Format, "cfg.json: missing 'vocab_size'");
  expect_error([&] { parse_hf_config("{not json", "cfg.json"); }, ErrorKind::Format, "not valid JSON");
  expect_error(
      [&] {
        parse_hf_config(
            R"({"architectures": ["LlamaForCausalLM"], "rope_scaling": {"rope_type": "yarn", "factor": 4}, )" + base +
                "}",
            "c");
      },
      ErrorKind::Unsupported, "rope_scaling type 'yarn'");
  expect_error(
      [&] {
        parse_hf_config(
            R"({"architectures": ["LlamaForCausalLM"], "num_key_value_heads": 3, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100})",
            "c");
      },
      ErrorKind::Format, "not a multiple");
}

TEST(HfConfig, Llama3RopeScaling) {
  // Llama-3.2-1B's values.
  HfConfig h =
      parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "intermediate_size": 8192,
      "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
      "rope_theta": 500000.0, "head_dim": 64, "tie_word_embeddings": true,
      "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"}})",
                      "llama32");
  const auto& f = h.model.rope_freq_factors;
  ASSERT_EQ(f.size(), 32u);
  // Wavelengths under 8192/4 keep their frequency, those over 8192/1 are divided by 32, and the
  // band between blends linearly in 1/wavelength: 1/div = (1-s)/32 + s, s = (8192/wl - 1)/3.
  int kept = 0, scaled = 0, blended = 0;
  for (int i = 0; i < 32; ++i) {
    const double wl = 2 * M_PI * std::pow(500000.0, 2.0 * i / 64);
    if (wl < 2048) {
      EXPECT_FLOAT_EQ(f[i], 1.0f) << i;
      ++kept;
    } else if (wl > 8192) {
      EXPECT_FLOAT_EQ(f[i], 32.0f) << i;
      ++scaled;
    } else {
      const double s = (8192 / wl - 1) / 3;
      EXPECT_NEAR(1.0 / f[i], (1 - s) / 32 + s, 1e-6) << i;
      ++blended;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(scaled, 0);
  EXPECT_GT(blended, 0);
}

TEST(HfConfig, QuantizationSection) {
  HfConfig h = parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
      "quantization": {"group_size": 32, "bits": 4, "model.layers.0.mlp.down_proj": {"group_size": 64, "bits": 8},
                       "lm_head": false}})",
                               "q");
  EXPECT_TRUE(h.quant.enabled());
  EXPECT_EQ(h.quant.for_module("model.layers.1.mlp.down_proj"), std::make_pair(32, 4));
  EXPECT_EQ(h.quant.for_module("model.layers.0.mlp.down_proj"), std::make_pair(64, 8));
  EXPECT_EQ(h.quant.for_module("lm_head"), std::make_pair(0, 0));
  expect_error(
      [] {
        parse_hf_config(R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "quantization": {"group_size": 64, "bits": 3}})",
                        "q");
      },
      ErrorKind::Unsupported, "3-bit");
}

TEST(HfNames, MappingAndTransforms) {
  HfConfig h = read_hf_config(kModels + "/safetensors/stories260K-hf/config.json");
  auto t = map_hf_tensor("model.layers.3.self_attn.q_proj.weight", h.model);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->canonical, "blk.3.attn_q.weight");
  EXPECT_EQ(t->transform, detail::HfTransform::PermuteQ);
  EXPECT_EQ(map_hf_tensor("model.layers.0.self_attn.k_proj.weight", h.model)->transform, detail::HfTransform::PermuteK);
  EXPECT_EQ(map_hf_tensor("model.layers.0.mlp.down_proj.weight", h.model)->canonical, "blk.0.ffn_down.weight");
  EXPECT_EQ(map_hf_tensor("lm_head.weight", h.model)->canonical, "output.weight");
  EXPECT_FALSE(map_hf_tensor("model.layers.0.self_attn.rotary_emb.inv_freq", h.model));
  expect_error([&] { map_hf_tensor("model.layers.9.self_attn.q_proj.weight", h.model); }, ErrorKind::Unsupported,
               "model.layers.9");
  expect_error([&] { map_hf_tensor("model.vision_tower.weight", h.model); }, ErrorKind::Unsupported, "vision_tower");
  HfConfig g = read_hf_config(kModels + "/safetensors/lm-buddy-tiny_gpt2-random/config.json");
  EXPECT_EQ(map_hf_tensor("h.0.attn.c_attn.weight", g.model)->transform, detail::HfTransform::Transpose);
  EXPECT_EQ(map_hf_tensor("transformer.h.0.mlp.c_fc.bias", g.model)->canonical, "blk.0.ffn_up.bias");
  EXPECT_EQ(map_hf_tensor("h.0.mlp.c_fc.bias", g.model)->transform, detail::HfTransform::None);
  EXPECT_FALSE(map_hf_tensor("h.0.attn.bias", g.model));
  // (Qwen2Config's num_key_value_heads defaults to 32, so 4 heads need it said.)
  HfConfig q = parse_hf_config(R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 100})",
                               "q");
  EXPECT_EQ(map_hf_tensor("model.layers.0.self_attn.q_proj.bias", q.model)->transform, detail::HfTransform::None);
}

TEST(HfNames, PermutationTurnsRotateHalfIntoInterleavedRope) {
  // For random q in Hugging Face order, rotate-half RoPE then permute == permute then
  // interleaved-pair RoPE, at every position: the permuted weights give the same attention.
  const int heads = 3, hd = 8;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  Tensor q(Shape{heads * hd, 1});
  for (int i = 0; i < heads * hd; ++i) q.data()[i] = nd(rng);
  const Tensor qp = permute_rope_rows(q, heads);
  for (int pos : {0, 1, 5, 100}) {
    Tensor a = q.clone(), b = qp.clone();
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < hd / 2; ++i) {
        const double th = pos * std::pow(10000.0, -2.0 * i / hd);
        float* x = a.data() + h * hd;  // rotate-half: pairs (i, i + hd/2)
        const double x1 = x[i], x2 = x[i + hd / 2];
        x[i] = static_cast<float>(x1 * std::cos(th) - x2 * std::sin(th));
        x[i + hd / 2] = static_cast<float>(x2 * std::cos(th) + x1 * std::sin(th));
        float* y = b.data() + h * hd;  // interleaved: pairs (2i, 2i+1)
        const double y1 = y[2 * i], y2 = y[2 * i + 1];
        y[2 * i] = static_cast<float>(y1 * std::cos(th) - y2 * std::sin(th));
        y[2 * i + 1] = static_cast<float>(y2 * std::cos(th) + y1 * std::sin(th));
      }
    const Tensor ap = permute_rope_rows(a, heads);
    for (int i = 0; i < heads * hd; ++i) EXPECT_NEAR(ap.data()[i], b.data()[i], 1e-5) << pos << " " << i;
  }
  const Tensor back = unpermute_rope_rows(qp, heads);
  for (int i = 0; i < heads * hd; ++i) EXPECT_EQ(back.data()[i], q.data()[i]);
  EXPECT_THROW(permute_rope_rows(Tensor(Shape{6, 2}), 4), Error);
}

TEST(HfCheckpoint, Stories260KEqualsTheGgufWeightsExactly) {
  HfCheckpoint ck = read_hf_checkpoint(kModels + "/safetensors/stories260K-hf");
  GgufFile g = GgufFile::open(kModels + "/stories260K.gguf");
  size_t compared = 0;
  for (const auto& info : g.tensors()) {
    if (info.name == "rope_freqs.weight") continue;
    ASSERT_TRUE(ck.weights.count(info.name)) << info.name;
    const Tensor a = g.load_tensor(info.name);
    const Tensor& b = ck.weights.at(info.name);
    ASSERT_EQ(a.shape(), b.shape()) << info.name;
    for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]) << info.name << "[" << i << "]";
    ++compared;
  }
  EXPECT_EQ(compared, ck.weights.size());
  EXPECT_EQ(ck.weights.size(), 48u);
}

TEST(HfCheckpoint, Gpt2ConvWeightsAreTransposedAndHeadTied) {
  HfCheckpoint ck = read_hf_checkpoint(kModels + "/safetensors/lm-buddy-tiny_gpt2-random");
  EXPECT_TRUE(ck.hf.model.tied_embeddings);
  EXPECT_FALSE(ck.weights.count("output.weight"));
  auto st = SafetensorsFile::open(kModels + "/safetensors/lm-buddy-tiny_gpt2-random/model.safetensors");
  const Tensor conv = st.load_tensor("h.0.attn.c_attn.weight");  // [in=2, out=6]
  const Tensor& w = ck.weights.at("blk.0.attn_qkv.weight");      // [out=6, in=2]
  ASSERT_EQ(w.shape(), Shape({6, 2}));
  for (int o = 0; o < 6; ++o)
    for (int i = 0; i < 2; ++i) EXPECT_EQ(w.data()[o * 2 + i], conv.data()[i * 6 + o]);
  EXPECT_EQ(ck.weights.at("blk.0.ffn_down.weight").shape(), Shape({2, 8}));
  EXPECT_EQ(ck.weights.at("position_embd.weight").shape(), Shape({1024, 2}));
}

TEST(HfCheckpoint, ShapeContradictingConfigIsAClearError) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("attnscope_hfbad_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(kModels + "/safetensors/stories260K-hf/config.json", dir / "config.json");
  auto src = SafetensorsFile::open(kModels + "/safetensors/stories260K-hf/model.safetensors");
  SafetensorsWriter w;
  for (const auto& t : src.tensors())
    if (t.name == "model.layers.1.mlp.up_proj.weight")
      w.add_f32(t.name, Tensor(Shape{100, 64}));
    else if (t.name != "model.layers.2.self_attn.v_proj.weight")
      w.add_f32(t.name, src.load_tensor(t.name));
  w.write((dir / "model.safetensors").string());
  expect_error([&] { read_hf_checkpoint(dir.string()); }, ErrorKind::Format,
               "[100, 64] but config.json implies [172, 64]");
  fs::remove_all(dir);
}
