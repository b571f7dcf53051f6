// config.json read as transformers' config class reads it: layer_types deciding the sliding
// layers, the class's keyword defaults for absent keys (quoted from transformers' configuration_*.py
// beside each check), null, contradicting keys, values that would make a model degenerate, and
// the list of assumed values that `attnscope info` prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "common/cli_runner.h"
#include "common/test_files.h"
#include "model/hf_checkpoint.h"

using namespace attnscope;

namespace {

// A config.json of `arch` with 3 layers, 4 heads of hidden 64 and `extra` keys appended.
HfConfig parse(const std::string& arch, const std::string& extra, int layers = 3) {
  return parse_hf_config(R"({"architectures": [")" + arch +
                             R"("], "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
                             "num_key_value_heads": 2, "vocab_size": 100, "num_hidden_layers": )" +
                             std::to_string(layers) + (extra.empty() ? "" : ", " + extra) + "}",
                         "config.json");
}

std::string error_of(const std::string& arch, const std::string& extra, int layers = 3) {
  try {
    parse(arch, extra, layers);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

bool lists(const ModelConfig& c, const std::string& needle) {
  return std::any_of(c.assumed.begin(), c.assumed.end(),
                     [&](const std::string& a) { return a.find(needle) != std::string::npos; });
}

const std::vector<bool> kNone = {false, false, false};

}  // namespace

// modeling_qwen2.py, Qwen2Attention: self.sliding_window = config.sliding_window if
// config.layer_types[layer_idx] == "sliding_attention" else None. layer_types decides, not
// max_window_layers (transformers #38002, #40126).
TEST(HfConfigLayerTypes, Qwen2AndQwen3LetLayerTypesDecide) {
  for (const std::string arch : {"Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
    const std::string head_dim = arch == "Qwen3ForCausalLM" ? R"("head_dim": 16, )" : "";
    const HfConfig h = parse(arch, head_dim + R"("use_sliding_window": true, "sliding_window": 5,
        "max_window_layers": 1, "layer_types": ["full_attention", "sliding_attention", "full_attention"])");
    EXPECT_EQ(h.model.sliding_window, 5) << arch;
    EXPECT_EQ(h.model.layer_sliding, (std::vector<bool>{false, true, false})) << arch;
    // configuration_qwen2.py: self.sliding_window = sliding_window if self.use_sliding_window
    // else None: layers listed as sliding then attend to everything.
    const HfConfig off = parse(arch, head_dim + R"("use_sliding_window": false, "sliding_window": 5,
        "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention"])");
    EXPECT_EQ(off.model.sliding_window, 0) << arch;
  }
}

// configuration_qwen2.py without layer_types: "sliding_attention" if self.sliding_window is not
// None and i >= self.max_window_layers, with max_window_layers=28 and sliding_window=4096 as
// keyword defaults.
TEST(HfConfigLayerTypes, Qwen2RuleWithoutLayerTypesUsesTheClassDefaults) {
  const HfConfig h = parse("Qwen2ForCausalLM", R"("use_sliding_window": true)", 30);
  ASSERT_EQ(h.model.layer_sliding.size(), 30u);
  for (int l = 0; l < 30; ++l) EXPECT_EQ(h.model.layer_sliding[static_cast<size_t>(l)], l >= 28) << l;
  EXPECT_EQ(h.model.sliding_window, 4096);
  EXPECT_TRUE(lists(h.model, "'max_window_layers' = 28"));
  // sliding_window null: None, so no layer has a window whatever max_window_layers says.
  const HfConfig none = parse("Qwen2ForCausalLM", R"("use_sliding_window": true, "sliding_window": null,
      "max_window_layers": 0)");
  EXPECT_EQ(none.model.sliding_window, 0);
}

// configuration_gemma2.py: "sliding_attention" if bool((i + 1) % 2) else "full_attention" only
// when layer_types is None; a given list wins.
TEST(HfConfigLayerTypes, Gemma2AndGemma3HonourLayerTypes) {
  const std::string types = R"("layer_types": ["full_attention", "full_attention", "sliding_attention"])";
  EXPECT_EQ(parse("Gemma2ForCausalLM", types).model.layer_sliding, (std::vector<bool>{false, false, true}));
  EXPECT_EQ(parse("Gemma2ForCausalLM", "").model.layer_sliding, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(parse("Gemma3ForCausalLM", types).model.layer_sliding, (std::vector<bool>{false, false, true}));
  // Gemma3TextConfig: bool((i + 1) % sliding_window_pattern), pattern 2 -> layers 0 and 2.
  EXPECT_EQ(parse("Gemma3ForCausalLM", R"("sliding_window_pattern": 2)").model.layer_sliding,
            (std::vector<bool>{true, false, true}));
}

// configuration_utils.py layer_type_validation: one entry per layer, each a known type.
TEST(HfConfigLayerTypes, WrongLengthOrUnknownTypeIsAClearError) {
  for (const std::string arch : {"Qwen2ForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM"}) {
    EXPECT_NE(error_of(arch, R"("layer_types": ["full_attention", "sliding_attention"])").find("one entry per layer"),
              std::string::npos)
        << arch;
    EXPECT_NE(error_of(arch, R"("layer_types": ["full_attention", "sliding", "full_attention"])")
                  .find("layer_types[1] is \"sliding\""),
              std::string::npos)
        << arch;
  }
  // MistralConfig: "Detected Mistral model with layer_types ..." is only a warning; every layer
  // keeps the window.
  const HfConfig m = parse("MistralForCausalLM", R"("sliding_window": 8, "layer_types": ["x"])");
  EXPECT_EQ(m.model.sliding_window, 8);
  EXPECT_TRUE(m.model.layer_sliding.empty());
}

// Keyword defaults of each config class for keys a config.json may leave out.
TEST(HfConfigDefaults, AbsentKeysTakeTheClassDefaults) {
  // Qwen2Config(num_key_value_heads=32, max_position_embeddings=32768); Qwen3Config(head_dim=128).
  const std::string no_kv = R"("hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 32,
      "vocab_size": 100, "num_hidden_layers": 2)";
  const HfConfig q2 = parse_hf_config(R"({"architectures": ["Qwen2ForCausalLM"], )" + no_kv + "}", "q2");
  EXPECT_EQ(q2.model.n_head_kv, 32);
  EXPECT_EQ(q2.model.n_ctx, 32768);
  EXPECT_EQ(q2.model.head_dim, 2);  // Qwen2 has no head_dim key: hidden_size // num_attention_heads
  const HfConfig q3 = parse_hf_config(R"({"architectures": ["Qwen3ForCausalLM"], )" + no_kv + "}", "q3");
  EXPECT_EQ(q3.model.head_dim, 128);
  // "if num_key_value_heads is None: num_key_value_heads = num_attention_heads" (null, not absent).
  EXPECT_EQ(
      parse_hf_config(R"({"architectures": ["Qwen2ForCausalLM"], "num_key_value_heads": null, )" + no_kv + "}", "q2")
          .model.n_head_kv,
      32);
  // LlamaConfig(num_key_value_heads=None -> num_attention_heads, max_position_embeddings=2048).
  const HfConfig llama = parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], )" + no_kv + "}", "l");
  EXPECT_EQ(llama.model.n_head_kv, 32);
  EXPECT_EQ(llama.model.n_ctx, 2048);
  // MistralConfig(num_key_value_heads=8, max_position_embeddings=4096 * 32, sliding_window=4096).
  const HfConfig mistral = parse_hf_config(R"({"architectures": ["MistralForCausalLM"], )" + no_kv + "}", "m");
  EXPECT_EQ(mistral.model.n_head_kv, 8);
  EXPECT_EQ(mistral.model.n_ctx, 131072);
  EXPECT_EQ(mistral.model.sliding_window, 4096);
  EXPECT_EQ(parse("MistralForCausalLM", R"("sliding_window": null)").model.sliding_window, 0);

  // Gemma2Config(head_dim=256, query_pre_attn_scalar=256, final_logit_softcapping=30.0,
  // attn_logit_softcapping=50.0, sliding_window=4096).
  const HfConfig g2 = parse("Gemma2ForCausalLM", "");
  EXPECT_EQ(g2.model.head_dim, 256);
  EXPECT_FLOAT_EQ(g2.model.attn_scale, 1.0f / 16.0f);
  EXPECT_FLOAT_EQ(g2.model.attn_softcap, 50.0f);
  EXPECT_FLOAT_EQ(g2.model.final_softcap, 30.0f);
  EXPECT_EQ(g2.model.sliding_window, 4096);
  // Gemma2Config's soft-caps are float | None: null switches them off.
  const HfConfig g2_off =
      parse("Gemma2ForCausalLM", R"("attn_logit_softcapping": null, "final_logit_softcapping": null)");
  EXPECT_EQ(g2_off.model.attn_softcap, 0.0f);
  EXPECT_EQ(g2_off.model.final_softcap, 0.0f);

  // Gemma3TextConfig(rope_theta=1_000_000.0, rope_local_base_freq=10_000.0, head_dim=256,
  // final_logit_softcapping=None, attn_logit_softcapping=None).
  const HfConfig g3 = parse("Gemma3ForCausalLM", "");
  EXPECT_FLOAT_EQ(g3.model.rope_base, 1e6f);
  EXPECT_FLOAT_EQ(g3.model.rope_base_local, 1e4f);
  EXPECT_EQ(g3.model.head_dim, 256);
  EXPECT_EQ(g3.model.attn_softcap, 0.0f);
  // GemmaConfig(num_key_value_heads=16, head_dim=256).
  const HfConfig g1 = parse_hf_config(R"({"architectures": ["GemmaForCausalLM"], )" + no_kv + "}", "g");
  EXPECT_EQ(g1.model.n_head_kv, 16);
  EXPECT_EQ(g1.model.head_dim, 256);

  // Olmo2Config(rms_norm_eps=1e-5) and Phi3Config(rms_norm_eps=1e-5): not Llama's 1e-6.
  EXPECT_FLOAT_EQ(parse("Olmo2ForCausalLM", "").model.norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(parse("Phi3ForCausalLM", "").model.norm_eps, 1e-5f);
  EXPECT_EQ(parse("Phi3ForCausalLM", "").model.sliding_window, 0);  // sliding_window=None
  // Phi3Config(original_max_position_embeddings=4096): where longrope switches to long_factor.
  const std::string eight = "[1, 1, 1, 1, 1, 1, 1, 1]";
  EXPECT_EQ(parse("Phi3ForCausalLM", R"("max_position_embeddings": 131072, "rope_scaling": {"type": "longrope",
      "short_factor": )" + eight + R"(, "long_factor": )" +
                                         eight + "}")
                .model.rope_long_after,
            4096);
  // GPTNeoXConfig(intermediate_size=24576): a number, not 4 * hidden_size.
  const HfConfig neox = parse_hf_config(R"({"architectures": ["GPTNeoXForCausalLM"], "hidden_size": 64,
      "num_attention_heads": 4, "vocab_size": 100, "num_hidden_layers": 1})",
                                        "n");
  EXPECT_EQ(neox.model.n_ff, 24576);
}

