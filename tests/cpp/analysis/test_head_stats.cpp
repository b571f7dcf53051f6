// Streamed head statistics (attnscope/head_stats.h) against what the captured patterns give: the
// pattern scores of analysis.h (a second implementation over the full [q, k] pattern), hand
// computations of the other statistics in double, closed forms on a crafted uniform pattern, and
// exact combination over chunks and batches.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/head_stats.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"

using namespace attnscope;

namespace {

const std::string kModels = ATTNSCOPE_MODELS_DIR;

std::vector<int32_t> repeated_random(int n, uint32_t seed, int vocab) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(3, vocab - 1);
  std::vector<int32_t> ids{1};
  for (int i = 0; i < n; ++i) ids.push_back(pick(rng));
  ids.insert(ids.end(), ids.begin() + 1, ids.end());
  return ids;
}

void expect_close(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-6 * std::max(1.0, std::fabs(want))) << what;
}

// Every score of every head equals the score of the captured pattern, raw and chance-corrected.
void expect_scores_match(const Model& m, const std::vector<int32_t>& ids, const HeadStatsOptions& o) {
  const HeadStats s = head_statistics(m, {ids}, o);
  RunOptions run;
  run.capture = {"blocks.*.attn.hook_pattern"};
  const Trace t = m.run(ids, run);
  for (const auto& [layer, patterns] : t.attention_patterns())
    for (int h = 0; h < m.config().n_head; ++h) {
      const Tensor p = head_pattern(patterns, h);
      const std::string head = "L" + std::to_string(layer) + "H" + std::to_string(h);
      for (bool cc : {false, true}) {
        ScoreOptions so = o.score;
        so.chance_corrected = cc;
        const std::string tag = head + (cc ? " chance-corrected " : " ");
        expect_close(s.value("previous_token", layer, h, cc), previous_token_score(p, so), tag + "previous");
        expect_close(s.value("first_token", layer, h, cc), first_token_score(p, so), tag + "first");
        expect_close(s.value("current_token", layer, h, cc), current_token_score(p, so), tag + "current");
        expect_close(s.value("duplicate_token", layer, h, cc), duplicate_token_score(p, ids, so), tag + "duplicate");
        const double induction = o.seq_len ? induction_score(p, *o.seq_len, so) : induction_score(p, ids, so);
        expect_close(s.value("induction", layer, h, cc), induction, tag + "induction");
      }
      HeadContext ctx;
      ctx.tokens = ids;
      ctx.seq_len = o.seq_len;
      const ScoreRows rows = score_rows(p.dim(0), p.dim(1), ctx, o.score);
      EXPECT_EQ(s.rows("previous_token", layer, h), rows.previous_token);
      EXPECT_EQ(s.rows("induction", layer, h), *rows.induction);
      EXPECT_EQ(s.rows("duplicate_token", layer, h), *rows.duplicate_token);

      // The other statistics by hand, in double, from the captured pattern.
      double entropy = 0, distance = 0, sink = 0, local = 0;
      std::vector<double> hist(16, 0.0);
      int64_t n = 0;
      for (int64_t q = 0; q < p.dim(0); ++q) {
        if (o.score.exclude_bos && q == 0) continue;
        ++n;
        for (int64_t k = 0; k <= q; ++k) {
          const double w = p.data()[q * p.dim(1) + k];
          if (w > 0) entropy -= w * std::log(w);
          distance += w * static_cast<double>(q - k);
          if (k < o.sink_tokens) sink += w;
          if (k > q - o.local_window) local += w;
          hist[q == k ? 0 : static_cast<size_t>(std::floor(std::log2(static_cast<double>(q - k)))) + 1] += w;
        }
      }
      expect_close(s.value("entropy", layer, h), entropy / n, head + " entropy");
      expect_close(s.value("mean_distance", layer, h), distance / n, head + " distance");
      expect_close(s.value("sink_mass", layer, h), sink / n, head + " sink");
      expect_close(s.value("local_mass", layer, h), local / n, head + " local");
      const std::vector<double> got = s.distance_histogram(layer, h);
      for (size_t k = 0; k < got.size(); ++k) expect_close(got[k], hist[k] / n, head + " histogram bin");
    }
}

