// `attnscope heads` and `attnscope induction` on the toy model: table, JSON and CSV outputs,
// and a clear one-line error with a non-zero exit for bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "common/cli_runner.h"

namespace {

using test_cli::Result;
Result run(const std::string& args) { return test_cli::run_cli(args); }

}  // namespace

TEST(CliAnalysis, HeadsTableJsonCsv) {
  const std::string text = "'the cat sat on the mat and the cat ran'";
  const Result t = run("heads " + text);
  ASSERT_EQ(t.code, 0) << t.out;
  EXPECT_NE(t.out.find("previous_token: L0H0"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("induction: L1H0"), std::string::npos) << t.out;
  const Result j = run("heads --json " + text);
  ASSERT_EQ(j.code, 0) << j.out;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["heads"].size(), 8u);
  EXPECT_EQ(doc["by_type"]["first_token"], nlohmann::json::parse("[[0, 2]]"));
  EXPECT_EQ(doc["heads"][0]["types"], nlohmann::json::parse("[\"previous_token\"]"));
  const Result c = run("heads --csv -l 1 " + text);
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(c.out.rfind("layer,head,previous_token", 0), 0u) << c.out;
  EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 5);  // header + 4 heads of layer 1
}

TEST(CliAnalysis, InductionTableJsonCsv) {
  const Result t = run("induction");
  ASSERT_EQ(t.code, 0) << t.out;
  EXPECT_NE(t.out.find("1 induction head of 8 heads"), std::string::npos) << t.out;
  const Result j = run("induction --json --seed 7 --seeds 2");
  ASSERT_EQ(j.code, 0) << j.out;
  const auto doc = nlohmann::json::parse(j.out);
  ASSERT_EQ(doc["induction_heads"].size(), 1u);
  EXPECT_EQ(doc["induction_heads"][0]["layer"], 1);
  EXPECT_EQ(doc["induction_heads"][0]["head"], 0);
  EXPECT_EQ(doc["sequences"].size(), 2u);
  const Result c = run("induction --csv --n-random-tokens 20");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("\n1,0,"), std::string::npos) << c.out;
}

TEST(CliAnalysis, BadInputIsOneClearLine) {
  for (const char* args : {"heads ''", "heads -l 7 'hello there'", "induction -n 400", "induction --threshold 2"}) {
    const Result r = run(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_FALSE(r.out.empty()) << args;
    EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 3) << args << ": " << r.out;
  }
}
