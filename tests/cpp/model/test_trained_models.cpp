// Real trained models (../shared/models/trained/, README.md there): loaded from the files as they
// are, each must reproduce its reference.json, made by an independent float64 forward with
// Hugging Face semantics. Thresholds: patterns 1e-5 and last logits 1e-4 absolute, about ten
// times the agreement the README measured for a correct float32 forward (TinyStories-656K:
// patterns <= 1.1e-6, logits <= 8e-6; induction-2l: <= 1.5e-6 and <= 1.0e-5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/tokenizer.h"
#include "common/test_files.h"

using namespace attnscope;

namespace {

nlohmann::json reference(const std::string& model_dir) {
  std::ifstream in(test::model_path("trained/" + model_dir + "/reference.json"));
  EXPECT_TRUE(in.good()) << model_dir;
  return nlohmann::json::parse(in);
}

struct Worst {
  double pattern = 0, logit = 0;
};

// Every case of the reference run through `m`: the largest |difference| of any layer's pattern
// ([layer][head][q][k]) and of the last position's logits.
Worst compare_cases(const Model& m, const nlohmann::json& ref) {
  Worst w;
  for (const auto& kase : ref.at("cases")) {
    const auto ids = kase.at("ids").get<std::vector<int32_t>>();
    RunOptions opt;
    opt.capture = {"blocks.*.attn.hook_pattern"};
    const Trace t = m.run(ids, opt);
    const auto patterns = t.attention_patterns();
    const auto& want = kase.at("patterns");
    EXPECT_EQ(patterns.size(), want.size());
    const int64_t T = static_cast<int64_t>(ids.size());
    for (size_t l = 0; l < want.size() && l < patterns.size(); ++l) {
      const Tensor& p = patterns.at(static_cast<int>(l));
      const int64_t H = static_cast<int64_t>(want[l].size());
      EXPECT_EQ(p.shape(), Shape({1, H, T, T})) << "layer " << l;
      if (p.shape() != Shape({1, H, T, T})) continue;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t q = 0; q < T; ++q)
          for (int64_t k = 0; k < T; ++k)
            w.pattern = std::max(w.pattern, std::fabs(p.data()[(h * T + q) * T + k] - want[l][h][q][k].get<double>()));
    }
    const auto logits = kase.at("last_logits").get<std::vector<double>>();
    EXPECT_EQ(t.logits.dim(2), static_cast<int64_t>(logits.size()));
    const float* last = t.logits.data() + (T - 1) * t.logits.dim(2);
    for (size_t i = 0; i < logits.size() && static_cast<int64_t>(i) < t.logits.dim(2); ++i)
      w.logit = std::max(w.logit, std::fabs(last[i] - logits[i]));
  }
  return w;
}

std::vector<int32_t> greedy(const Model& m, std::vector<int32_t> prompt, int n) {
  GenerateOptions g;
  g.max_tokens = n;
  g.stop_at_eos = false;
  return m.generate(prompt, g).new_tokens;
}

}  // namespace

// Stored as published: the tied embedding only under lm_head.weight, with
// "model.embed_tokens.weight": "lm_head.weight" in the safetensors __metadata__.
TEST(TrainedTinyStories656K, LoadsAsPublishedAndReproducesTheReference) {
  LoadOptions o;
  o.dtype = "float32";
  const Model m = Model::load(test::model_path("trained/tinystories-656k"), o);
  EXPECT_EQ(m.config().n_layer, 2);
  EXPECT_EQ(m.config().n_head, 8);
  EXPECT_EQ(m.config().n_head_kv, 4);
  EXPECT_TRUE(m.config().tied_embeddings);
  const nlohmann::json ref = reference("tinystories-656k");
  const Worst w = compare_cases(m, ref);
  EXPECT_LE(w.pattern, 1e-5);
  EXPECT_LE(w.logit, 1e-4);
  const auto want = ref.at("greedy_ids").get<std::vector<int32_t>>();
  const auto got = greedy(m, {ref.at("bos").get<int32_t>()}, static_cast<int>(want.size()));
  EXPECT_EQ(got, want);
  // The README quotes the greedy story's beginning; the checkpoint's own tokenizer.json (no
  // pre-tokenizer, merges across words, decoder stripping the prepended space) must say it.
  ASSERT_TRUE(m.has_tokenizer());
  const std::string text = m.tokenizer().decode(want);
  EXPECT_EQ(text.rfind(
                "Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much.", 0),
            0u)
      << text;
}

// The same weights in both files (HF safetensors with rotate-half q/k, GGUF with llama.cpp's
// interleaved permutation): each reproduces the reference, greedy ids included.
TEST(TrainedInduction2L, BothFilesReproduceTheReference) {
  const nlohmann::json ref = reference("induction-2l");
  for (const std::string file : {"", "/model.gguf"}) {
    SCOPED_TRACE(file.empty() ? "safetensors" : "gguf");
    LoadOptions o;
    o.dtype = "float32";
    const Model m = Model::load(test::model_path("trained/induction-2l") + file, o);
    const Worst w = compare_cases(m, ref);
    EXPECT_LE(w.pattern, 1e-5);
    EXPECT_LE(w.logit, 1e-4);
    const auto bos_greedy = ref.at("greedy_ids").get<std::vector<int32_t>>();
    EXPECT_EQ(greedy(m, {ref.at("bos").get<int32_t>()}, static_cast<int>(bos_greedy.size())), bos_greedy);
    const auto& p = ref.at("greedy_from_prompt");
    const auto prompt_ids = p.at("prompt_ids").get<std::vector<int32_t>>();
    const auto want = p.at("greedy_ids").get<std::vector<int32_t>>();
    EXPECT_EQ(greedy(m, prompt_ids, static_cast<int>(want.size())), want);
  }
  // The GGUF carries stories260K's SentencePiece vocabulary: the prompt's text encodes to the
  // reference's ids (BOS first).
  const Model g = Model::load(test::model_path("trained/induction-2l/model.gguf"));
  EXPECT_EQ(g.tokenizer().encode(ref.at("greedy_from_prompt").at("prompt").get<std::string>(), true),
            ref.at("greedy_from_prompt").at("prompt_ids").get<std::vector<int32_t>>());
}
