// compare_fidelity against figures computed here from two ordinary traces (both runs captured in
// full with hook_pattern and logits): pattern differences, Jensen-Shannon divergence (written as
// entropies, H(m) - (H(a) + H(b)) / 2, not as the library's sum of KL terms), scores, argmax
// agreement. Identical runs give exactly 0; a pair that is not the same model is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/fidelity.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "common/test_files.h"

using namespace attnscope;

namespace {

const std::string kStories = test::model_path("stories260K.gguf");

Model load(const std::string& path, const std::string& dtype) {
  LoadOptions lo;
  lo.dtype = dtype;
  return Model::load(path, lo);
}

double entropy(const std::vector<double>& p) {
  double h = 0;
  for (double x : p)
    if (x > 0) h -= x * std::log(x);
  return h;
}

// What the test expects of one head: accumulated over prompts from full traces.
struct Expected {
  double max_abs = 0, sum_abs = 0, js_sum = 0, js_max = 0;
  int64_t entries = 0, rows = 0;
  double prev_ref = 0, prev_model = 0;
};

}  // namespace

TEST(Fidelity, PerHeadNumbersEqualThoseOfTwoTraces) {
  const std::string q4 = test::temp_path("q4km.gguf");
  quantize_gguf_file(kStories, q4, "Q4_K_M");
  const Model model = load(q4, "bfloat16");
  const Model reference = load(kStories, "float32");
  const std::vector<std::string> texts = {"Once upon a time, there was a little girl named Lily.",
                                          "The cat sat on the mat. The cat sat on the mat."};
  FidelityOptions opt;
  const FidelityReport r = compare_fidelity(model, reference, texts, opt);
  std::filesystem::remove(q4);

  const int L = 5, H = 8;
  ASSERT_EQ(r.heads.size(), static_cast<size_t>(L * H));
  ASSERT_EQ(r.prompts.size(), texts.size());
  std::map<std::pair<int, int>, Expected> want;
  RunOptions ro;
  ro.capture = {"blocks.*.attn.hook_pattern"};
  for (size_t p = 0; p < texts.size(); ++p) {
    const Trace a = model.run(texts[p], ro);
    const Trace b = reference.run(texts[p], ro);
    const int64_t T = a.logits.dim(1), V = a.logits.dim(2);
    ASSERT_EQ(r.prompts[p].tokens, a.tokens[0]);
    // Logits: argmax agreement and the largest change.
    int agree = 0;
    double dl = 0;
    for (int64_t t = 0; t < T; ++t) {
      const float* x = a.logits.data() + t * V;
      const float* y = b.logits.data() + t * V;
      agree += std::max_element(x, x + V) - x == std::max_element(y, y + V) - y;
      for (int64_t v = 0; v < V; ++v) dl = std::max(dl, std::fabs(static_cast<double>(x[v]) - y[v]));
    }
    EXPECT_DOUBLE_EQ(r.prompts[p].argmax_agreement, static_cast<double>(agree) / static_cast<double>(T));
    EXPECT_DOUBLE_EQ(r.prompts[p].max_abs_logit_delta, dl);
    for (int l = 0; l < L; ++l) {
      const Tensor& pa = a.at("blocks." + std::to_string(l) + ".attn.hook_pattern");
      const Tensor& pb = b.at("blocks." + std::to_string(l) + ".attn.hook_pattern");
      for (int h = 0; h < H; ++h) {
        Expected& e = want[{l, h}];
        for (int64_t q = 0; q < T; ++q) {
          std::vector<double> ra, rb, m;
          for (int64_t k = 0; k < T; ++k) {
            const double x = pa.at({0, h, q, k}), y = pb.at({0, h, q, k});
            e.max_abs = std::max(e.max_abs, std::fabs(x - y));
            if (k <= q) {
              e.sum_abs += std::fabs(x - y);
              ++e.entries;
            }
            ra.push_back(x);
            rb.push_back(y);
            m.push_back(0.5 * (x + y));
          }
          const double js = entropy(m) - 0.5 * (entropy(ra) + entropy(rb));
          e.js_sum += js;
          e.js_max = std::max(e.js_max, js);
          ++e.rows;
        }
        ScoreOptions so{false, true};  // the detector's default: chance-corrected
        e.prev_model += previous_token_score(head_pattern(pa, h), so) / static_cast<double>(texts.size());
        e.prev_ref += previous_token_score(head_pattern(pb, h), so) / static_cast<double>(texts.size());
      }
    }
  }
  double worst = 0;
  for (const HeadFidelity& h : r.heads) {
    const Expected& e = want.at({h.layer, h.head});
    EXPECT_DOUBLE_EQ(h.max_abs_delta, e.max_abs) << h.layer << ":" << h.head;
    EXPECT_NEAR(h.mean_abs_delta, e.sum_abs / static_cast<double>(e.entries), 1e-12);
    // Two formulas of the same quantity: equal to double rounding of float inputs.
    EXPECT_NEAR(h.js_mean, std::max(0.0, e.js_sum / static_cast<double>(e.rows)), 1e-9);
    EXPECT_NEAR(h.js_max, e.js_max, 1e-9);
    EXPECT_LE(h.js_max, std::log(2.0) + 1e-12);
    const ScoreChange& prev = h.scores.at(kPreviousToken);
    EXPECT_NEAR(prev.reference, e.prev_ref, 1e-12);
    EXPECT_NEAR(prev.model, e.prev_model, 1e-12);
    EXPECT_NEAR(prev.delta, e.prev_model - e.prev_ref, 1e-12);
    worst = std::max(worst, h.max_abs_delta);
  }
  // Q4_K_M does move patterns (bench_fidelity: ~0.1-0.3 on stories260K), so the test is not 0 == 0.
  EXPECT_GT(worst, 1e-3);
  // The second prompt repeats tokens: token-based induction is scored there.
  EXPECT_TRUE(r.heads[0].scores.count(kInduction));
  const auto sorted = r.worst_heads("max_abs_delta");
  EXPECT_DOUBLE_EQ(sorted.front().max_abs_delta, worst);
}

