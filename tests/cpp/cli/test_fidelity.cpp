// `attnscope fidelity` end to end: the JSON agrees with the library's compare_fidelity run here,
// the CSV with the JSON, the figure is a readable marked PNG; a pair of different models is one
// clear error; and heads / induction / scan warn on a lossy path (quantised file) but not on F32.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/error.h"
#include "attnscope/fidelity.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "attnscope/viz.h"
#include "common/cli_runner.h"
#include "common/test_files.h"
#include "viz/viz_test_util.h"

using namespace attnscope;
using nlohmann::json;

namespace {

const std::string kStories = test::model_path("stories260K.gguf");
const char* const kText = "'Once upon a time, there was a cat. The cat sat.'";

// One quantised copy of stories260K per type for the whole test program.
const std::string& quantised(const std::string& type) {
  static std::map<std::string, std::string> files;
  auto it = files.find(type);
  if (it == files.end()) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("attnscope_cli_fidelity_" + std::to_string(::getpid()) + "_" + type + ".gguf"))
                                 .string();
    quantize_gguf_file(kStories, path, type);
    it = files.emplace(type, path).first;
  }
  return it->second;
}

class CliFidelity : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    for (const char* t : {"Q4_K_M", "Q8_0"})
      std::filesystem::remove((std::filesystem::temp_directory_path() /
                               ("attnscope_cli_fidelity_" + std::to_string(::getpid()) + "_" + t + ".gguf")));
  }
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(line);
  while (std::getline(in, item, ',')) out.push_back(item);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

}  // namespace

TEST_F(CliFidelity, JsonCsvAndFigure) {
  const std::string q4 = quantised("Q4_K_M");
  const std::string csv = test::temp_path("fid.csv"), png = viz_test::artifact("fidelity_stories_q4km.png");
  const json j = test_cli::run_cli_json("fidelity -m " + q4 + " --reference " + kStories + " -o " + png +
                                        " --force --csv " + csv + " " + kText);
  EXPECT_EQ(j["js_unit"], "nats");
  EXPECT_EQ(j["delta"], "model - reference");
  EXPECT_EQ(j["reference"]["dtype"], "float32");
  ASSERT_EQ(j["heads"].size(), 40u);
  ASSERT_EQ(j["prompts"].size(), 1u);

  // The same comparison in this process: the command prints what the library computes.
  LoadOptions lo;
  lo.dtype = "float32";
  const Model reference = Model::load(kStories, lo);
  lo.dtype = j["model"]["dtype"].get<std::string>();
  const Model model = Model::load(q4, lo);
  const FidelityReport r = compare_fidelity(model, reference, {"Once upon a time, there was a cat. The cat sat."});
  for (size_t i = 0; i < r.heads.size(); ++i) {
    EXPECT_EQ(j["heads"][i]["layer"], r.heads[i].layer);
    EXPECT_DOUBLE_EQ(j["heads"][i]["max_abs_delta"].get<double>(), r.heads[i].max_abs_delta);
    EXPECT_DOUBLE_EQ(j["heads"][i]["js_mean"].get<double>(), r.heads[i].js_mean);
  }
  EXPECT_DOUBLE_EQ(j["prompts"][0]["max_abs_logit_delta"].get<double>(), r.prompts[0].max_abs_logit_delta);

  // CSV: a header and one row per head, numbers as in the JSON.
  std::ifstream in(csv);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const std::vector<std::string> header = split(line);
  ASSERT_EQ(header[0], "layer");
  const size_t js_col = std::find(header.begin(), header.end(), "js_mean_nats") - header.begin();
  ASSERT_LT(js_col, header.size());
  size_t rows = 0;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = split(line);
    ASSERT_EQ(f.size(), header.size()) << line;
    EXPECT_NEAR(std::stod(f[js_col]), j["heads"][rows]["js_mean"].get<double>(),
                1e-8 * (1 + j["heads"][rows]["js_mean"].get<double>()));
    ++rows;
  }
  EXPECT_EQ(rows, 40u);
  std::filesystem::remove(csv);

  const viz_test::Png fig(png);
  ASSERT_TRUE(fig.ok());
  EXPECT_GT(fig.width(), 200);
  EXPECT_TRUE(is_attnscope_output(png));
}

TEST_F(CliFidelity, OneFileBothPathsTable) {
  const test_cli::Result r = test_cli::run_cli("fidelity -m " + quantised("Q8_0") + " " + kText);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("bfloat16 products on"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("float32 products on"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("worst first by js_mean"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nats"), std::string::npos) << r.out;
}

TEST_F(CliFidelity, DifferentModelsAreOneClearError) {
  const test_cli::Result r = test_cli::run_cli("fidelity -m " + kStories + " --reference attnscope:toy " + kText);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("not the same model"), std::string::npos) << r.out;
  const test_cli::Result none = test_cli::run_cli("fidelity -m " + kStories);
  EXPECT_EQ(none.code, 2) << none.out;
}

TEST_F(CliFidelity, LossyPathWarnedInHeadsInductionScan) {
  for (const std::string& file : {quantised("Q8_0"), quantised("Q4_K_M")}) {
    const test_cli::Result t = test_cli::run_cli("heads -m " + file + " " + kText);
    ASSERT_EQ(t.code, 0) << t.out;
    EXPECT_NE(t.out.find("lossy path"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("attnscope fidelity"), std::string::npos) << t.out;
    EXPECT_TRUE(test_cli::run_cli_json("heads -m " + file + " " + kText)["precision_warning"].is_string());
    EXPECT_TRUE(test_cli::run_cli_json("induction -m " + file)["precision_warning"].is_string());
  }
  const test_cli::Result exact = test_cli::run_cli("heads -m " + kStories + " --dtype bfloat16 " + kText);
  ASSERT_EQ(exact.code, 0) << exact.out;
  EXPECT_EQ(exact.out.find("lossy path"), std::string::npos) << exact.out;
  EXPECT_TRUE(test_cli::run_cli_json("heads -m " + kStories + " " + kText)["precision_warning"].is_null());
  EXPECT_TRUE(test_cli::run_cli_json("induction -m " + kStories)["precision_warning"].is_null());

  const std::string corpus = test::temp_path("corpus.txt");
  std::ofstream(corpus) << "Once upon a time\nThe cat sat on the mat\n";
  EXPECT_TRUE(test_cli::run_cli_json("scan " + corpus + " -m " + quantised("Q4_K_M"))["precision_warning"].is_string());
  EXPECT_TRUE(test_cli::run_cli_json("scan " + corpus + " -m " + kStories)["precision_warning"].is_null());
  const test_cli::Result s = test_cli::run_cli("scan " + corpus + " -m " + quantised("Q8_0"));
  EXPECT_NE(s.out.find("lossy path"), std::string::npos) << s.out;
  std::filesystem::remove(corpus);
}
