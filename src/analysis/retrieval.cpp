// Retrieval heads (Wu et al. 2024): needle-in-a-haystack copy tasks over lengths and depths, and
// each head's share of answer tokens it copy-pastes from the needle (long_context.h).
#include <algorithm>
#include <cmath>
#include <string>

#include "analysis/attention_rows.h"
#include "analysis/long_context_detail.h"
#include "analysis/run_detail.h"
#include "analysis/scores_detail.h"
#include "attnscope/error.h"
#include "attnscope/long_context.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "tensor/random.h"

namespace attnscope {

namespace {

// n distinct pool tokens (fewer in the pool: with repeats).
std::vector<int32_t> random_needle(const Model& model, int n, uint64_t seed) {
  std::vector<int32_t> pool = random_token_pool(model);
  if (pool.empty()) fail(ErrorKind::InvalidArgument, "retrieval_heads: no ordinary tokens to draw a needle from");
  detail::SplitMix64 rng{seed};
  std::vector<int32_t> out;
  for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
    if (pool.size() >= static_cast<size_t>(n)) {  // partial Fisher-Yates: distinct tokens
      const size_t j = i + static_cast<size_t>(rng.below(pool.size() - i));
      std::swap(pool[i], pool[j]);
      out.push_back(pool[i]);
    } else {
      out.push_back(pool[rng.below(pool.size())]);
    }
  }
  return out;
}

struct Task {
  std::vector<int32_t> prompt;  // up to and including the cue
  int64_t needle_start = 0;
  std::vector<int32_t> answer;  // needle[cue:]
};

Task build_task(const Model& model, const std::vector<int32_t>& haystack, const RetrievalOptions& o, int length,
                double depth) {
  const int64_t fixed = (detail::bos_of(model) >= 0 ? 1 : 0) + static_cast<int64_t>(o.needle.size()) +
                        static_cast<int64_t>(o.question.size()) + o.cue_tokens;
  const int64_t fill = length - fixed;
  if (fill < 1)
    fail(ErrorKind::InvalidArgument, "retrieval_heads: length " + std::to_string(length) +
                                         " leaves no room for a haystack (BOS, needle, question and cue take " +
                                         std::to_string(fixed) + " tokens)");
  if (fill > static_cast<int64_t>(haystack.size()))
    fail(ErrorKind::InvalidArgument, "retrieval_heads: length " + std::to_string(length) + " needs " +
                                         std::to_string(fill) + " haystack tokens, the haystack has " +
                                         std::to_string(haystack.size()) + ": give a longer text");
  const int64_t d = std::llround(depth * static_cast<double>(fill));
  Task t;
  t.prompt = detail::with_bos(model, {});
  t.prompt.insert(t.prompt.end(), haystack.begin(), haystack.begin() + d);
  t.needle_start = static_cast<int64_t>(t.prompt.size());
  t.prompt.insert(t.prompt.end(), o.needle.begin(), o.needle.end());
  t.prompt.insert(t.prompt.end(), haystack.begin() + d, haystack.begin() + fill);
  t.prompt.insert(t.prompt.end(), o.question.begin(), o.question.end());
  t.prompt.insert(t.prompt.end(), o.needle.begin(), o.needle.begin() + o.cue_tokens);
  t.answer.assign(o.needle.begin() + o.cue_tokens, o.needle.end());
  return t;
}

}  // namespace