// transformers 5 saves rope_theta inside rope_parameters (per layer type for Gemma 3).
TEST(HfConfigDefaults, RopeParametersOfTransformers5) {
  EXPECT_FLOAT_EQ(parse("LlamaForCausalLM", R"("rope_parameters": {"rope_type": "default", "rope_theta": 500000.0})")
                      .model.rope_base,
                  5e5f);
  const HfConfig linear =
      parse("LlamaForCausalLM", R"("rope_parameters": {"rope_type": "linear", "factor": 4.0, "rope_theta": 10000.0})");
  ASSERT_FALSE(linear.model.rope_freq_factors.empty());
  EXPECT_FLOAT_EQ(linear.model.rope_freq_factors[0], 4.0f);
  const HfConfig g3 = parse("Gemma3ForCausalLM", R"("rope_parameters": {
      "full_attention": {"rope_type": "default", "rope_theta": 2000000.0},
      "sliding_attention": {"rope_type": "default", "rope_theta": 20000.0}})");
  EXPECT_FLOAT_EQ(g3.model.rope_base, 2e6f);
  EXPECT_FLOAT_EQ(g3.model.rope_base_local, 2e4f);
  // GPTNeoXConfig.convert_rope_params_to_dict: rotary_emb_base -> rope_theta, rotary_pct ->
  // partial_rotary_factor.
  const HfConfig neox = parse_hf_config(R"({"architectures": ["GPTNeoXForCausalLM"], "hidden_size": 64,
      "num_attention_heads": 4, "vocab_size": 100, "num_hidden_layers": 1, "intermediate_size": 128,
      "rope_parameters": {"rope_type": "default", "rope_theta": 20000.0, "partial_rotary_factor": 1.0}})",
                                        "n");
  EXPECT_EQ(neox.model.rope_dim, 16);
  EXPECT_FLOAT_EQ(neox.model.rope_base, 2e4f);
  // Phi3Config.convert_rope_params_to_dict: rope_parameters.setdefault("partial_rotary_factor", ...).
  EXPECT_EQ(parse("Phi3ForCausalLM", R"("rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
      "partial_rotary_factor": 0.5})")
                .model.rope_dim,
            8);
}

