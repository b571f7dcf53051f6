// The head-ablation sweep: the fast path (cached residual stream, heads as batch rows) agrees with
// one full pass per head, and on the toy model the sweep and plain ablations find the induction
// circuit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/predictions.h"
#include "common/tensor_compare.h"
#include "common/test_files.h"

using namespace attnscope;

namespace {

const Model& stories() {
  static Model m = Model::load(test::model_path("stories260K.gguf"));
  return m;
}

const Model& toy() {
  static Model m = Model::load("attnscope:toy");
  return m;
}

void expect_same_effects(const AblationSweepResult& a, const AblationSweepResult& b) {
  ASSERT_EQ(a.effects.size(), b.effects.size());
  EXPECT_NEAR(a.clean_logit, b.clean_logit, 1e-5);
  for (size_t i = 0; i < a.effects.size(); ++i) {
    EXPECT_EQ(a.effects[i].layer, b.effects[i].layer);
    EXPECT_EQ(a.effects[i].head, b.effects[i].head);
    EXPECT_NEAR(a.effects[i].delta_logit, b.effects[i].delta_logit, 1e-4)
        << "L" << a.effects[i].layer << "H" << a.effects[i].head;
    EXPECT_NEAR(a.effects[i].delta_prob, b.effects[i].delta_prob, 1e-5);
  }
}

// [BOS] s s: a sequence of distinct letters, twice.
std::vector<int32_t> repeated(const Model& m, int n, unsigned seed) {
  std::string letters = "abcdefghijklmnopqrstuvwxyz";
  std::mt19937 rng(seed);
  std::shuffle(letters.begin(), letters.end(), rng);
  std::string s = letters.substr(0, static_cast<size_t>(n));
  return m.encode(s + s);
}

// Fraction of the second repeat's tokens (after its first) predicted correctly by argmax.
double second_repeat_accuracy(const Model& m, const std::vector<Intervention>& ivs, int trials = 8, int n = 20) {
  int right = 0, total = 0;
  for (int trial = 0; trial < trials; ++trial) {
    auto ids = repeated(m, n, 1000u + static_cast<unsigned>(trial));
    const int T = static_cast<int>(ids.size());
    RunOptions o;
    o.interventions = ivs;
    Trace t = m.run(ids, o);
    for (int pos = T - n; pos < T - 1; ++pos) {  // the token at pos is in the second repeat
      auto top = top_k_logits(row_at(t.logits, pos, 0), t.logits.dim(2), 1, false);
      right += top[0].id == ids[static_cast<size_t>(pos + 1)];
      ++total;
    }
  }
  return static_cast<double>(right) / total;
}

}  // namespace

TEST(AblationSweep, CachedPrefixAgreesWithFullPassesPerHead) {
  auto ids = stories().encode("Once upon a time, there was a little girl named Lily. She");
  AblationSweepOptions o;
  o.target = stories().encode("Lily", false).at(0);
  for (AblationKind kind : {AblationKind::Zero, AblationKind::Mean}) {
    o.kind = kind;
    o.reuse_prefix = false;
    AblationSweepResult slow = head_ablation_sweep(stories(), ids, o);
    o.reuse_prefix = true;
    AblationSweepResult fast = head_ablation_sweep(stories(), ids, o);
    const auto& c = stories().config();
    EXPECT_EQ(slow.forward_passes, 1 + c.n_layer * c.n_head);
    EXPECT_EQ(fast.forward_passes, 1 + c.n_layer);
    expect_same_effects(fast, slow);
    o.max_batch = 3;  // 8 heads in chunks of 3, 3, 2
    AblationSweepResult chunked = head_ablation_sweep(stories(), ids, o);
    EXPECT_EQ(chunked.forward_passes, 1 + 3 * c.n_layer);
    expect_same_effects(chunked, slow);
    o.max_batch = 0;
  }
  // One entry checked against a plain run with the head zeroed.
  o.kind = AblationKind::Zero;
  o.layers = {2};
  AblationSweepResult one = head_ablation_sweep(stories(), ids, o);
  ASSERT_EQ(one.effects.size(), static_cast<size_t>(stories().config().n_head));
  RunOptions r;
  r.interventions = {iv::zero_ablate_heads(2, {5})};
  Trace t = stories().run(ids, r);
  EXPECT_NEAR(one.at(2, 5).logit, t.logits.at({0, t.logits.dim(1) - 1, o.target}), 1e-4);
  EXPECT_NEAR(std::log(one.at(2, 5).prob), token_logprob(t.logits, o.target), 1e-4);
  EXPECT_THROW(one.at(1, 0), Error);
}

