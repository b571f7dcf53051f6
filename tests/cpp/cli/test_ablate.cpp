// `attnscope ablate`: interventions and the head sweep from the command line (JSON, CSV, errors).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/cli_runner.h"

namespace {

using test_cli::Result;
// Every call here is `attnscope ablate ...`.
Result run(const std::string& args, bool with_stderr = true) {
  return test_cli::run_cli("ablate " + args, with_stderr);
}
nlohmann::json run_json(const std::string& args) { return test_cli::run_cli_json("ablate " + args); }

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
const std::string kPrompt = "\"Once upon a time, there was a little girl named Lily. She\"";

}  // namespace

TEST(CliAblate, EditChangesPredictionsAndNamesTheResolvedHook) {
  auto j = run_json(kPrompt + " -m " + kStories + " --edit model.model.layers.2.self_attn=zero --target-id 410");
  ASSERT_EQ(j["interventions"].size(), 1u);
  EXPECT_EQ(j["interventions"][0]["target"], "blocks.2.hook_attn_out");
  EXPECT_NE(j["clean"]["top"][0]["logprob"], j["intervened"]["top"][0]["logprob"]);
  EXPECT_NE(j["clean"]["target"]["logprob"], j["intervened"]["target"]["logprob"]);
  // scale:1 changes nothing.
  auto same = run_json(kPrompt + " -m " + kStories + " --edit blocks.*.hook_resid_post=scale:1 --target-id 410");
  EXPECT_EQ(same["clean"]["target"], same["intervened"]["target"]);
  auto heads = run_json(kPrompt + " -m " + kStories +
                        " --zero-heads 1:0,3 --uniform-pattern 2:1 --mean-heads 3:2 --target-id 410 --contrast Lily");
  EXPECT_EQ(heads["interventions"].size(), 3u);
  EXPECT_TRUE(heads["intervened"].contains("logit_diff"));
}

TEST(CliAblate, SweepWritesJsonAndCsvTables) {
  const std::string csv = testing::TempDir() + "/attnscope_cli_sweep.csv";
  auto j = run_json(kPrompt + " -m " + kStories + " --sweep --target-id 410 --layers 0,4 --csv-out " + csv);
  EXPECT_EQ(j["layers"], nlohmann::json::array({0, 4}));
  EXPECT_EQ(j["delta_logit"][1].size(), 8u);
  EXPECT_EQ(j["forward_passes"], 3);
  std::ifstream in(csv);
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, 1 + 16);
  std::filesystem::remove(csv);
}

TEST(CliAblate, ToySweepFindsTheInductionCircuit) {
  // Toy model (the default): "abcdefghij" twice, cut after "abcd" of the second copy; target "e".
  auto j = run_json("abcdefghijabcd --sweep --target e");
  std::set<std::pair<int, int>> top2;
  for (int i = 0; i < 2; ++i) top2.insert({j["top"][i]["layer"].get<int>(), j["top"][i]["head"].get<int>()});
  EXPECT_EQ(top2, (std::set<std::pair<int, int>>{{1, 0}, {0, 0}}));
  Result text = run("abcdefghijabcd --sweep --target e");
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("largest drops"), std::string::npos) << text.out;
}

TEST(CliAblate, BadInputIsOneClearErrorLine) {
  Result unknown = run(kPrompt + " -m " + kStories + " --edit blocks.9.hook_attn_out=zero");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.out.find("blocks.9.hook_attn_out"), std::string::npos) << unknown.out;
  Result bad_op = run(kPrompt + " -m " + kStories + " --edit blocks.0.hook_attn_out=explode");
  EXPECT_EQ(bad_op.code, 2);
  EXPECT_NE(bad_op.out.find("explode"), std::string::npos);
  Result no_target = run(kPrompt + " -m " + kStories + " --sweep");
  EXPECT_EQ(no_target.code, 2);
  Result bad_head = run(kPrompt + " -m " + kStories + " --zero-heads 1:99");
  EXPECT_EQ(bad_head.code, 2);
  EXPECT_NE(bad_head.out.find("99"), std::string::npos);
  Result nothing = run(kPrompt + " -m " + kStories);
  EXPECT_EQ(nothing.code, 2);
}
