// attnscope scan: its numbers equal the single-prompt analysis functions, and an interrupted
// scan (stopped, or the process killed with SIGKILL half-way) resumes to exactly the bytes of an
// uninterrupted one.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/scan.h"
#include "common/cli_runner.h"
#include "corpus/stories_corpus.h"

namespace fs = std::filesystem;
using namespace attnscope;

namespace {

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Scan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    set_num_threads(1);  // a 260K-parameter model gains nothing from more (and the CI machine is shared)
    model_ = new Model(Model::load(kStories));
  }
  static void TearDownTestSuite() { delete model_; }
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("attnscope_scan_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  const Model& model() { return *model_; }
  static Model* model_;
  fs::path dir_;
};
Model* Scan::model_ = nullptr;

double value(const ScanPlan& plan, const ScanRow& row, const std::string& metric, size_t li, int h) {
  const size_t m =
      static_cast<size_t>(std::find(plan.metrics.begin(), plan.metrics.end(), metric) - plan.metrics.begin());
  EXPECT_LT(m, plan.metrics.size()) << metric;
  return row.values[(m * plan.layers.size() + li) * static_cast<size_t>(plan.n_head) + static_cast<size_t>(h)];
}

TEST_F(Scan, RowsEqualTheSingleRunAnalysisFunctions) {
  std::vector<std::string> texts = test_corpus::stories_prompts(model(), 12);
  texts.push_back("the cat and the cat and the cat");  // repeated tokens: induction / duplicate apply
  texts.push_back("Once upon");                        // none: they do not
  ScanOptions o;
  o.induction_seeds = 3;
  o.induction_tokens = 20;
  o.ablation = true;
  o.max_batch = 4;
  // A custom pattern function: the largest attention of a token to itself.
  const PatternFn diag_max = [](const Tensor& A) {
    double m = 0;
    for (int64_t i = 0; i < A.dim(0); ++i) m = std::max(m, static_cast<double>(A.data()[i * A.dim(1) + i]));
    return m;
  };
  o.custom.push_back({"diag_max", diag_max});
  const ScanPlan plan = plan_scan(model(), corpus_from_texts(texts), o);
  const ScanResult r = run_scan(model(), plan, o);
  ASSERT_EQ(r.rows.size(), texts.size() + 3);
  const int L = model().config().n_layer, H = model().config().n_head;
  const ScoreOptions raw{false, false}, cc{false, true};
  int with_repeats = 0;
  for (size_t p = 0; p < texts.size(); ++p) {
    const ScanRow& row = r.rows[p];
    ASSERT_EQ(row.unit, static_cast<int64_t>(p));
    RunOptions ro;
    ro.capture = {"blocks.*.attn.hook_pattern"};
    const Trace t = model().run(texts[p], ro);
    const std::vector<int32_t>& ids = t.tokens[0];
    const auto pats = t.attention_patterns();
    AblationSweepOptions so;
    so.kind = AblationKind::Mean;
    so.target = ids.back();
    so.position = static_cast<int>(ids.size()) - 2;
    const AblationSweepResult sweep = head_ablation_sweep(model(), ids, so);
    std::vector<int32_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    const bool repeats = std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
    with_repeats += repeats ? 1 : 0;
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) {
        const Tensor A = head_pattern(pats.at(l), h);
        const size_t li = static_cast<size_t>(l);
        EXPECT_NEAR(value(plan, row, "previous_token", li, h), previous_token_score(A, raw), 1e-6);
        EXPECT_NEAR(value(plan, row, "previous_token_corrected", li, h), previous_token_score(A, cc), 1e-6);
        EXPECT_NEAR(value(plan, row, "first_token_corrected", li, h), first_token_score(A, cc), 1e-6);
        EXPECT_NEAR(value(plan, row, "current_token", li, h), current_token_score(A, raw), 1e-6);
        EXPECT_NEAR(value(plan, row, "diag_max", li, h), diag_max(A), 1e-6);
        if (repeats) {
          EXPECT_NEAR(value(plan, row, "induction", li, h), induction_score(A, ids, raw), 1e-6);
          EXPECT_NEAR(value(plan, row, "duplicate_token_corrected", li, h), duplicate_token_score(A, ids, cc), 1e-6);
        } else {
          EXPECT_TRUE(std::isnan(value(plan, row, "induction", li, h)));  // no repeated token: does not apply
        }
        EXPECT_NEAR(value(plan, row, "ablation_delta_logit", li, h), sweep.at(l, h).delta_logit, 1e-5);
        EXPECT_TRUE(std::isnan(value(plan, row, "induction_random", li, h)));  // not a random unit
      }
  }
  // Random units against detect_induction_heads over the same seeds.
  InductionOptions io;
  io.n_random_tokens = 20;
  io.n_seeds = 3;
  io.seed = 42;
  const InductionScan ind = detect_induction_heads(model(), io);
  for (const auto& ih : ind.all) {
    const auto it = std::find_if(r.summary.begin(), r.summary.end(), [&](const HeadSummary& s) {
      return s.metric == "induction_random_corrected" && s.layer == ih.layer && s.head == ih.head;
    });
    ASSERT_NE(it, r.summary.end());
    EXPECT_EQ(it->count, 3);
    EXPECT_NEAR(it->mean, ih.score, 1e-6);
    EXPECT_NEAR(it->std, ih.stddev, 1e-6);
  }
  // Token induction applies to the prompts with a repeated token only: its count says so.
  ASSERT_LT(with_repeats, static_cast<int>(texts.size()));
  for (const auto& s : r.summary) {
    if (s.metric == "induction") {
      EXPECT_EQ(s.count, with_repeats);
    }
  }
}

