// The heatmap, grid and explore commands end to end through the built binary: files written and
// marked, paging reported, the overwrite rule, clear errors, and the explorer's size on the
// mlxterp demo shape (12 tokens x 16 layers x 32 heads) with the head-type overlay included.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "attnscope/viz.h"
#include "viz/viz_test_util.h"

using viz_test::artifact;

namespace {

struct Result {
  int code;
  std::string out;
};
Result cli(const std::string& args) {
  int status = 0;
  std::string out = viz_test::run(std::string(ATTNSCOPE_CLI) + " " + args + " 2>&1", &status);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST(CliViz, HeatmapWritesAMarkedFigure) {
  const std::string out = artifact("cli_heatmap_L1H0.png");
  std::filesystem::remove(out);
  const Result r = cli("heatmap --synthetic 6,2,2 --layer 1 --head 0 --mask-upper -o " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(viz_test::Png(out).ok());
  EXPECT_TRUE(attnscope::is_attnscope_output(out));
  // Summary, difference-free variants and SVG by extension.
  EXPECT_EQ(cli("heatmap --synthetic 6,2,2 --layer 0 --summary -o " + artifact("cli_summary.svg")).code, 0);
  const Result bad = cli("heatmap --synthetic 6,2,2 --layer 9 -o " + artifact("cli_bad.png"));
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("layer 9"), std::string::npos) << bad.out;
}

TEST(CliViz, RefusesToOverwriteForeignFilesWithoutForce) {
  const std::string out = artifact("cli_foreign.png");
  { std::ofstream(out) << "precious data"; }
  Result r = cli("heatmap --synthetic 4,1,1 -o " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--force"), std::string::npos) << r.out;
  EXPECT_EQ(viz_test::read_file(out), "precious data");
  r = cli("heatmap --synthetic 4,1,1 --force -o " + out);
  EXPECT_EQ(r.code, 0) << r.out;
  // Its own output may be replaced without --force.
  r = cli("heatmap --synthetic 4,1,1 --head 0 -o " + out);
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST(CliViz, GridReportsEveryPage) {
  const Result r = cli("grid --synthetic 5,2,4 --per-page 3 --json --force -o " + artifact("cli_grid.png"));
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["written"].size(), 3u);  // 8 panels, 3 per page
  for (const auto& f : j["written"]) EXPECT_TRUE(viz_test::Png(f.get<std::string>()).ok());
}

TEST(CliViz, ExploreDemoShapeUnder150KB) {
  const std::string out = artifact("cli_explorer_12x16x32.html");
  const Result r = cli("explore --synthetic 12,16,32 --force -o " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("previous_token (128)"), std::string::npos) << r.out;
  const auto size = std::filesystem::file_size(out);
  std::cout << "[ size ] attnscope explore --synthetic 12,16,32 (with head types): " << size << " bytes\n";
  EXPECT_LT(size, 150u * 1000);
}

TEST(CliViz, ExploreReadsPatternJsonAndRejectsBadInput) {
  const std::string json = artifact("cli_patterns.json");
  { std::ofstream(json) << R"({"tokens": ["a", "b", "c"], "patterns": {"2": [[[1,0,0],[1,0,0],[0,1,0]]]}})"; }
  const std::string out = artifact("cli_explorer_json.html");
  Result r = cli("explore --patterns " + json + " --colormap viridis --force -o " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(attnscope::is_attnscope_output(out));
  r = cli("explore --patterns " + json + " --colormap jet --force -o " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("known colormaps"), std::string::npos) << r.out;
  { std::ofstream(json) << R"({"tokens": ["a"], "patterns": {"x": []}})"; }
  r = cli("explore --patterns " + json + " --force -o " + out);
  EXPECT_EQ(r.code, 4);  // a malformed file
  EXPECT_NE(r.out.find(json), std::string::npos) << r.out;
}
