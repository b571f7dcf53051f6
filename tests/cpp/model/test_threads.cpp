// Thread counts belong to the model and travel with its runs (issue 22, item 4): a load or a run
// leaves the caller's OpenMP setting as it was, two models with different counts running at once
// from two threads each use their own, and the count changes no result.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "attnscope/model.h"
#include "tensor/parallel.h"
#include "tensor/threading.h"

using namespace attnscope;

namespace {

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";

// Long enough that the output head's product (T x 64 x 512) is above the size below which
// products run on one thread whatever the count (ops.cpp kParallelMacs).
std::vector<int32_t> long_prompt() {
  std::vector<int32_t> ids{1};
  for (int i = 0; i < 200; ++i) ids.push_back(260 + (i * 37) % 240);
  return ids;
}

Model load(int threads) {
  LoadOptions o;
  o.threads = threads;
  return Model::load(kStories, o);
}

// What a run saw from inside: a hook callback reads the calling thread's OpenMP count and the
// count the library's loops use, and runs a parallel_for to count the threads it really got.
struct Seen {
  int omp_max = 0, library = 0, parallel_for_team = 0;
  bool overlapped = false;
};

// Every call waits (up to 20 s) until `expected` callers are inside at once, so the two runs'
// observations are taken while both are in flight.
void rendezvous(std::atomic<int>& arrived, int expected, Seen& seen) {
  arrived.fetch_add(1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (arrived.load() < expected && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  seen.overlapped = arrived.load() >= expected;
}

Trace run_observing(const Model& model, Seen& seen, std::atomic<int>* arrived = nullptr, int expected = 0) {
  RunOptions o;
  bool first = true;
  Intervention observe;
  observe.target = "blocks.0.hook_resid_post";
  observe.fn = [&](Tensor&, const HookContext&) {
    if (!first) return;
    first = false;
    if (arrived) rendezvous(*arrived, expected, seen);
    seen.omp_max = omp_get_max_threads();
    seen.library = ops::num_threads();
    std::atomic<int> team{0};
    ops::parallel_for(1024, 1, [&](int64_t, int64_t) {
      int n = omp_get_num_threads(), cur = team.load();
      while (n > cur && !team.compare_exchange_weak(cur, n)) {
      }
    });
    seen.parallel_for_team = team.load();
  };
  o.interventions.push_back(observe);
  return model.run(long_prompt(), o);
}

}  // namespace

TEST(Threads, LoadAndRunLeaveTheCallersOpenMpSettingAlone) {
  const int mine = omp_get_max_threads() == 3 ? 5 : 3;  // a value neither model uses
  omp_set_num_threads(mine);
  Model model = load(2);
  EXPECT_EQ(omp_get_max_threads(), mine) << "the load changed the caller's OpenMP thread count";
  Seen seen;
  run_observing(model, seen);
  EXPECT_EQ(omp_get_max_threads(), mine) << "the run changed the caller's OpenMP thread count";
  EXPECT_EQ(seen.omp_max, 2);  // ... while inside the run, the run's count
  GenerateOptions g;
  g.max_tokens = 3;
  model.generate(std::vector<int32_t>{1, 403, 407}, g);
  EXPECT_EQ(omp_get_max_threads(), mine) << "generation changed the caller's OpenMP thread count";
  set_num_threads(4);
  EXPECT_EQ(omp_get_max_threads(), mine) << "set_num_threads changed the caller's OpenMP thread count";
  set_num_threads(0);
}

TEST(Threads, TwoModelsRunningAtOnceEachUseTheirOwnCount) {
  Model one = load(1), two = load(2);
  EXPECT_EQ(one.threads(), 1);
  EXPECT_EQ(two.threads(), 2);
  std::atomic<int> arrived{0};
  Seen seen_one, seen_two;
  std::thread a([&] { run_observing(one, seen_one, &arrived, 2); });
  std::thread b([&] { run_observing(two, seen_two, &arrived, 2); });
  a.join();
  b.join();
  ASSERT_TRUE(seen_one.overlapped && seen_two.overlapped) << "the two runs were never in flight together";
  EXPECT_EQ(seen_one.library, 1);
  EXPECT_EQ(seen_one.omp_max, 1);
  EXPECT_EQ(seen_one.parallel_for_team, 1);
  EXPECT_EQ(seen_two.library, 2);
  EXPECT_EQ(seen_two.omp_max, 2);
  EXPECT_EQ(seen_two.parallel_for_team, 2);
}

TEST(Threads, SetNumThreadsIsTheDefaultAndNeverOverridesAModelsOwnCount) {
  Model own = load(2), follows = load(0);
  set_num_threads(1);
  EXPECT_EQ(own.threads(), 2);
  EXPECT_EQ(follows.threads(), 1);
  Seen seen_own, seen_follows;
  run_observing(own, seen_own);
  run_observing(follows, seen_follows);
  EXPECT_EQ(seen_own.parallel_for_team, 2);
  EXPECT_EQ(seen_follows.parallel_for_team, 1);
  set_num_threads(0);
  EXPECT_EQ(follows.threads(), ops::default_threads());
}

TEST(Threads, ResultsAreIdenticalWhateverTheCount) {
  Seen unused;
  const Trace base = run_observing(load(1), unused);
  for (int threads : {2, 3}) {
    const Trace t = run_observing(load(threads), unused);
    ASSERT_EQ(t.logits.shape(), base.logits.shape());
    EXPECT_TRUE(std::equal(base.logits.data(), base.logits.data() + base.logits.numel(), t.logits.data()))
        << threads << " threads gave different logits from 1";
  }
}