TEST(HeadStats, EqualScoresOfCapturedPatterns) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  const std::vector<int32_t> text =
      m.encode("Once upon a time there was a cat. The cat saw a dog. The dog saw the cat.");
  for (bool exclude_bos : {false, true}) {
    HeadStatsOptions o;
    o.score.exclude_bos = exclude_bos;
    o.sink_tokens = 2;
    o.local_window = 4;
    expect_scores_match(m, text, o);
    o.seq_len = 20;
    expect_scores_match(m, repeated_random(20, 3, static_cast<int>(m.config().n_vocab)), o);
  }
}

TEST(HeadStats, GqaFamilyFixture) {
  const Model m = Model::load(ATTNSCOPE_MODELS_DIR "/arch/mistral");  // GQA and a sliding window
  HeadStatsOptions o;
  expect_scores_match(m, repeated_random(15, 4, static_cast<int>(m.config().n_vocab)), o);
}

TEST(HeadStats, CombineExactlyOverChunksAndBatches) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  const int V = static_cast<int>(m.config().n_vocab);
  const auto a = repeated_random(30, 5, V), b = repeated_random(30, 6, V), c = repeated_random(12, 7, V);
  const HeadStats whole = head_statistics(m, {a, b, c});
  HeadStats parts = head_statistics(m, {a});
  parts.merge(head_statistics(m, {b}));
  parts.merge(head_statistics(m, {c}));
  HeadStatsOptions chunked;
  chunked.chunk = 7;
  const HeadStats in_chunks = head_statistics(m, {a, b, c}, chunked);
  for (const auto& name : HeadStats::names())
    for (int l = 0; l < m.config().n_layer; ++l)
      for (int h = 0; h < m.config().n_head; ++h) {
        expect_close(parts.value(name, l, h), whole.value(name, l, h), name + " merged");
        expect_close(in_chunks.value(name, l, h), whole.value(name, l, h), name + " chunked");
        EXPECT_EQ(in_chunks.rows(name, l, h), whole.rows(name, l, h)) << name;
      }
}

TEST(HeadStats, ClosedFormOnUniformPattern) {
  // Layer 0's heads attend uniformly over the causal keys: row p puts 1 / (p + 1) on each key, so
  // the sink mass on k tokens is mean min(k, p+1)/(p+1), the entropy mean log(p + 1) and the mean
  // distance mean p / 2.
  const Model m = Model::load(kModels + "/stories260K.gguf");
  const int T = 40;
  HeadStatsOptions o;
  o.sink_tokens = 3;
  const std::vector<int32_t> ids(T, 5);
  Tensor uniform = uniform_causal_pattern(T);
  std::vector<Intervention> edit;
  edit.push_back(iv::on("blocks.0.attn.hook_pattern", iv::custom([&](Tensor& v, const HookContext&) {
                          for (int64_t bh = 0; bh < v.dim(0) * v.dim(1); ++bh)
                            std::copy(uniform.data(), uniform.data() + T * T, v.data() + bh * T * T);
                        })));
  const HeadStats got = head_statistics(m, {ids}, o, edit);
  double sink = 0, entropy = 0, distance = 0;
  for (int p = 0; p < T; ++p) {
    sink += std::min(3, p + 1) / static_cast<double>(p + 1);
    entropy += std::log(p + 1.0);
    distance += p / 2.0;
  }
  for (int h = 0; h < m.config().n_head; ++h) {
    expect_close(got.value("sink_mass", 0, h), sink / T, "sink");
    expect_close(got.value("entropy", 0, h), entropy / T, "entropy");
    expect_close(got.value("mean_distance", 0, h), distance / T, "distance");
    expect_close(got.value("sink_mass", 0, h, true), 0.0, "chance-corrected sink of the uniform head");
  }
}

TEST(HeadStats, RefusesBadOptions) {
  const Model m = Model::load("attnscope:toy");
  HeadStatsOptions o;
  o.sink_tokens = 0;
  EXPECT_THROW(head_statistics(m, {{1, 2, 3}}, o), Error);
  EXPECT_THROW(head_statistics(m, {}), Error);
  EXPECT_THROW(head_statistics(m, {{1, 2, 3}}).value("nope", 0, 0), Error);
  EXPECT_THROW(head_statistics(m, {{1, 2, 3}}).value("entropy", 9, 0), Error);
}

}  // namespace