TEST_F(Scan, StoppedAndResumedEqualsUninterruptedToTheByte) {
  const std::vector<std::string> texts = test_corpus::stories_prompts(model(), 60);
  ScanOptions o;
  o.max_batch = 3;
  o.induction_seeds = 2;
  o.induction_tokens = 10;
  const ScanPlan plan = plan_scan(model(), corpus_from_texts(texts), o);
  ASSERT_GT(plan.batches.size(), 8u);
  const fs::path a = dir_ / "a", b = dir_ / "b";
  run_scan(model(), plan, o, a.string());
  int calls = 0;
  const ScanResult part = run_scan(model(), plan, o, b.string(), OutputMode::New, {}, [&] { return ++calls > 5; });
  EXPECT_TRUE(part.interrupted);
  EXPECT_FALSE(fs::exists(b / "summary.csv"));
  // A torn line, as a kill during write() would leave, is cut off on resume.
  { std::ofstream(b / "journal.jsonl", std::ios::app) << "{\"batch\": 7, \"rows\": [{\"unit\""; }
  EXPECT_THROW(run_scan(model(), plan, o, b.string(), OutputMode::New), Error);  // never overwrites
  const ScanResult rest = run_scan(model(), plan, o, b.string(), OutputMode::Resume);
  EXPECT_FALSE(rest.interrupted);
  EXPECT_GT(rest.resumed_units, 0);
  for (const char* f : {"summary.csv", "prompts.csv", "prompts.npz"}) EXPECT_EQ(slurp(a / f), slurp(b / f)) << f;
  // Each batch is in the journal once: header + one line per batch.
  const std::string j = slurp(b / "journal.jsonl");
  EXPECT_EQ(static_cast<size_t>(std::count(j.begin(), j.end(), '\n')), plan.batches.size() + 1);
  // Another scan's journal is refused; --force starts over.
  ScanOptions other = o;
  other.induction_seeds = 3;
  const ScanPlan plan2 = plan_scan(model(), corpus_from_texts(texts), other);
  EXPECT_THROW(run_scan(model(), plan2, other, b.string(), OutputMode::Resume), Error);
  EXPECT_NO_THROW(run_scan(model(), plan2, other, b.string(), OutputMode::Force));
}

