// Exact activation patching sweeps: every entry equals a full forward pass of the corrupted
// prompt from the embeddings with that one component overwritten by the plain interventions API
// (so the start_at_layer / batched shortcut is checked against the slow path), on the toy model
// and a grouped-query fixture; on the toy model the head sweep finds the induction circuit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "attnscope/error.h"
#include "attnscope/hook_points.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/patching.h"
#include "common/test_files.h"

using namespace attnscope;
namespace pt = attnscope::patching;

namespace {

const Model& toy() {
  static const Model m = Model::load("attnscope:toy");
  return m;
}

const Model& mistral() {  // 3 layers, 4 query heads sharing 2 key/value heads
  static const Model m = Model::load(test::model_path("arch/mistral/model.gguf"));
  return m;
}

// Which elements of a hook's value (multi-index over [1, ...]) one component covers.
using Select = std::function<bool(const std::vector<int64_t>&)>;

// The slow reference: a full forward pass of `corrupted` with the selected elements of `hook`
// copied from the clean run, and the logit difference read off by hand.
double hand_patched(const Model& m, const std::vector<int32_t>& corrupted, const Trace& clean, const std::string& hook,
                    const Select& select, int32_t answer, int32_t wrong) {
  Tensor source = clean.at(hook);
  RunOptions o;
  o.interventions.push_back(iv::on(hook, iv::custom(
                                             [source, select](Tensor& value, const HookContext&) {
                                               std::vector<int64_t> idx(static_cast<size_t>(value.ndim()), 0);
                                               for (int64_t f = 0; f < value.numel(); ++f) {
                                                 int64_t rest = f;
                                                 for (int i = value.ndim() - 1; i >= 0; --i) {
                                                   idx[static_cast<size_t>(i)] = rest % value.dim(i);
                                                   rest /= value.dim(i);
                                                 }
                                                 if (select(idx)) value.data()[f] = source.data()[f];
                                               }
                                             },
                                             "hand patch")));
  Trace t = m.run(corrupted, o);
  const int64_t T = t.logits.dim(1);
  return static_cast<double>(t.logits.at({0, T - 1, answer})) - t.logits.at({0, T - 1, wrong});
}

Trace capture_all(const Model& m, const std::vector<int32_t>& ids) {
  RunOptions o;
  o.capture = {"blocks.*.hook_resid_pre", "blocks.*.hook_attn_out",    "blocks.*.hook_mlp_out",
               "blocks.*.attn.hook_z",    "blocks.*.attn.hook_q",      "blocks.*.attn.hook_k",
               "blocks.*.attn.hook_v",    "blocks.*.attn.hook_pattern"};
  if (hook_applies(HookPoint::ResidMid, m.config())) o.capture.push_back("blocks.*.hook_resid_mid");
  return m.run(ids, o);
}

// Checks one sweep entry against its hand run. `every` > 1 checks only every every-th entry (the
// toy model's full passes are slower than the fixture's), cycling through all kinds of entry.
struct Checker {
  int every = 1;
  int64_t seen = 0;
  int checked = 0;
  void operator()(double got, const std::function<double()>& want, const std::string& what) {
    if (seen++ % every != 0) return;
    const double w = want();
    ++checked;
    EXPECT_NEAR(got, w, 2e-4 * std::max(1.0, std::fabs(w))) << what;
  }
};

// Checks every sweep against the hand loop on one model and prompt pair.
int check_all_sweeps(const Model& m, const std::vector<int32_t>& clean, const std::vector<int32_t>& corrupted,
                     int32_t answer, int32_t wrong, int every) {
  Checker expect_close{every};
  const ModelConfig& c = m.config();
  const int L = c.n_layer, H = c.n_head, Hkv = c.n_head_kv, T = static_cast<int>(clean.size());
  const Trace ct = capture_all(m, clean);
  pt::Options opt;
  opt.max_batch = 5;  // several passes per layer, the last one short
  pt::ActivationPatcher p(m, clean, corrupted, pt::logit_diff(answer, wrong), opt);
  auto hand = [&](const std::string& hook, const Select& s) {
    return hand_patched(m, corrupted, ct, hook, s, answer, wrong);
  };

  // [n_layers, pos] sweeps of the residual stream and the block outputs.
  std::vector<std::pair<pt::Sweep, HookPoint>> stream = {{pt::Sweep::ResidPre, HookPoint::ResidPre},
                                                         {pt::Sweep::AttnOut, HookPoint::AttnOut},
                                                         {pt::Sweep::MlpOut, HookPoint::MlpOut}};
  if (hook_applies(HookPoint::ResidMid, c)) stream.push_back({pt::Sweep::ResidMid, HookPoint::ResidMid});
  for (auto [sweep, point] : stream) {
    pt::Result r = p.run(sweep);
    EXPECT_EQ(r.values.shape(), (Shape{L, T}));
    if (r.values.shape() != (Shape{L, T})) return 0;
    for (int l = 0; l < L; ++l)
      for (int pos = 0; pos < T; ++pos)
        expect_close(
            r.values.at({l, pos}), [&] { return hand(hook_name(point, l), [pos](auto& i) { return i[1] == pos; }); },
            r.sweep + " L" + std::to_string(l) + " pos " + std::to_string(pos));
  }
  // Head sweeps by position and over all positions: z, q (query heads), k, v (key/value heads).
  for (auto [by_pos, all_pos, point, heads] : std::vector<std::tuple<pt::Sweep, pt::Sweep, HookPoint, int>>{
           {pt::Sweep::HeadOutByPos, pt::Sweep::HeadOutAllPos, HookPoint::AttnZ, H},
           {pt::Sweep::HeadQByPos, pt::Sweep::HeadQAllPos, HookPoint::AttnQ, H},
           {pt::Sweep::HeadKByPos, pt::Sweep::HeadKAllPos, HookPoint::AttnK, Hkv},
           {pt::Sweep::HeadVByPos, pt::Sweep::HeadVAllPos, HookPoint::AttnV, Hkv}}) {
    pt::Result rb = p.run(by_pos), ra = p.run(all_pos);
    EXPECT_EQ(rb.values.shape(), (Shape{L, T, heads}));
    if (rb.values.shape() != (Shape{L, T, heads})) return 0;
    EXPECT_EQ(ra.values.shape(), (Shape{L, heads}));
    if (ra.values.shape() != (Shape{L, heads})) return 0;
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < heads; ++h) {
        const std::string hook = hook_name(point, l);
        auto want_all = [&] {
          if (point != HookPoint::AttnZ) return hand(hook, [h](auto& i) { return i[2] == h; });
          RunOptions o;  // the interventions API's own head patch
          o.interventions.push_back(iv::patch_heads(l, {h}, ct));
          Trace t = m.run(corrupted, o);
          return static_cast<double>(t.logits.at({0, T - 1, answer})) - t.logits.at({0, T - 1, wrong});
        };
        expect_close(ra.values.at({l, h}), want_all, ra.sweep + " L" + std::to_string(l) + "H" + std::to_string(h));
        for (int pos = 0; pos < T; ++pos)
          expect_close(
              rb.values.at({l, pos, h}),
              [&] { return hand(hook, [h, pos](auto& i) { return i[1] == pos && i[2] == h; }); },
              rb.sweep + " L" + std::to_string(l) + " pos " + std::to_string(pos) + " H" + std::to_string(h));
      }
  }
  // Attention patterns [B, H, dest, src]: one head, one head's row, one entry.
  pt::Result pa = p.run(pt::Sweep::HeadPatternAllPos), pb = p.run(pt::Sweep::HeadPatternByPos),
             pd = p.run(pt::Sweep::HeadPatternDestSrcPos);
  EXPECT_EQ(pb.values.shape(), (Shape{L, H, T}));
  if (pb.values.shape() != (Shape{L, H, T})) return 0;
  EXPECT_EQ(pd.values.shape(), (Shape{L, H, T, T}));
  if (pd.values.shape() != (Shape{L, H, T, T})) return 0;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) {
      const std::string hook = hook_name(HookPoint::AttnPattern, l);
      expect_close(
          pa.values.at({l, h}), [&] { return hand(hook, [h](auto& i) { return i[1] == h; }); }, "pattern all_pos");
      for (int d = 0; d < T; ++d) {
        expect_close(
            pb.values.at({l, h, d}), [&] { return hand(hook, [h, d](auto& i) { return i[1] == h && i[2] == d; }); },
            "pattern by_pos");
        for (int s = 0; s < T; ++s)
          expect_close(
              pd.values.at({l, h, d, s}),
              [&] { return hand(hook, [h, d, s](auto& i) { return i[1] == h && i[2] == d && i[3] == s; }); },
              "pattern dest_src L" + std::to_string(l) + "H" + std::to_string(h) + " " + std::to_string(d) + "->" +
                  std::to_string(s));
      }
    }
  // The stacks are their parts.
  pt::Result be = p.run(pt::Sweep::BlockEvery);
  EXPECT_EQ(be.values.shape(), (Shape{3, L, T}));
  if (be.values.shape() != (Shape{3, L, T})) return 0;
  const Tensor resid = p.run(pt::Sweep::ResidPre).values;
  for (int l = 0; l < L; ++l)
    for (int pos = 0; pos < T; ++pos) EXPECT_FLOAT_EQ(be.values.at({0, l, pos}), resid.at({l, pos}));
  return expect_close.checked;
}

