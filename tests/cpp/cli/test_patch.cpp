// `attnscope patch`: activation patching sweeps from the command line (JSON, CSV, figures, errors).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/cli_runner.h"

namespace {

using test_cli::Result;
Result run(const std::string& args) { return test_cli::run_cli("patch " + args); }
nlohmann::json run_json(const std::string& args) { return test_cli::run_cli_json("patch " + args); }

// The toy model (the default): the clean prompt copies G at the end; the corrupted one breaks the
// "F G" it would copy from.
const std::string kPair = "--clean ABCDEFGABCDEF --corrupted ABCDXYGABCDEF --target G --contrast Q";

}  // namespace

TEST(CliPatch, HeadSweepFindsTheInductionCircuitAndMatchesPlainRuns) {
  auto j = run_json(kPair + " --normalize");
  EXPECT_EQ(j["sweep"], "attn_head_out_all_pos");
  EXPECT_EQ(j["axes"], nlohmann::json::array({"layer", "head"}));
  ASSERT_EQ(j["values"].size(), 2u);
  std::vector<std::pair<double, std::pair<int, int>>> all;
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 4; ++h) all.push_back({j["values"][l][h].get<double>(), {l, h}});
  std::sort(all.rbegin(), all.rend());
  EXPECT_EQ((std::set<std::pair<int, int>>{all[0].second, all[1].second}),
            (std::set<std::pair<int, int>>{{0, 0}, {1, 0}}));
  // The unpatched metrics are the logit differences `attnscope ablate` reports for each prompt.
  auto clean = test_cli::run_cli_json("ablate ABCDEFGABCDEF --target G --contrast Q");
  auto corrupted = test_cli::run_cli_json("ablate ABCDXYGABCDEF --target G --contrast Q");
  EXPECT_NEAR(j["clean_metric"].get<double>(), clean["clean"]["logit_diff"].get<double>(), 1e-4);
  EXPECT_NEAR(j["corrupted_metric"].get<double>(), corrupted["clean"]["logit_diff"].get<double>(), 1e-4);
}

TEST(CliPatch, WritesCsvAndFigures) {
  const std::string dir = testing::TempDir();
  const std::string csv = dir + "/attnscope_patch.csv", png = dir + "/attnscope_patch.png",
                    svg = dir + "/attnscope_patch_by_pos.svg";
  Result r = run(kPair + " --csv " + csv + " --png " + png + " --force");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("L1H0"), std::string::npos) << r.out;
  std::ifstream in(csv);
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, 1 + 8);
  std::ifstream f(png, std::ios::binary);
  char sig[4] = {};
  f.read(sig, 4);
  EXPECT_EQ(std::string(sig + 1, 3), "PNG");
  Result s = run(kPair + " --sweep heads-by-pos --svg " + svg + " --force");
  ASSERT_EQ(s.code, 0) << s.out;
  EXPECT_GT(std::filesystem::file_size(svg), 1000u);
  auto resid = run_json(kPair + " --sweep resid --metric log-prob");
  EXPECT_EQ(resid["axes"], nlohmann::json::array({"layer", "pos"}));
  EXPECT_EQ(resid["values"][0].size(), resid["clean_tokens"].size());
  for (const auto& p : {csv, png, svg}) std::filesystem::remove(p);
}

TEST(CliPatch, BadInputGetsOneClearError) {
  Result attribution = run(kPair + " --method attribution");
  EXPECT_EQ(attribution.code, 5) << attribution.out;  // Unsupported
  EXPECT_NE(attribution.out.find("not built in this binary"), std::string::npos) << attribution.out;
  Result lengths = run("--clean ABCDEF --corrupted ABC --target G");
  EXPECT_EQ(lengths.code, 2);
  EXPECT_NE(lengths.out.find("same length"), std::string::npos) << lengths.out;
  Result typo = run(kPair + " --sweep hedas");
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.out.find("heads"), std::string::npos) << typo.out;
  Result two = run("--clean ABCDEF --corrupted ABCDEX --target GH");
  EXPECT_EQ(two.code, 2) << two.out;
  Result no_contrast = run("--clean ABCDEF --corrupted ABCDEX --target G --metric logit-diff");
  EXPECT_EQ(no_contrast.code, 2) << no_contrast.out;
}