TEST(HfConfigDefaults, DegenerateValuesAreRefused) {
  // null where transformers' modules would get None and fail; LlamaConfig derives a null head_dim
  // ("head_dim if head_dim is not None else hidden_size // num_attention_heads"), Qwen3 does not.
  EXPECT_NE(error_of("LlamaForCausalLM", R"("rope_theta": null)").find("'rope_theta' is null"), std::string::npos);
  EXPECT_NE(error_of("LlamaForCausalLM", R"("rms_norm_eps": null)").find("'rms_norm_eps' is null"), std::string::npos);
  EXPECT_EQ(parse("LlamaForCausalLM", R"("head_dim": null)").model.head_dim, 16);
  EXPECT_NE(error_of("Qwen3ForCausalLM", R"("head_dim": null)").find("'head_dim' is null"), std::string::npos);
  EXPECT_NE(error_of("LlamaForCausalLM", R"("rope_theta": 0)").find("rope_theta must be positive"), std::string::npos);
  EXPECT_NE(error_of("LlamaForCausalLM", R"("rms_norm_eps": -1e-6)").find("rms_norm_eps"), std::string::npos);
  EXPECT_NE(error_of("MistralForCausalLM", R"("sliding_window": 0)").find("sliding_window 0"), std::string::npos);
  // transformers divides by the cap: tanh(x / cap) * cap.
  EXPECT_NE(error_of("Gemma2ForCausalLM", R"("attn_logit_softcapping": 0)").find("must be positive"),
            std::string::npos);
  EXPECT_NE(error_of("Gemma2ForCausalLM", R"("query_pre_attn_scalar": 0)").find("query_pre_attn_scalar"),
            std::string::npos);
  EXPECT_NE(error_of("LlamaForCausalLM", R"("head_dim": 0)").find("head dimension must be positive"),
            std::string::npos);
}