// [BOS] A B C D E F G A B C D E F: the toy model copies G at the end. The corrupted prompt
// changes E F in the first half, so no earlier token is preceded by "E F" and nothing is copied.
struct InductionPair {
  std::vector<int32_t> clean, corrupted;
  int32_t answer, wrong;
};
InductionPair induction_pair() {
  InductionPair p;
  p.clean = toy().encode("ABCDEFGABCDEF");
  p.corrupted = toy().encode("ABCDXYGABCDEF");
  p.answer = toy().to_single_token("G");
  p.wrong = toy().to_single_token("Q");
  return p;
}

}  // namespace

TEST(Patching, ToySweepsEqualHandLoopOfFullPasses) {
  const auto clean = toy().encode("ABCDABC"), corrupted = toy().encode("ABXDABC");
  ASSERT_EQ(clean.size(), corrupted.size());
  // Every 7th entry (7 is prime to every axis length here, so all kinds of entry come up).
  EXPECT_GT(check_all_sweeps(toy(), clean, corrupted, toy().to_single_token("D"), toy().to_single_token("Q"), 7), 60);
}

TEST(Patching, GroupedQueryFixtureSweepsEqualHandLoop) {
  ASSERT_LT(mistral().config().n_head_kv, mistral().config().n_head);
  const std::vector<int32_t> clean = {1, 15, 27, 300, 15, 27}, corrupted = {1, 44, 27, 300, 15, 91};
  check_all_sweeps(mistral(), clean, corrupted, 300, 7, 1);
}