TEST_F(Scan, PromptLongerThanTheContextIsRefusedOrSkippedWithItsLine) {
  std::string longp;
  for (int i = 0; i < 1200; ++i) longp += "a b ";
  test_corpus::write_lines((dir_ / "c.txt").string(), {"Once upon a time", longp, "The end"});
  const Corpus c = read_corpus({(dir_ / "c.txt").string()});
  try {
    plan_scan(model(), c, ScanOptions());
    FAIL() << "an over-long prompt was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("c.txt:2: prompt of"), std::string::npos) << e.what();
  }
  ScanOptions skip;
  skip.on_bad_input = BadInputPolicy::Skip;
  const ScanPlan plan = plan_scan(model(), c, skip);
  EXPECT_EQ(plan.units.size(), 2u);
  ASSERT_EQ(plan.corpus.skipped.size(), 1u);
  EXPECT_EQ(plan.corpus.skipped[0].line, 2);
  // The command line lists the skip on stderr and in --json.
  const auto j =
      test_cli::run_cli_json("scan " + (dir_ / "c.txt").string() + " -m " + kStories + " --on-bad-input skip");
  ASSERT_EQ(j["skipped"].size(), 1u);
  EXPECT_EQ(j["skipped"][0]["line"], 2);
  EXPECT_EQ(j["prompts"], 2);
  const auto refused = test_cli::run_cli("scan " + (dir_ / "c.txt").string() + " -m " + kStories);
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.out.find("c.txt:2:"), std::string::npos) << refused.out;
}

// The must-show case: a 1,000-prompt corpus of stories260K samples, scanned by one process, and
// by a process killed with SIGKILL half-way then resumed: identical files.
TEST_F(Scan, CommandKilledHalfWayAndResumedEqualsOneRun) {
  const fs::path corpus = dir_ / "stories.txt";
  test_corpus::write_lines(corpus.string(), test_corpus::stories_prompts(model(), 1000));
  const std::string args = "scan " + corpus.string() + " -m " + kStories + " --induction-seeds 4 --no-progress -t 1";
  const auto one = test_cli::run_cli(args + " -o " + (dir_ / "one").string());
  ASSERT_EQ(one.code, 0) << one.out;

  const fs::path killed = dir_ / "killed";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(ATTNSCOPE_CLI, ATTNSCOPE_CLI, "scan", corpus.c_str(), "-m", kStories.c_str(), "--induction-seeds", "4",
            "--no-progress", "-t", "1", "-o", killed.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Kill it once about half of the batches are journaled.
  const ScanPlan plan = [&] {
    ScanOptions o;
    o.induction_seeds = 4;
    return plan_scan(model(), read_corpus({corpus.string()}), o);
  }();
  const size_t half = plan.batches.size() / 2;
  size_t lines = 0;
  for (int i = 0; i < 6000 && lines < half + 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::string j = slurp(killed / "journal.jsonl");
    lines = static_cast<size_t>(std::count(j.begin(), j.end(), '\n'));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the scan finished before it could be killed";
  EXPECT_FALSE(fs::exists(killed / "summary.csv"));
  const auto again = test_cli::run_cli(args + " -o " + killed.string());
  EXPECT_NE(again.code, 0);  // refuses to overwrite without --resume
  const auto resumed = test_cli::run_cli(args + " -o " + killed.string() + " --resume --json", false);
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  const auto j = nlohmann::json::parse(resumed.out);
  EXPECT_GT(j["resumed_units"].get<int>(), 0);
  EXPECT_LT(j["resumed_units"].get<int>(), 1004);
  // summary.json differs only in resumed_units and file paths; the numbers are in the others.
  for (const char* f : {"summary.csv", "prompts.csv", "prompts.npz"})
    EXPECT_EQ(slurp(dir_ / "one" / f), slurp(killed / f)) << f;
  const std::string journal = slurp(killed / "journal.jsonl");
  EXPECT_EQ(static_cast<size_t>(std::count(journal.begin(), journal.end(), '\n')), plan.batches.size() + 1);
}

}  // namespace