RetrievalReport retrieval_heads(const Model& model, const std::vector<int32_t>& haystack_in,
                                const RetrievalOptions& options) {
  detail::check_threshold(options.threshold, "retrieval_heads");
  RetrievalReport r;
  r.options = options;
  RetrievalOptions& o = r.options;
  if (o.needle.empty()) {
    if (o.needle_tokens < 2)
      fail(ErrorKind::InvalidArgument,
           "retrieval_heads: needle_tokens must be >= 2, got " + std::to_string(o.needle_tokens));
    o.needle = random_needle(model, o.needle_tokens, o.seed);
  }
  o.needle_tokens = static_cast<int>(o.needle.size());
  if (o.needle.size() < 2) fail(ErrorKind::InvalidArgument, "retrieval_heads: the needle needs >= 2 tokens");
  if (o.cue_tokens < 0 || o.cue_tokens >= o.needle_tokens)
    fail(ErrorKind::InvalidArgument, "retrieval_heads: cue_tokens must be in [0, " + std::to_string(o.needle_tokens) +
                                         "), got " + std::to_string(o.cue_tokens));
  if (o.lengths.empty() || o.depths.empty())
    fail(ErrorKind::InvalidArgument, "retrieval_heads: give at least one length and one depth");
  for (double d : o.depths)
    if (!(d >= 0 && d <= 1))
      fail(ErrorKind::InvalidArgument, "retrieval_heads: depths must lie in [0, 1], got " + std::to_string(d));
  r.layers = detail::checked_layers(model, o.layers, "retrieval_heads");
  r.random_haystack = haystack_in.empty();
  std::vector<int32_t> haystack = haystack_in;
  if (r.random_haystack) {
    const int64_t longest = *std::max_element(o.lengths.begin(), o.lengths.end());
    // Without the needle's tokens: the needle is then the only place each answer token can come from.
    haystack = random_content_tokens(model, std::max<int64_t>(longest, 1), o.seed + 1, o.needle);
  }
  const int64_t L = model.config().n_layer, H = model.config().n_head;
  const int64_t n_answer = o.needle_tokens - o.cue_tokens;
  for (int length : o.lengths)
    for (double depth : o.depths) {
      const Task task = build_task(model, haystack, o, length, depth);
      const int64_t P = static_cast<int64_t>(task.prompt.size());
      const int64_t ctx = model.config().n_ctx;
      if (ctx > 0 && P + n_answer - 1 > ctx)
        fail(ErrorKind::InvalidArgument, "retrieval_heads: length " + std::to_string(length) + " + the answer (" +
                                             std::to_string(n_answer) + " tokens) exceeds the model's context of " +
                                             std::to_string(ctx));
      std::vector<int32_t> produced, ids;
      detail::HeadArgmax argmax;
      if (o.generate) {
        detail::GeneratedArgmax g =
            detail::generated_argmax_keys(model, task.prompt, r.layers, static_cast<int>(n_answer));
        produced = g.new_tokens;
        argmax = std::move(g.argmax);
        ids = task.prompt;
        ids.insert(ids.end(), produced.begin(), produced.end());
      } else {
        // Teacher forcing: the answer follows the prompt; its last token is produced, never read.
        ids = task.prompt;
        ids.insert(ids.end(), task.answer.begin(), task.answer.end() - 1);
        std::vector<int64_t> rows;
        for (int64_t i = 0; i < n_answer; ++i) rows.push_back(P - 1 + i);
        argmax = detail::argmax_keys(model, ids, r.layers, rows, &produced);
      }
      RetrievalTrial t;
      t.length = length;
      t.depth = depth;
      t.needle_start = task.needle_start;
      t.answer_tokens = n_answer;
      int64_t right = 0;
      for (int64_t i = 0; i < n_answer && i < static_cast<int64_t>(produced.size()); ++i)
        right += produced[i] == task.answer[i] ? 1 : 0;
      t.accuracy = static_cast<double>(right) / static_cast<double>(n_answer);
      t.score = detail::nan_tensor(L, H);
      const int64_t lo = task.needle_start, hi = task.needle_start + o.needle_tokens;
      for (const auto& [layer, heads] : argmax)
        for (size_t h = 0; h < heads.size(); ++h) {
          int64_t copied = 0;
          for (size_t i = 0; i < heads[h].size(); ++i) {
            // The token this row produced: the forced answer, or what the model wrote.
            const int32_t w = o.generate ? produced[i] : task.answer[i];
            const int64_t j = heads[h][i];
            copied += (j >= lo && j < hi && ids[static_cast<size_t>(j)] == w) ? 1 : 0;
          }
          t.score.data()[layer * H + static_cast<int64_t>(h)] =
              static_cast<float>(static_cast<double>(copied) / static_cast<double>(n_answer));
        }
      r.trials.push_back(std::move(t));
    }
  r.score = detail::nan_tensor(L, H);
  double acc = 0;
  for (const RetrievalTrial& t : r.trials) acc += t.accuracy;
  r.accuracy = acc / static_cast<double>(r.trials.size());
  for (int l : r.layers)
    for (int64_t h = 0; h < H; ++h) {
      double sum = 0;
      for (const RetrievalTrial& t : r.trials) sum += t.score.data()[l * H + h];
      const double s = sum / static_cast<double>(r.trials.size());
      r.score.data()[l * H + h] = static_cast<float>(s);
      r.all.push_back({l, static_cast<int>(h), s});
    }
  std::stable_sort(r.all.begin(), r.all.end(),
                   [](const RetrievalHead& a, const RetrievalHead& b) { return a.score > b.score; });
  for (const RetrievalHead& h : r.all)
    if (h.score > o.threshold) r.heads.push_back(h);
  return r;
}

}  // namespace attnscope
