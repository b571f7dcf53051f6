// `scan`'s terminal summary ranks each metric from the end that means "matters most" and says
// which: for the ablation deltas (ablated - clean) the largest drops first. Checked against the
// numbers of the summary.csv the same run writes, sorted here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/scan.h"
#include "common/cli_runner.h"
#include "corpus/stories_corpus.h"

namespace fs = std::filesystem;

namespace {

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";

struct Row {
  int layer = 0, head = 0;
  double mean = 0;
};

// metric -> heads with data, from summary.csv (metric,layer,head,count,mean,...).
std::map<std::string, std::vector<Row>> read_summary(const fs::path& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  std::map<std::string, std::vector<Row>> out;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    if (f.size() < 5 || f[3] == "0" || f[4].empty()) continue;
    out[f[0]].push_back({std::stoi(f[1]), std::stoi(f[2]), std::stod(f[4])});
  }
  return out;
}

// "L3H0 -0.213 L0H6 -0.161 ...": the heads a summary line shows, in order.
std::vector<std::string> shown_heads(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string w; ss >> w;)
    if (w.size() > 3 && w[0] == 'L' && w.find('H') != std::string::npos && std::isdigit(w[1])) out.push_back(w);
  return out;
}

std::string name(const Row& r) { return "L" + std::to_string(r.layer) + "H" + std::to_string(r.head); }

}  // namespace

TEST(ScanRanking, TerminalSummaryShowsTheHeadsThatMatterMostPerMetric) {
  const fs::path dir = fs::temp_directory_path() / ("attnscope_scan_rank_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  attnscope::set_num_threads(1);
  const auto model = attnscope::Model::load(kStories);
  test_corpus::write_lines((dir / "c.txt").string(), test_corpus::stories_prompts(model, 12));
  const auto r = test_cli::run_cli("scan " + (dir / "c.txt").string() + " -m " + kStories +
                                       " --ablation --no-progress -t 1 -o " + (dir / "out").string(),
                                   false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto summary = read_summary(dir / "out" / "summary.csv");
  ASSERT_TRUE(summary.count("ablation_delta_logit"));

  std::map<std::string, std::string> lines;  // metric -> its summary line
  std::stringstream ss(r.out);
  for (std::string line; std::getline(ss, line);) {
    const std::string metric = line.substr(0, line.find(' '));
    if (summary.count(metric)) lines[metric] = line;
  }
  for (const auto& [metric, rows] : summary) {
    ASSERT_TRUE(lines.count(metric)) << metric << "\n" << r.out;
    const bool drops = metric == "ablation_delta_logit" || metric == "ablation_delta_prob";
    std::vector<Row> sorted = rows;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [drops](const Row& a, const Row& b) { return drops ? a.mean < b.mean : a.mean > b.mean; });
    std::vector<std::string> expected;
    for (size_t i = 0; i < 3 && i < sorted.size(); ++i) expected.push_back(name(sorted[i]));
    EXPECT_EQ(shown_heads(lines[metric]), expected) << lines[metric];
    EXPECT_NE(lines[metric].find(drops ? "lowest first: largest drop" : "highest first"), std::string::npos)
        << lines[metric];
  }
  // The premise of the bug: some head's ablation raises the logit, so "highest first" differs.
  const auto& d = summary.at("ablation_delta_logit");
  EXPECT_TRUE(std::any_of(d.begin(), d.end(), [](const Row& x) { return x.mean > 0; }));
  fs::remove_all(dir);
}

TEST(ScanRanking, MetricRankNamesTheDirection) {
  EXPECT_EQ(attnscope::metric_rank(attnscope::kAblationDeltaLogit), attnscope::MetricRank::LowestFirst);
  EXPECT_EQ(attnscope::metric_rank(attnscope::kAblationDeltaProb), attnscope::MetricRank::LowestFirst);
  EXPECT_EQ(attnscope::metric_rank("previous_token_corrected"), attnscope::MetricRank::HighestFirst);
  EXPECT_EQ(attnscope::metric_rank("my_custom_pattern"), attnscope::MetricRank::HighestFirst);
  // top_heads on a hand-made summary: lowest first for a delta, NaN and empty heads left out.
  std::vector<attnscope::HeadSummary> s = {{"ablation_delta_logit", 0, 0, 3, 0.5},
                                           {"ablation_delta_logit", 0, 1, 3, -0.2},
                                           {"ablation_delta_logit", 1, 0, 0, -9.0},
                                           {"ablation_delta_logit", 1, 1, 3, -0.7}};
  const auto top = attnscope::top_heads(s, "ablation_delta_logit", 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].layer * 10 + top[0].head, 11);
  EXPECT_EQ(top[1].layer * 10 + top[1].head, 1);
}
