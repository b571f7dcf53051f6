// Prediction math against closed-form values.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/error.h"
#include "attnscope/predictions.h"

using namespace attnscope;

TEST(PredictionsMath, TopKOrdersByLogitWithScores) {
  std::vector<float> logits = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f};
  auto top = top_k_logits(logits.data(), 5, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id, 1);  // tie with 3: smaller id first
  EXPECT_EQ(top[1].id, 3);
  EXPECT_EQ(top[2].id, 4);
  double z = 0;
  for (float x : logits) z += std::exp(x);
  EXPECT_NEAR(top[2].logprob, 2.0 - std::log(z), 1e-6);
  EXPECT_EQ(top[2].score, 2.0f);
  auto all = top_k_logits(logits.data(), 5, 50, false);
  EXPECT_EQ(all.size(), 5u);
  EXPECT_EQ(all[4].id, 2);
  EXPECT_EQ(all[4].score, 0.0f);
  EXPECT_THROW(top_k_logits(logits.data(), 5, 0), Error);
}

TEST(PredictionsMath, LogSoftmaxRowsAndLogprob) {
  Tensor l({2, 3}, {1, 2, 3, 1000, 1000, 1000});
  Tensor ls = log_softmax_rows(l);
  const double z = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(ls.at({0, 0}), 1.0 - z, 1e-6);
  EXPECT_NEAR(ls.at({1, 2}), -std::log(3.0), 1e-6);  // stable at large logits
  Tensor sm = softmax_rows(l);
  EXPECT_NEAR(sm.at({0, 0}) + sm.at({0, 1}) + sm.at({0, 2}), 1.0, 1e-6);
  EXPECT_NEAR(token_logprob(l, 2, 0), 3.0 - z, 1e-6);
  EXPECT_NEAR(token_logprob(l, 1, -1), -std::log(3.0), 1e-6);
}

TEST(PredictionsMath, LogitDiffAndRowSelection) {
  Tensor l({2, 2, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  EXPECT_EQ(logit_diff(l, 2, 0), 2.0f);         // batch 0, last position: {3,4,5}
  EXPECT_EQ(logit_diff(l, 0, 1, 0, 1), -1.0f);  // batch 1, position 0: {6,7,8}
  EXPECT_EQ(row_at(l, -1, 1)[0], 9.0f);
  EXPECT_THROW(logit_diff(l, 3, 0), Error);
  EXPECT_THROW(row_at(l, 2, 0), Error);
  EXPECT_THROW(row_at(l, -3, 0), Error);
  EXPECT_THROW(row_at(l, 0, 2), Error);
  EXPECT_THROW(row_at(Tensor({1, 1, 1, 1}), 0, 0), Error);
}
