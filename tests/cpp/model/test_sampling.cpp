// Sampling: the sampler's draws follow the closed-form truncated softmax, greedy limits agree
// with arg-max, and a seed reproduces a generation.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "model/sampling.h"

using namespace attnscope;

namespace {
const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";

GenerateOptions sampling(double temperature, int top_k = 0, double top_p = 1.0, uint64_t seed = 0) {
  GenerateOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.seed = seed;
  return o;
}
}  // namespace

TEST(Sampler, GreedyIsTheFirstArgMax) {
  const std::vector<float> logits{0.5f, 2.0f, -1.0f, 2.0f, NAN};
  detail::TokenSampler t0(sampling(0.0));
  EXPECT_TRUE(t0.greedy());
  EXPECT_EQ(t0.next(logits.data(), 5), 1);
  detail::TokenSampler k1(sampling(5.0, 1));
  EXPECT_EQ(k1.next(logits.data(), 5), 1);
  const std::vector<float> all_nan{NAN, NAN};
  EXPECT_THROW(t0.next(all_nan.data(), 2), Error);
}

TEST(Sampler, FrequenciesFollowTheTruncatedSoftmax) {
  // logits 3, 2, 1, 0, -1 at T = 0.8, top_k = 4, top_p = 0.95: expected probabilities computed
  // here from the definition, independently of the sampler.
  const std::vector<float> logits{1.0f, 3.0f, -1.0f, 2.0f, 0.0f};
  const double T = 0.8;
  std::vector<std::pair<double, int>> p;  // (prob, id) sorted best first, top 4
  for (int id : {1, 3, 0, 4}) p.push_back({std::exp(logits[id] / T), id});
  double total = 0;
  for (auto& x : p) total += x.first;
  std::map<int, double> want;
  double cum = 0, kept = 0;
  for (auto& [q, id] : p) {  // nucleus: smallest prefix reaching 0.95
    want[id] = q;
    kept += q;
    cum += q / total;
    if (cum >= 0.95) break;
  }
  for (auto& [id, q] : want) q /= kept;
  ASSERT_EQ(want.size(), 3u);  // 1, 3, 0 (the fourth falls outside the nucleus)

  detail::TokenSampler s(sampling(T, 4, 0.95, 123));
  const int n = 200000;
  std::map<int, int> got;
  for (int i = 0; i < n; ++i) ++got[s.next(logits.data(), 5)];
  EXPECT_EQ(got.count(2), 0u);  // outside top_k
  EXPECT_EQ(got.count(4), 0u);  // outside the nucleus
  for (auto& [id, q] : want) {
    const double sigma = std::sqrt(q * (1 - q) / n);
    EXPECT_NEAR(static_cast<double>(got[id]) / n, q, 5 * sigma) << "token " << id;
  }
}

TEST(Sampler, RejectsBadSettings) {
  EXPECT_THROW(detail::TokenSampler(sampling(-0.1)), Error);
  EXPECT_THROW(detail::TokenSampler(sampling(NAN)), Error);
  EXPECT_THROW(detail::TokenSampler(sampling(1.0, -1)), Error);
  EXPECT_THROW(detail::TokenSampler(sampling(1.0, 0, 0.0)), Error);
  EXPECT_THROW(detail::TokenSampler(sampling(1.0, 0, 1.5)), Error);
}

TEST(GenerateSampling, SeedReproducesAndGreedyLimitsAgree) {
  const Model model = Model::load(kStories);
  GenerateOptions o = sampling(1.0, 0, 0.95, 7);
  o.max_tokens = 40;
  const Generation a = model.generate(std::string_view("Once upon a time"), o);
  const Generation b = model.generate(std::string_view("Once upon a time"), o);
  EXPECT_EQ(a.new_tokens, b.new_tokens);
  o.seed = 8;
  const Generation c = model.generate(std::string_view("Once upon a time"), o);
  EXPECT_NE(a.new_tokens, c.new_tokens);  // 40 tokens at T = 1 from another stream
  GenerateOptions greedy;
  greedy.max_tokens = 40;
  GenerateOptions k1 = sampling(1.5, 1, 1.0, 99);
  k1.max_tokens = 40;
  EXPECT_EQ(model.generate(std::string_view("Once upon a time"), greedy).new_tokens,
            model.generate(std::string_view("Once upon a time"), k1).new_tokens);
  GenerateOptions bad = sampling(-1.0);
  EXPECT_THROW(model.generate(std::string_view("Once"), bad), Error);
}
