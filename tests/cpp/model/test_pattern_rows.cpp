// Selective capture against the full captured pattern: the rows, heads, key window and top-k it
// keeps are the full pattern's entries, in one pass and in a chunked prefill (to 1e-5: the
// materialised and blocked products round differently, see test_blocked_attention.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/pattern_rows.h"

using namespace attnscope;

namespace {

const std::string kModels = ATTNSCOPE_MODELS_DIR;

std::vector<int32_t> random_ids(int n, uint32_t seed, int vocab) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(3, vocab - 1);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = pick(rng);
  return ids;
}

TEST(PatternRows, EqualTheFullPatternsEntries) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  const int T = 60;
  const auto ids = random_ids(T, 1, static_cast<int>(m.config().n_vocab));
  RunOptions full;
  full.capture = {"blocks.*.attn.hook_pattern"};
  const auto patterns = m.run(ids, full).attention_patterns();

  for (int chunk : {0, 13}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    PatternSelection dense;
    dense.layers = {1, 3};
    dense.heads = {0, 5};
    dense.rows = {7};
    dense.last = 2;
    dense.every = 25;
    dense.key_begin = 5;
    dense.key_end = 40;
    PatternSelection top = dense;
    top.key_begin = 0;
    top.key_end = 0;
    top.top_k = 4;
    PatternRowCapture a(m, dense, T), b(m, top, T);
    for (PatternRowCapture* cap : {&a, &b}) {
      RunOptions o;
      o.pattern_observer = cap;
      o.prefill_chunk = chunk;
      m.run(ids, o);
    }
    const std::vector<int64_t> rows{0, 7, 25, 50, 58, 59};
    for (int l : dense.layers) {
      const PatternRows& d = a.layer(l);
      const PatternRows& t = b.layer(l);
      ASSERT_EQ(d.rows, rows);
      ASSERT_EQ(d.values.shape(), Shape({1, 2, 6, 35}));
      ASSERT_EQ(t.values.shape(), Shape({1, 2, 6, 4}));
      const Tensor& p = patterns.at(l);
      for (int hi = 0; hi < 2; ++hi)
        for (size_t ri = 0; ri < rows.size(); ++ri) {
          const float* want = p.data() + (dense.heads[static_cast<size_t>(hi)] * T + rows[ri]) * T;
          for (int64_t j = 0; j < 35; ++j)
            EXPECT_NEAR(d.values.data()[(hi * 6 + static_cast<int64_t>(ri)) * 35 + j], want[5 + j], 1e-5);
          // top-k: the 4 largest entries of the causal row, in order, ties to the earlier key.
          std::vector<int32_t> order(static_cast<size_t>(rows[ri] + 1));
          for (size_t j = 0; j < order.size(); ++j) order[j] = static_cast<int32_t>(j);
          std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return want[x] > want[y]; });
          for (size_t k = 0; k < 4; ++k) {
            const size_t at = (static_cast<size_t>(hi) * 6 + ri) * 4 + k;
            if (k >= order.size()) {
              EXPECT_EQ(t.indices[at], -1);
              continue;
            }
            EXPECT_NEAR(t.values.data()[at], want[order[k]], 1e-5);
            EXPECT_NEAR(want[t.indices[at]], want[order[k]], 1e-5);  // the same weight (ties may swap keys)
          }
        }
    }
    EXPECT_THROW(a.layer(0), Error);
  }
}

TEST(PatternRows, RefusesSelectionsOutsideTheModelOrPrompt) {
  const Model m = Model::load("attnscope:toy");
  PatternSelection s;
  s.last = 1;
  s.layers = {9};
  EXPECT_THROW(PatternRowCapture(m, s, 10), Error);
  s.layers.clear();
  s.heads = {-1};
  EXPECT_THROW(PatternRowCapture(m, s, 10), Error);
  s.heads.clear();
  s.rows = {10};
  EXPECT_THROW(PatternRowCapture(m, s, 10), Error);
  s.rows.clear();
  s.last = 0;
  EXPECT_THROW(PatternRowCapture(m, s, 10), Error);  // no row
  s.last = 1;
  s.key_begin = 8;
  s.key_end = 4;
  EXPECT_THROW(PatternRowCapture(m, s, 10), Error);
  s.key_begin = 0;
  s.key_end = 0;
  PatternRowCapture ok(m, s, 10);
  RunOptions o;
  o.pattern_observer = &ok;
  EXPECT_THROW(m.run(random_ids(12, 2, static_cast<int>(m.config().n_vocab)), o),
               Error);  // longer than it was set up for
}

}  // namespace
