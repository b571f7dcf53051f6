// score_rows: how many query rows each score is the mean of, against a direct count from the
// definitions in analysis.h (rows R and targets T(p)), and the report's warning under
// kMinScoreRows.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "attnscope/analysis.h"

using namespace attnscope;

namespace {

// The rows of the token-based scores, straight from the definition: row p (absolute position)
// counts when it has a target; duplicate: some j < p with tokens[j] == tokens[p]; induction: some
// j <= p with tokens[j-1] == tokens[p]. exclude_bos drops row 0 and target 0.
int64_t token_rows(const std::vector<int32_t>& tokens, int64_t q, bool exclude_bos, bool induction) {
  const auto k = static_cast<int64_t>(tokens.size());
  int64_t n = 0;
  for (int64_t p = k - q; p < k; ++p) {
    if (exclude_bos && p == 0) continue;
    bool any = false;
    for (int64_t j = 0; j <= p && !any; ++j) {
      if (exclude_bos && j == 0) continue;
      if (induction) {
        any = j >= 1 && j - 1 < p && tokens[j - 1] == tokens[p] && !(exclude_bos && j - 1 == 0);
      } else {
        any = j < p && tokens[j] == tokens[p];
      }
    }
    n += any;
  }
  return n;
}

}  // namespace

TEST(ScoreRows, MatchTheDefinitions) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t k = 1 + static_cast<int64_t>(rng() % 30);
    const int64_t q = 1 + static_cast<int64_t>(rng() % k);
    std::vector<int32_t> tokens(static_cast<size_t>(k));
    for (auto& t : tokens) t = static_cast<int32_t>(rng() % 6);
    for (bool exclude_bos : {false, true}) {
      ScoreOptions o;
      o.exclude_bos = exclude_bos;
      HeadContext ctx;
      ctx.tokens = tokens;
      const ScoreRows r = score_rows(q, k, ctx, o);
      // Rows p >= lowest among the absolute positions k - q .. k - 1.
      const auto from = [&](int64_t lowest) { return std::max<int64_t>(0, std::min(q, k - lowest)); };
      EXPECT_EQ(r.previous_token, from(exclude_bos ? 2 : 1));  // exclude_bos: target p - 1 = 0 goes too
      EXPECT_EQ(r.first_token, from(exclude_bos ? 1 : 0));
      EXPECT_EQ(r.current_token, from(exclude_bos ? 1 : 0));
      ASSERT_TRUE(r.induction && r.duplicate_token);
      EXPECT_EQ(*r.duplicate_token, token_rows(tokens, q, exclude_bos, false)) << trial;
      EXPECT_EQ(*r.induction, token_rows(tokens, q, exclude_bos, true)) << trial;
    }
  }
}

TEST(ScoreRows, RandomRepeatInductionRowsAreTheSecondCopy) {
  // BOS + n tokens repeated twice: rows p >= n (1-based second copy), n of them.
  HeadContext ctx;
  ctx.seq_len = 7;
  const ScoreRows r = score_rows(15, 15, ctx);
  EXPECT_EQ(r.induction, 15 - 6);
  EXPECT_FALSE(r.duplicate_token);
}

TEST(ScoreRows, ReportWarnsUnderTheMinimum) {
  // Four repeated tokens at the end of a prompt: induction and duplicate rest on 4 rows.
  std::vector<int32_t> tokens = {1};
  for (int32_t t = 10; t < 30; ++t) tokens.push_back(t);
  for (int32_t t = 10; t < 14; ++t) tokens.push_back(t);
  const auto T = static_cast<int64_t>(tokens.size());
  const std::map<int, Tensor> patterns = {{0, uniform_causal_pattern(T).reshape({1, 1, T, T})}};
  const HeadTypeReport r = classify_heads(patterns, tokens);
  EXPECT_EQ(r.rows.induction, 4);
  EXPECT_EQ(r.rows.duplicate_token, 4);
  EXPECT_EQ(r.rows.previous_token, T - 1);
  EXPECT_EQ(r.few_row_scores(), (std::vector<std::string>{kInduction, kDuplicateToken}));
  const std::string table = format_report(r, ReportFormat::Table);
  EXPECT_NE(table.find("warning: induction, duplicate_token rest on fewer than 10 query rows"), std::string::npos)
      << table;
  EXPECT_NE(table.find("query rows per score: previous 24, first 25, current 25, induction 4, duplicate 4"),
            std::string::npos)
      << table;
  const auto j = nlohmann::json::parse(format_report(r, ReportFormat::Json));
  EXPECT_EQ(j["score_rows"]["induction"], 4);
  EXPECT_EQ(j["few_rows"], nlohmann::json::parse(R"(["induction", "duplicate_token"])"));
  // Ten repeated tokens: no warning.
  for (int32_t t = 14; t < 20; ++t) tokens.push_back(t);
  const auto T2 = static_cast<int64_t>(tokens.size());
  const HeadTypeReport ok = classify_heads({{0, uniform_causal_pattern(T2).reshape({1, 1, T2, T2})}}, tokens);
  EXPECT_TRUE(ok.few_row_scores().empty());
  EXPECT_EQ(format_report(ok, ReportFormat::Table).find("warning"), std::string::npos);
}