TEST(Patching, ToyHeadSweepFindsInductionAndPreviousTokenHeads) {
  auto pr = induction_pair();
  pt::ActivationPatcher p(toy(), pr.clean, pr.corrupted, pt::logit_diff(pr.answer, pr.wrong), {true, 16});
  // The corrupted run does not copy G; the clean one does.
  EXPECT_GT(p.clean_metric() - p.corrupted_metric(), 5.0);
  Tensor heads = p.run(pt::Sweep::HeadOutAllPos).values;  // [2, 4], normalised
  std::vector<std::pair<float, std::string>> ranked;
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 4; ++h) ranked.push_back({heads.at({l, h}), "L" + std::to_string(l) + "H" + std::to_string(h)});
  std::sort(ranked.rbegin(), ranked.rend());
  std::vector<std::string> top = {ranked[0].second, ranked[1].second};
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<std::string>{"L0H0", "L1H0"}));
  EXPECT_GT(ranked[1].first, 0.5f);  // each of the two restores most of the clean logit difference
  // By position: L1H0 acts at the last position, L0H0 at G's position in the first half (its
  // previous token is F there, which the last query looks for).
  Tensor by_pos = p.run(pt::Sweep::HeadOutByPos).values;  // [2, T, 4]
  const int T = static_cast<int>(pr.clean.size());
  int best_l1 = 0, best_l0 = 0;
  for (int pos = 0; pos < T; ++pos) {
    if (by_pos.at({1, pos, 0}) > by_pos.at({1, best_l1, 0})) best_l1 = pos;
    if (by_pos.at({0, pos, 0}) > by_pos.at({0, best_l0, 0})) best_l0 = pos;
  }
  EXPECT_EQ(best_l1, T - 1);
  EXPECT_EQ(pr.clean[static_cast<size_t>(best_l0)], pr.answer);
}

