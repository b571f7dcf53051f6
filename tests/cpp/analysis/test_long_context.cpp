// Long-context head types on the toy model, each against an independent computation: sink mass
// against closed forms (uniform heads, a pattern set by an intervention) and full captured
// patterns; retrieval scoring finds the copying head L1H0 and no other, and agrees with argmaxes of
// full patterns; induction by length equals the random-repeat scan.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "analysis/attention_rows.h"
#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/long_context.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"

using namespace attnscope;

namespace {

const Model& toy() {
  static const Model m = Model::load("attnscope:toy");
  return m;
}

std::map<int, Tensor> full_patterns(const std::vector<int32_t>& ids, const std::vector<Intervention>& iv = {}) {
  RunOptions ro;
  ro.capture = {"blocks.*.attn.hook_pattern"};
  ro.interventions = iv;
  return toy().run(ids, ro).attention_patterns();
}

// Row p puts 1/2 on key 0 and 1/2 on key p (row 0: all on key 0), for any length.
Intervention half_sink(int layer, int head) {
  Intervention iv;
  iv.target = "blocks." + std::to_string(layer) + ".attn.hook_pattern";
  iv.fn = [head](Tensor& a, const HookContext&) {
    const int64_t H = a.dim(1), T = a.dim(2), K = a.dim(3);
    for (int64_t p = 0; p < T; ++p) {
      float* row = a.data() + (head * T + p) * K;
      std::fill(row, row + K, 0.0f);
      row[0] += 0.5f;
      row[p] += 0.5f;
    }
    (void)H;
  };
  iv.description = "half sink";
  return iv;
}

}  // namespace

TEST(LongContext, SinkMassMatchesClosedFormsAndFullPatterns) {
  const std::vector<int32_t> text =
      toy().encode("The cat sat on the mat. The dog ran to the park and back home.", false);
  SinkOptions o;
  o.lengths = {10, 25, static_cast<int>(text.size()) + 1};
  o.interventions = {half_sink(1, 2)};
  for (int k : {1, 3}) {
    o.sink_tokens = k;
    const SinkReport r = attention_sinks(toy(), text, o);
    ASSERT_EQ(r.by_length.size(), 3u);
    double mean_uniform = 0;
    for (const SinkLength& s : r.by_length) {
      const int T = s.length;
      // Closed forms: the all-zero heads L1H1, L1H3 are exactly uniform (row p: 1/(p+1) per key), so
      // alpha = (1/T) sum_p min(k, p+1)/(p+1); the crafted L1H2 has (1/T)(1 + (T-1)/2) for k = 1
      // and (1/T)(sum_{p<k} 1 + (T-k)/2) for k <= T (rows p < k see only keys < k).
      double uniform = 0;
      for (int p = 0; p < T; ++p) uniform += std::min(k, p + 1) / static_cast<double>(p + 1);
      uniform /= T;
      mean_uniform += uniform / 3;
      const double crafted = (std::min(k, T) + 0.5 * (T - std::min(k, T))) / T;
      EXPECT_NEAR(s.mass.at({1, 1}), uniform, 1e-6);
      EXPECT_NEAR(s.mass.at({1, 3}), uniform, 1e-6);
      EXPECT_NEAR(s.mass.at({1, 2}), crafted, 1e-6);
      // The built first-token head L0H2 puts > 0.9999 on BOS.
      EXPECT_GT(s.mass.at({0, 2}), 0.999);
      // Every head against a hand loop over the full captured pattern of the same run.
      std::vector<int32_t> ids = {toy().tokenizer().bos_id()};
      ids.insert(ids.end(), text.begin(), text.begin() + (T - 1));
      int above = 0;
      for (const auto& [layer, a] : full_patterns(ids, o.interventions))
        for (int h = 0; h < 4; ++h) {
          double sum = 0;
          for (int p = 0; p < T; ++p)
            for (int j = 0; j < std::min(k, p + 1); ++j) sum += a.at({0, h, p, j});
          EXPECT_NEAR(s.mass.at({layer, h}), sum / T, 1e-6) << "L" << layer << "H" << h << " T=" << T;
          above += sum / T > o.epsilon;
          EXPECT_NEAR(
              s.layer_rate[layer],
              [&] {
                int n = 0;
                for (int g = 0; g < 4; ++g) n += s.mass.at({layer, g}) > o.epsilon;
                return n / 4.0;
              }(),
              1e-12);
        }
      EXPECT_DOUBLE_EQ(s.rate, above / 8.0);
    }
    EXPECT_NEAR(r.mean_mass.at({1, 1}), mean_uniform, 1e-6);
  }
}