TEST(AblationSweep, JsonAndCsvTables) {
  auto ids = stories().encode("Once upon a time");
  AblationSweepOptions o;
  o.target = 5;
  o.layers = {0, 3};
  AblationSweepResult r = head_ablation_sweep(stories(), ids, o);
  auto j = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(j["layers"], nlohmann::json::array({0, 3}));
  ASSERT_EQ(j["delta_logit"].size(), 2u);
  ASSERT_EQ(j["delta_logit"][1].size(), static_cast<size_t>(stories().config().n_head));
  EXPECT_FLOAT_EQ(j["delta_logit"][1][4].get<float>(), r.at(3, 4).delta_logit);
  EXPECT_EQ(j["target"], 5);
  EXPECT_EQ(j["ablation"], "zero");
  std::istringstream csv(r.to_csv());
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "layer,head,logit,prob,delta_logit,delta_prob");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 2 * stories().config().n_head);
  auto ranked = r.ranked();
  for (size_t i = 1; i < ranked.size(); ++i) EXPECT_LE(ranked[i - 1].delta_logit, ranked[i].delta_logit);
}

TEST(AblationSweep, BadOptionsAreErrors) {
  auto ids = stories().encode("Once upon");
  AblationSweepOptions o;
  EXPECT_THROW(head_ablation_sweep(stories(), ids, o), Error);  // no target
  o.target = 5;
  o.layers = {9};
  EXPECT_THROW(head_ablation_sweep(stories(), ids, o), Error);
  o.layers = {};
  o.position = 99;
  EXPECT_THROW(head_ablation_sweep(stories(), ids, o), Error);
  o.position = -1;
  EXPECT_THROW(head_ablation_sweep(stories(), {}, o), Error);
}

// Toy model heads: L0H0 previous token, L0H1 two back, L0H2 first token, L0H3 current token,
// L1H0 induction.
TEST(ToyAblation, InductionNeedsTheInductionAndPreviousTokenHeadsButNotTheSink) {
  const double clean = second_repeat_accuracy(toy(), {});
  const double no_induction = second_repeat_accuracy(toy(), {iv::zero_ablate_heads(1, {0})});
  const double no_prev = second_repeat_accuracy(toy(), {iv::zero_ablate_heads(0, {0})});
  const double no_sink = second_repeat_accuracy(toy(), {iv::zero_ablate_heads(0, {2})});
  const double chance = 1.0 / 20;  // 20 distinct letters per sequence
  std::cout << "second-repeat accuracy: clean " << clean << ", -L1H0 " << no_induction << ", -L0H0 " << no_prev
            << ", -L0H2 " << no_sink << "\n";
  EXPECT_GE(clean, 0.9);
  EXPECT_LE(no_induction, 2 * chance);
  EXPECT_LE(no_prev, 2 * chance);
  EXPECT_GE(no_sink, 0.9);
  // Mean ablation of the induction head breaks it too.
  EXPECT_LE(second_repeat_accuracy(toy(), {iv::mean_ablate_heads(1, {0})}, 4), 2 * chance);
}

TEST(ToyAblation, SweepRanksTheInductionCircuitFirst) {
  auto ids = repeated(toy(), 20, 7);
  // Predict the 6th token of the second repeat from the 5th.
  std::vector<int32_t> prompt(ids.begin(), ids.begin() + 1 + 20 + 5);
  AblationSweepOptions o;
  o.target = ids[1 + 20 + 5];
  AblationSweepResult r = head_ablation_sweep(toy(), prompt, o);
  auto ranked = r.ranked();
  std::cout << r.to_csv();
  ASSERT_GE(ranked.size(), 2u);
  std::set<std::pair<int, int>> top2 = {{ranked[0].layer, ranked[0].head}, {ranked[1].layer, ranked[1].head}};
  EXPECT_EQ(top2, (std::set<std::pair<int, int>>{{1, 0}, {0, 0}}));
  EXPECT_LT(ranked[1].delta_logit, -1.0f);
  EXPECT_GT(r.clean_prob, 0.5f);
  EXPECT_NEAR(r.at(0, 2).delta_logit, 0.0f, 0.05f);  // first-token head: no effect
}
