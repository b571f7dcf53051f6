// `attnscope dla`, `composition`, `rollout` and `heads --weighting value` on the toy model: JSON
// that agrees with the library, figures written as PNG/SVG/PDF, clear errors for bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "attnscope/viz.h"
#include "common/cli_runner.h"

namespace {

using test_cli::Result;
Result run(const std::string& args) { return test_cli::run_cli(args); }
// Figures are kept as test artifacts (beside the browser tests' screenshots).
std::string artifact(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(ATTNSCOPE_BINARY_DIR) / "artifacts";
  std::filesystem::create_directories(dir);
  return (dir / ("cli_attribution_" + name)).string();
}

}  // namespace

TEST(CliAttribution, DlaPartsAddUpAndTheInductionHeadWins) {
  // At the second "c" (position 14) the toy model predicts "d" through L1H0.
  const auto j = test_cli::run_cli_json("dla 'abcdefghij abcde' --target d --pos 14");
  ASSERT_EQ(j["positions"].size(), 1u);
  const auto& p = j["positions"][0];
  EXPECT_EQ(p["position"], 14);
  double sum = 0;
  for (const auto& [label, v] : p["parts"].items()) sum += v.get<double>();
  EXPECT_NEAR(sum, p["logit"].get<double>(), 1e-3);
  EXPECT_GT(p["heads"][1][0].get<double>(), 10.0);
  EXPECT_NEAR(p["heads"][1][0].get<double>(), p["logit"].get<double>(),
              1e-3);  // the only writer the unembedding reads
  // A logit difference, and the default target (the top prediction) is "d" as well.
  const auto d = test_cli::run_cli_json("dla 'abcdefghij abcde' --target d --minus e --pos 14");
  EXPECT_EQ(d["minus"]["token"], "e");
  const auto top = test_cli::run_cli_json("dla 'abcdefghij abcde' --pos 14");
  EXPECT_EQ(top["target"]["token"], "d");
}

TEST(CliAttribution, CompositionListsThePreviousTokenToInductionEdgeFirst) {
  const auto j = test_cli::run_cli_json("composition --into 1:0 --top 3");
  ASSERT_EQ(j["edges"].size(), 3u);
  EXPECT_EQ(j["edges"][0]["from"], nlohmann::json::parse("[0, 0]"));
  EXPECT_EQ(j["edges"][0]["kind"], "K");
  const Result t = run("composition --kind v --top 2");
  ASSERT_EQ(t.code, 0) << t.out;
  EXPECT_NE(t.out.find("kind"), std::string::npos) << t.out;
}

TEST(CliAttribution, FiguresInEveryFormat) {
  for (const char* ext : {".png", ".svg", ".pdf"}) {
    const std::string dla = artifact(std::string("dla") + ext), comp = artifact(std::string("comp") + ext);
    std::filesystem::remove(dla);
    std::filesystem::remove(comp);
    Result r = run("dla 'abcdefghij abcde' --target d --pos 14 -o " + dla);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(attnscope::is_attnscope_output(dla)) << dla;
    r = run("composition -o " + comp);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(attnscope::is_attnscope_output(comp)) << comp;
  }
  // The same on stories260K (8 heads x 5 layers, grouped kv heads).
  const std::string stories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
  Result r = run("dla -m " + stories + " 'Once upon a time there was a little girl named Lily' -o " +
                 artifact("dla_stories.png") + " --force");
  EXPECT_EQ(r.code, 0) << r.out;
  r = run("composition -m " + stories + " -o " + artifact("composition_stories.png") + " --force");
  EXPECT_EQ(r.code, 0) << r.out;
  // The SVG carries its labels as text.
  std::ifstream svg(artifact("comp.svg"));
  const std::string s((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_NE(s.find("K-composition"), std::string::npos);
  EXPECT_NE(s.find("L1H0"), std::string::npos);
}

TEST(CliAttribution, RolloutAndFlowRows) {
  const auto j = test_cli::run_cli_json("rollout abcab --flow --query 5 --query -2");
  ASSERT_EQ(j["queries"].size(), 2u);
  EXPECT_EQ(j["queries"][1]["position"], 4);
  double sum = 0;
  for (const auto& v : j["queries"][0]["rollout"]) sum += v.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-4);
  for (const auto& v : j["queries"][0]["flow"]) {
    EXPECT_GE(v.get<double>(), 0.0);
    EXPECT_LE(v.get<double>(), 1.0 + 1e-6);
  }
}

TEST(CliAttribution, HeadsByValueFlagsTheSink) {
  const std::string text = "'the cat sat on the mat and the cat ran'";
  const auto w = test_cli::run_cli_json("heads " + text);
  EXPECT_EQ(w["weighting"], "weight");
  EXPECT_EQ(w["by_type"]["first_token"], nlohmann::json::parse("[[0, 2]]"));
  EXPECT_EQ(w["heads"][2]["sink"], true);
  EXPECT_EQ(w["heads"][0]["sink"], false);
  const auto v = test_cli::run_cli_json("heads --weighting value " + text);
  EXPECT_EQ(v["weighting"], "value");
  EXPECT_FALSE(v["by_type"].contains("first_token"));
  const Result t = run("heads " + text);
  EXPECT_NE(t.out.find("sink: weight without contribution"), std::string::npos) << t.out;
}

TEST(CliAttribution, BadInputIsOneClearError) {
  struct Case {
    const char* args;
    const char* says;
  };
  for (const Case& c :
       {Case{"dla 'abc' --pos 9", "position 9"}, Case{"dla 'abc' --target-id 100000", "vocabulary"},
        Case{"composition --into 5:0", "does not exist"}, Case{"composition --kind x", "--kind"},
        Case{"rollout abc --query 7", "--query 7"}, Case{"heads abc --weighting values", "weighting"}}) {
    const Result r = run(c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args << "\n" << r.out;
  }
}
