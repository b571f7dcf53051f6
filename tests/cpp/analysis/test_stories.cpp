// The analysis on a trained model (stories260K): the scans run end to end, the random tokens
// are ordinary vocabulary entries, and the results are well-formed. What they find is listed
// in the analysis notes (no induction head above 0.3; two previous-token heads in layer 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "attnscope/analysis.h"
#include "attnscope/model.h"

using namespace attnscope;

namespace {
const Model& stories() {
  static const Model m = Model::load(std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf");
  return m;
}
}  // namespace

TEST(Stories260K, RandomTokensAreOrdinary) {
  const std::vector<int32_t> pool = random_token_pool(stories());
  const Tokenizer& tok = stories().tokenizer();
  ASSERT_GT(pool.size(), 200u);  // 512 - 3 special - 256 byte tokens = 253 pieces
  for (int32_t id : pool) EXPECT_EQ(tok.token_type(id), TokenType::Normal) << id;
  const auto a = random_repeated_tokens(pool, tok.bos_id(), 50, 2, 42);
  EXPECT_EQ(a, random_repeated_tokens(pool, tok.bos_id(), 50, 2, 42));
  EXPECT_NE(a, random_repeated_tokens(pool, tok.bos_id(), 50, 2, 43));
  ASSERT_EQ(a.size(), 101u);
  EXPECT_EQ(a[0], tok.bos_id());
  EXPECT_EQ(std::set<int32_t>(a.begin() + 1, a.begin() + 51).size(), 50u);  // distinct
  EXPECT_TRUE(std::equal(a.begin() + 1, a.begin() + 51, a.begin() + 51));
}

TEST(Stories260K, ScansRun) {
  const InductionScan s = detect_induction_heads(stories());
  ASSERT_EQ(s.all.size(), 40u);  // 5 layers x 8 heads
  for (size_t i = 1; i < s.all.size(); ++i) EXPECT_GE(s.all[i - 1].score, s.all[i].score);
  for (const auto& h : s.all) EXPECT_TRUE(std::isfinite(h.score));
  const HeadTypeReport r = detect_head_types(
      stories(), "Once upon a time, there was a little girl named Lily. She loved to play in the park.");
  ASSERT_EQ(r.heads.size(), 40u);
  for (const auto& h : r.heads) EXPECT_FALSE(h.types.empty());
  EXPECT_FALSE(format_report(r, ReportFormat::Table).empty());
}
