// `attnscope sinks`, `attnscope retrieval` and `attnscope induction --lengths` end to end: the JSON
// equals the library run in this process, the CSV agrees with the JSON, figures are readable marked
// files, and bad input is one clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/long_context.h"
#include "attnscope/model.h"
#include "attnscope/viz.h"
#include "common/cli_runner.h"
#include "common/test_files.h"
#include "viz/viz_test_util.h"

using namespace attnscope;
using nlohmann::json;

namespace {

const Model& toy() {
  static const Model m = Model::load("attnscope:toy");
  return m;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    rows.push_back(f);
  }
  return rows;
}

}  // namespace

TEST(CliLongContext, RetrievalJsonCsvFigure) {
  const std::string csv = test::temp_path("ret.csv"), png = viz_test::artifact("retrieval_toy.png");
  const json j =
      test_cli::run_cli_json("retrieval --lengths 64,300 --depths 0,1 --seed 7 --force -o " + png + " --csv " + csv);
  ASSERT_EQ(j["heads"].size(), 1u);
  EXPECT_EQ(j["heads"][0]["layer"], 1);
  EXPECT_EQ(j["heads"][0]["head"], 0);
  EXPECT_EQ(j["answer"], "teacher_forced");

  RetrievalOptions o;
  o.lengths = {64, 300};
  o.depths = {0, 1};
  o.seed = 7;
  const RetrievalReport r = retrieval_heads(toy(), {}, o);
  EXPECT_EQ(j["needle"].get<std::vector<int32_t>>(), r.options.needle);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), r.accuracy);
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 4; ++h) EXPECT_NEAR(j["score"][l][h].get<double>(), r.score.at({l, h}), 1e-7);

  // CSV: one row per trial and head; the mean over trials is the JSON's score.
  const auto rows = read_csv(csv);
  ASSERT_EQ(rows.size(), 1u + 4 * 8);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"length", "depth", "layer", "head", "score", "accuracy"}));
  std::map<std::pair<int, int>, double> sum;
  for (size_t i = 1; i < rows.size(); ++i) sum[{std::stoi(rows[i][2]), std::stoi(rows[i][3])}] += std::stod(rows[i][4]);
  for (const auto& [key, s] : sum) EXPECT_NEAR(s / 4, j["score"][key.first][key.second].get<double>(), 1e-7);
  std::filesystem::remove(csv);

  const viz_test::Png fig(png);
  ASSERT_TRUE(fig.ok());
  EXPECT_TRUE(is_attnscope_output(png));
}

TEST(CliLongContext, SinksOnTextMatchTheLibrary) {
  const std::string text = "The cat sat on the mat. The dog ran to the park and back home again.";
  const std::string svg = viz_test::artifact("sinks_rate_toy.svg"), png = viz_test::artifact("sinks_toy.png");
  // List options take one value per occurrence: the text after --lengths stays the text.
  const json j = test_cli::run_cli_json("sinks --lengths 16 --lengths 40 '" + text + "' --sink-tokens 2 --force -o " +
                                        png + " --lines " + svg);
  SinkOptions o;
  o.lengths = {16, 40};
  o.sink_tokens = 2;
  const SinkReport r = attention_sinks(toy(), toy().encode(text, false), o);
  ASSERT_EQ(j["by_length"].size(), 2u);
  EXPECT_EQ(j["by_length"][1]["length"], 40);
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 4; ++h) {
      EXPECT_NEAR(j["mean_mass"][l][h].get<double>(), r.mean_mass.at({l, h}), 1e-7);
      EXPECT_NEAR(j["by_length"][0]["mass"][l][h].get<double>(), r.by_length[0].mass.at({l, h}), 1e-7);
    }
  EXPECT_DOUBLE_EQ(j["rate"].get<double>(), r.rate);
  EXPECT_TRUE(is_attnscope_output(png));
  EXPECT_TRUE(is_attnscope_output(svg));

  // Too long for the text: one clear error, no crash.
  const test_cli::Result bad = test_cli::run_cli("sinks '" + text + "' --lengths 500");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("give a longer text"), std::string::npos) << bad.out;
  const test_cli::Result frac = test_cli::run_cli("sinks --lengths 16.5 abc");
  EXPECT_NE(frac.code, 0);
  EXPECT_NE(frac.out.find("whole number"), std::string::npos) << frac.out;
}

TEST(CliLongContext, InductionLengthsTable) {
  const std::string png = viz_test::artifact("induction_lengths_toy.png");
  const json j = test_cli::run_cli_json("induction --lengths 8,64 --force -o " + png);
  LongInductionOptions o;
  o.lengths = {8, 64};
  const LongInductionReport r = induction_by_length(toy(), o);
  ASSERT_EQ(j["score"].size(), 2u);
  for (int i = 0; i < 2; ++i)
    for (int l = 0; l < 2; ++l)
      for (int h = 0; h < 4; ++h) EXPECT_NEAR(j["score"][i][l][h].get<double>(), r.score.at({i, l, h}), 1e-7);
  EXPECT_TRUE(is_attnscope_output(png));
  const test_cli::Result bad = test_cli::run_cli("induction -o " + test::temp_path("x.png"));
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("--lengths"), std::string::npos) << bad.out;
}