TEST(LongContext, SinkErrorsAreClear) {
  const std::vector<int32_t> text = toy().encode("abcdef", false);
  SinkOptions o;
  o.lengths = {100};
  EXPECT_THROW(attention_sinks(toy(), text, o), Error);  // longer than the text
  o.lengths = {4};
  o.sink_tokens = 0;
  EXPECT_THROW(attention_sinks(toy(), text, o), Error);
  o.sink_tokens = 1;
  o.epsilon = 1.5;
  EXPECT_THROW(attention_sinks(toy(), text, o), Error);
  o.epsilon = 0.3;
  o.layers = {7};
  EXPECT_THROW(attention_sinks(toy(), text, o), Error);
}

TEST(LongContext, RetrievalFindsTheToyCopyingHeadOnly) {
  RetrievalOptions o;
  o.lengths = {64, 200, 480};
  o.depths = {0.0, 0.5, 1.0};
  const RetrievalReport r = retrieval_heads(toy(), {}, o);
  ASSERT_EQ(r.trials.size(), 9u);
  ASSERT_FALSE(r.heads.empty());
  EXPECT_EQ(r.heads.size(), 1u);
  EXPECT_EQ(r.heads[0].layer, 1);
  EXPECT_EQ(r.heads[0].head, 0);
  EXPECT_GT(r.heads[0].score, 0.9);
  for (const RetrievalHead& h : r.all)
    if (!(h.layer == 1 && h.head == 0)) {
      EXPECT_LT(h.score, 0.1) << "L" << h.layer << "H" << h.head;
    }
  EXPECT_GT(r.accuracy, 0.9);  // the toy really copies the needle

  // One trial against argmaxes of the full captured pattern of the same teacher-forced prompt.
  const RetrievalTrial& t = r.trials[4];  // length 200, depth 0.5
  const std::vector<int32_t>& needle = r.options.needle;
  const std::vector<int32_t> hay = random_content_tokens(toy(), 480, o.seed + 1, needle);
  const int64_t fill = t.length - 1 - static_cast<int64_t>(needle.size()) - 1;
  const int64_t d = std::llround(t.depth * fill);
  std::vector<int32_t> ids = {toy().tokenizer().bos_id()};
  ids.insert(ids.end(), hay.begin(), hay.begin() + d);
  ASSERT_EQ(static_cast<int64_t>(ids.size()), t.needle_start);
  ids.insert(ids.end(), needle.begin(), needle.end());
  ids.insert(ids.end(), hay.begin() + d, hay.begin() + fill);
  const int64_t P = static_cast<int64_t>(ids.size()) + 1;   // + the cue
  ids.insert(ids.end(), needle.begin(), needle.end() - 1);  // cue + answer but its last token
  for (const auto& [layer, a] : full_patterns(ids))
    for (int h = 0; h < 4; ++h) {
      int copied = 0;
      for (size_t i = 1; i < needle.size(); ++i) {
        const int64_t row = P - 1 + static_cast<int64_t>(i) - 1;
        int64_t best = 0;
        for (int64_t j = 1; j <= row; ++j)
          if (a.at({0, h, row, j}) > a.at({0, h, row, best})) best = j;
        copied += best >= t.needle_start && best < t.needle_start + static_cast<int64_t>(needle.size()) &&
                  ids[best] == needle[i];
      }
      EXPECT_NEAR(t.score.at({layer, h}), copied / static_cast<double>(needle.size() - 1), 1e-12);
    }
}