TEST(Patching, UnchangedPositionAndMaskedPatternEntriesAreTheCorruptedRun) {
  // Closed form: at layer 0 the residual stream of a position holding the same token in both
  // prompts is the same, so patching it changes nothing (normalised: exactly 0).
  auto pr = induction_pair();
  pt::ActivationPatcher p(toy(), pr.clean, pr.corrupted, pt::logit_diff(pr.answer, pr.wrong), {true, 16});
  Tensor r = p.run(pt::Sweep::ResidPre).values;
  for (size_t pos = 0; pos < pr.clean.size(); ++pos)
    if (pr.clean[pos] == pr.corrupted[pos]) {
      EXPECT_NEAR(r.at({0, static_cast<int64_t>(pos)}), 0.0f, 1e-5f) << pos;
    }
  // Changing the first differing token's stream back restores part of the behaviour.
  EXPECT_GT(std::fabs(r.at({0, 5})) + std::fabs(r.at({0, 6})), 0.1f);
}

TEST(Patching, MetricsAndErrors) {
  auto pr = induction_pair();
  const int T = static_cast<int>(pr.clean.size());
  // log_prob and a custom metric reading an earlier position go through the full-logits path.
  pt::Metric lp = pt::log_prob(pr.answer);
  pt::Metric custom = pt::custom([&](const Tensor& lg) { return static_cast<double>(lg.at({0, T - 2, pr.answer})); });
  Trace ct = toy().run(pr.clean);
  double want = std::log(1.0);
  {
    const float* row = ct.logits.data() + (T - 1) * ct.logits.dim(2);
    double mx = *std::max_element(row, row + ct.logits.dim(2)), s = 0;
    for (int64_t i = 0; i < ct.logits.dim(2); ++i) s += std::exp(row[i] - mx);
    want = row[pr.answer] - mx - std::log(s);
  }
  EXPECT_NEAR(pt::ActivationPatcher(toy(), pr.clean, pr.corrupted, lp).clean_metric(), want, 1e-5);
  EXPECT_NEAR(pt::ActivationPatcher(toy(), pr.clean, pr.corrupted, custom).clean_metric(),
              ct.logits.at({0, T - 2, pr.answer}), 1e-5);
  Tensor a = pt::get_act_patch_attn_out(toy(), pr.corrupted, pr.clean, custom);
  EXPECT_EQ(a.shape(), (Shape{2, T}));

  auto kind = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::Io;  // "no error"
  };
  auto short_ids = toy().encode("ABC");
  EXPECT_EQ(kind([&] { pt::ActivationPatcher(toy(), pr.clean, short_ids, lp); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind([&] { pt::ActivationPatcher(toy(), pr.clean, pr.corrupted, pt::logit(100000)); }),
            ErrorKind::InvalidArgument);
  EXPECT_EQ(kind([&] {
              pt::ActivationPatcher(toy(), pr.clean, pr.clean, lp, {true, 4});
            }),
            ErrorKind::InvalidArgument);  // normalised with clean == corrupted
  EXPECT_EQ(kind([] { pt::sweep_from_name("hedas"); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(pt::sweep_from_name("heads-by-pos"), pt::Sweep::HeadOutByPos);
  EXPECT_EQ(pt::sweep_from_name("get_act_patch_attn_head_pattern_dest_src_pos"), pt::Sweep::HeadPatternDestSrcPos);
  // Parallel residual: no hook_resid_mid. Grouped-query attention: no q/k/v stack.
  const Model neox = Model::load(test::model_path("arch/gptneox/model.gguf"));
  const std::vector<int32_t> ids = {1, 2, 3}, other = {1, 5, 3};
  EXPECT_EQ(kind([&] { pt::get_act_patch_resid_mid(neox, other, ids, pt::logit(3)); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind([&] { pt::get_act_patch_attn_head_all_pos_every(mistral(), other, ids, pt::logit(3)); }),
            ErrorKind::InvalidArgument);
}