// Every fallback taken is listed, and `attnscope info` prints the list for an HF checkpoint as it
// does for GGUF. The checkpoint: TinyStories-656K's weights and tokenizer (linked, not copied) with
// its config.json short of rope_theta and rms_norm_eps (LlamaConfig: 10000.0 and 1e-6).
TEST(HfConfigDefaults, AssumedValuesAreListedAndShownByInfo) {
  const HfConfig h = parse("LlamaForCausalLM", "");
  EXPECT_TRUE(lists(h.model, "'rope_theta' = 10000 (absent"));
  EXPECT_TRUE(lists(h.model, "'rms_norm_eps' = 1e-06 (absent"));
  EXPECT_FALSE(lists(h.model, "'num_key_value_heads'"));  // given
  EXPECT_FALSE(lists(h.model, "'head_dim'"));             // derived from given keys, not assumed
  EXPECT_TRUE(lists(parse("Qwen3ForCausalLM", "").model, "'head_dim' = 128 (absent"));

  namespace fs = std::filesystem;
  const std::string src = test::model_path("trained/tinystories-656k");
  const fs::path dir = test::temp_path("ck");
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
    fs::create_symlink(fs::path(src) / f, dir / f);
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src + "/config.json"));
  cfg.erase("rope_theta");
  cfg.erase("rms_norm_eps");
  std::ofstream(dir / "config.json") << cfg.dump();
  const auto r = test_cli::run_cli("info -m " + dir.string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("assumed: config.json 'rope_theta' = 10000 (absent: transformers' default)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("assumed: config.json 'rms_norm_eps' = 1e-06 (absent"), std::string::npos) << r.out;
  // The published config.json says everything this family reads.
  EXPECT_EQ(test_cli::run_cli("info -m " + src).out.find("assumed"), std::string::npos);
  fs::remove_all(dir);
}