TEST(Fidelity, IdenticalRunsGiveExactlyZero) {
  const Model a = load(kStories, "float32");
  const Model b = load(kStories, "float32");
  const FidelityReport r = compare_fidelity(a, b, {"Once upon a time there was a cat. The cat sat."});
  for (const HeadFidelity& h : r.heads) {
    EXPECT_EQ(h.max_abs_delta, 0.0);
    EXPECT_EQ(h.mean_abs_delta, 0.0);
    EXPECT_EQ(h.js_mean, 0.0);
    EXPECT_EQ(h.js_max, 0.0);
    for (const auto& [name, c] : h.scores) EXPECT_EQ(c.max_abs_delta, 0.0) << name;
    EXPECT_FALSE(h.type_changed());
    EXPECT_EQ(h.type_changed_prompts, 0);
  }
  EXPECT_EQ(r.prompts[0].argmax_agreement, 1.0);
  EXPECT_EQ(r.prompts[0].max_abs_logit_delta, 0.0);
}

TEST(Fidelity, JsDivergenceClosedForm) {
  // Disjoint supports: ln 2 exactly; equal rows: 0; (1, 0) vs (1/2, 1/2): by hand.
  const float a[] = {1, 0}, b[] = {0, 1}, u[] = {0.5f, 0.5f};
  EXPECT_NEAR(js_divergence(a, b, 2), std::log(2.0), 1e-15);
  EXPECT_EQ(js_divergence(u, u, 2), 0.0);
  const double m0 = 0.75, m1 = 0.25;
  const double want = 0.5 * (std::log(1 / m0)) + 0.5 * (0.5 * std::log(0.5 / m0) + 0.5 * std::log(0.5 / m1));
  EXPECT_NEAR(js_divergence(a, u, 2), want, 1e-15);
}

TEST(Fidelity, RefusesAPairThatIsNotTheSameModel) {
  // The same weights with one vocabulary entry renamed: the same hooks, another tokenizer.
  const std::string renamed = test::temp_path("renamed.gguf");
  const GgufFile f = GgufFile::open(kStories);
  GgufArray tokens = f.get("tokenizer.ggml.tokens").as_array();
  tokens[300] = GgufValue::of_string("zz-not-in-the-original");
  test::GgufEdits edits;
  edits.extra = [&](GgufWriter& w) {
    w.set("tokenizer.ggml.tokens", GgufValue::of_array(GgufValueType::STRING, tokens));
  };
  test::copy_gguf(kStories, renamed, edits);
  const Model a = load(kStories, "float32");
  const Model b = load(renamed, "float32");
  std::filesystem::remove(renamed);
  try {
    compare_fidelity(a, b, {"Once upon a time"});
    FAIL() << "a pair with different vocabularies was compared";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("token 300"), std::string::npos) << e.what();
  }
  const Model toy = Model::load("attnscope:toy");
  EXPECT_THROW(compare_fidelity(a, toy, {"Once upon a time"}), Error);
}

TEST(Fidelity, LossyPathIsNamed) {
  const std::string q8 = test::temp_path("q8.gguf");
  quantize_gguf_file(kStories, q8, "Q8_0");
  EXPECT_TRUE(lossy_path_warning(load(q8, "float32")).has_value());  // the file is quantised
  EXPECT_TRUE(lossy_path_warning(load(q8, "bfloat16")).has_value());
  const PrecisionPath p = precision_path(load(q8, "bfloat16"));
  EXPECT_TRUE(p.quantised);
  EXPECT_NE(std::find(p.stored_types.begin(), p.stored_types.end(), "Q8_0"), p.stored_types.end());
  std::filesystem::remove(q8);
  // An F32 file is exact on both paths (F32 matrices always take the float32 product).
  EXPECT_FALSE(lossy_path_warning(load(kStories, "float32")).has_value());
  EXPECT_FALSE(lossy_path_warning(load(kStories, "bfloat16")).has_value());
}