TEST(LongContext, RetrievalGreedyAgreesWhenTheModelCopies) {
  RetrievalOptions o;
  o.lengths = {128};
  o.depths = {0.3};
  o.needle_tokens = 8;
  const RetrievalReport forced = retrieval_heads(toy(), {}, o);
  o.generate = true;
  const RetrievalReport greedy = retrieval_heads(toy(), {}, o);
  ASSERT_DOUBLE_EQ(forced.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(greedy.accuracy, 1.0);
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 4; ++h) EXPECT_NEAR(greedy.score.at({l, h}), forced.score.at({l, h}), 1e-12);
}

TEST(LongContext, RetrievalErrorsAreClear) {
  RetrievalOptions o;
  o.lengths = {10};
  o.needle_tokens = 16;
  EXPECT_THROW(retrieval_heads(toy(), {}, o), Error);  // no room for a haystack
  o.lengths = {600};
  EXPECT_THROW(retrieval_heads(toy(), {}, o), Error);  // beyond the toy's 512-token context
  o.lengths = {64};
  o.depths = {1.5};
  EXPECT_THROW(retrieval_heads(toy(), {}, o), Error);
  o.depths = {0.5};
  o.cue_tokens = 16;
  EXPECT_THROW(retrieval_heads(toy(), {}, o), Error);
  o.cue_tokens = 1;
  EXPECT_THROW(retrieval_heads(toy(), toy().encode("too short", false), o), Error);
}

TEST(LongContext, InductionByLengthEqualsTheRandomRepeatScan) {
  LongInductionOptions o;
  o.lengths = {8, 50, 200};
  for (bool corrected : {true, false}) {
    o.score.chance_corrected = corrected;
    const LongInductionReport r = induction_by_length(toy(), o);
    for (size_t i = 0; i < o.lengths.size(); ++i) {
      InductionOptions io;
      io.n_random_tokens = o.lengths[i];
      io.seed = o.seed;
      io.score = o.score;
      io.threshold = 0.0;
      for (const InductionHead& h : detect_induction_heads(toy(), io).all)
        EXPECT_NEAR(r.score.at({static_cast<int64_t>(i), h.layer, h.head}), h.score, 1e-6)
            << "n=" << o.lengths[i] << " L" << h.layer << "H" << h.head;
    }
    EXPECT_GT(r.score.at({2, 1, 0}), 0.9);  // the toy's induction head holds at distance 200
  }
  o.lengths = {300};  // 601 tokens > 512
  EXPECT_THROW(induction_by_length(toy(), o), Error);
}

// The greedy path reads its rows from one causal pass over prompt + answer; they must be the rows
// generation itself produced (captured step by step here).
TEST(LongContext, GeneratedRowsAreTheGenerationsOwn) {
  const std::vector<int32_t> prompt = toy().encode("the cat sat on the mat. the cat s");
  const detail::GeneratedArgmax g = detail::generated_argmax_keys(toy(), prompt, {}, 6);
  GenerateOptions go;
  go.max_tokens = 6;
  go.stop_at_eos = false;
  go.capture = {"blocks.*.attn.hook_pattern"};
  const Generation ref = toy().generate(prompt, go);
  ASSERT_EQ(g.new_tokens, ref.new_tokens);
  for (const auto& [layer, a] : ref.trace.attention_patterns()) {
    const int64_t Q = a.dim(2), K = a.dim(3);
    for (int h = 0; h < 4; ++h)
      for (size_t i = 0; i < ref.new_tokens.size(); ++i) {
        const int64_t r = static_cast<int64_t>(prompt.size() - 1 + i) - (K - Q);
        int64_t best = 0;
        for (int64_t j = 1; j < K; ++j)
          if (a.at({0, h, r, j}) > a.at({0, h, r, best})) best = j;
        EXPECT_EQ(g.argmax.at(layer)[h][i], best) << "L" << layer << "H" << h << " step " << i;
      }
  }
}
