// Path patching (Wang et al. 2022) against an explicit reference made of full forward passes with
// the plain interventions API, and its closed forms: a sender after its receiver, or a receiver
// that reads nothing, carries no effect.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "attnscope/error.h"
#include "attnscope/hook_points.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/patching.h"

using namespace attnscope;
namespace pt = attnscope::patching;

namespace {

const Model& toy() {
  static const Model m = Model::load("attnscope:toy");
  return m;
}

struct Pair {
  std::vector<int32_t> clean = toy().encode("ABCDEFGABCDEF"), corrupted = toy().encode("ABCDXYGABCDEF");
  int32_t answer = toy().to_single_token("G"), wrong = toy().to_single_token("Q");
};

double diff_at_last(const Trace& t, int32_t a, int32_t w) {
  const int64_t T = t.logits.dim(1);
  return static_cast<double>(t.logits.at({0, T - 1, a})) - t.logits.at({0, T - 1, w});
}

// The paper's steps as full passes from the embeddings: (2) clean run, senders' hook_z from the
// corrupted run, every other head's from the clean run, receivers' inputs recorded; (3) clean run
// with those inputs of the receivers' heads replaced.
double reference(const Pair& p, const std::vector<pt::Head>& senders, const std::vector<pt::Head>& receivers,
                 const std::string& inputs) {
  const Model& m = toy();
  const ModelConfig& c = m.config();
  RunOptions cap;
  cap.capture = {"blocks.*.attn.hook_z"};
  const Trace clean = m.run(p.clean, cap), corrupted = m.run(p.corrupted, cap);
  RunOptions o2;
  for (int l = 0; l < c.n_layer; ++l) {
    std::vector<int> frozen, sent;
    for (int h = 0; h < c.n_head; ++h) {
      bool is_sender = false;
      for (auto& s : senders) is_sender |= s == pt::Head{l, h};
      (is_sender ? sent : frozen).push_back(h);
    }
    if (!frozen.empty()) o2.interventions.push_back(iv::patch_heads(l, frozen, clean));
    if (!sent.empty()) o2.interventions.push_back(iv::patch_heads(l, sent, corrupted));
  }
  for (auto& r : receivers)
    for (char ch : inputs) o2.capture.push_back("blocks." + std::to_string(r.first) + ".attn.hook_" + ch);
  const Trace step2 = m.run(p.clean, o2);
  if (receivers.empty()) return diff_at_last(step2, p.answer, p.wrong);
  RunOptions o3;
  const int group = c.n_head / c.n_head_kv;
  for (auto& r : receivers)
    for (char ch : inputs) {
      const std::string hook = "blocks." + std::to_string(r.first) + ".attn.hook_" + ch;
      const int head = ch == 'q' ? r.second : r.second / group;
      Tensor src = step2.at(hook);
      o3.interventions.push_back(iv::on(hook, iv::custom([src, head](Tensor& v, const HookContext&) {
                                          const int64_t T = v.dim(1), H = v.dim(2), Dh = v.dim(3);
                                          for (int64_t t = 0; t < T; ++t)
                                            for (int64_t d = 0; d < Dh; ++d)
                                              v.at({0, t, head, d}) = src.at({0, t, head, d});
                                          (void)H;
                                        })));
    }
  return diff_at_last(m.run(p.clean, o3), p.answer, p.wrong);
}

}  // namespace

TEST(PathPatching, EqualsExplicitMultiRunReference) {
  Pair p;
  const auto metric = pt::logit_diff(p.answer, p.wrong);
  for (const std::string inputs : {"q", "k", "v", "qkv"}) {
    pt::PathOptions o;
    o.receiver_inputs = inputs;
    for (const auto& senders : std::vector<std::vector<pt::Head>>{{{0, 0}}, {{0, 1}}, {{0, 0}, {0, 1}}}) {
      const double got = pt::path_patch(toy(), p.clean, p.corrupted, senders, {{1, 0}}, metric, o);
      const double want = reference(p, senders, {{1, 0}}, inputs);
      EXPECT_NEAR(got, want, 1e-4 * std::max(1.0, std::fabs(want))) << inputs << " from L0H" << senders[0].second;
    }
  }
  // To the logits directly (no receivers): step 2's run is the answer.
  EXPECT_NEAR(pt::path_patch(toy(), p.clean, p.corrupted, {{0, 0}}, {}, metric), reference(p, {{0, 0}}, {}, ""), 1e-4);
  // The sweep is the single-sender calls.
  pt::PathOptions ok;
  ok.receiver_inputs = "k";
  Tensor sweep = pt::path_patch_sweep(toy(), p.clean, p.corrupted, {{1, 0}}, metric, ok);
  ASSERT_EQ(sweep.shape(), (Shape{2, 4}));
  for (int h = 0; h < 4; ++h) EXPECT_NEAR(sweep.at({0, h}), reference(p, {{0, h}}, {{1, 0}}, "k"), 1e-4) << "L0H" << h;
}

TEST(PathPatching, ClosedFormsAndTheInductionCircuit) {
  Pair p;
  const auto metric = pt::logit_diff(p.answer, p.wrong);
  pt::PathOptions norm;
  norm.normalize = true;
  norm.receiver_inputs = "qkv";
  // A sender in the receiver's own layer is not read by it: effect 0.
  EXPECT_NEAR(pt::path_patch(toy(), p.clean, p.corrupted, {{1, 0}}, {{1, 0}}, metric, norm), 0.0, 1e-6);
  // L1H1 is all zero (src/model/toy_model.cpp): its q, k, v read nothing, so no path reaches it.
  EXPECT_NEAR(pt::path_patch(toy(), p.clean, p.corrupted, {{0, 0}}, {{1, 1}}, metric, norm), 0.0, 1e-6);
  Tensor sweep = pt::path_patch_sweep(toy(), p.clean, p.corrupted, {{1, 0}}, metric, norm);
  for (int h = 0; h < 4; ++h) EXPECT_EQ(sweep.at({1, h}), 0.0f);
  // K-composition: the previous-token head L0H0 reaches the induction head through its keys
  // (the corrupted prompt breaks "F G" in the first half), not through its query (the last
  // token's previous token is E in both prompts).
  norm.receiver_inputs = "k";
  EXPECT_LT(pt::path_patch(toy(), p.clean, p.corrupted, {{0, 0}}, {{1, 0}}, metric, norm), -0.5);
  norm.receiver_inputs = "q";
  EXPECT_NEAR(pt::path_patch(toy(), p.clean, p.corrupted, {{0, 0}}, {{1, 0}}, metric, norm), 0.0, 0.02);
}

TEST(PathPatching, BadInput) {
  Pair p;
  const auto metric = pt::logit_diff(p.answer, p.wrong);
  auto kind = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::Io;
  };
  EXPECT_EQ(kind([&] {
              pt::path_patch(toy(), p.clean, p.corrupted, {{2, 0}}, {{1, 0}}, metric);
            }),
            ErrorKind::InvalidArgument);
  EXPECT_EQ(kind([&] {
              pt::path_patch(toy(), p.clean, p.corrupted, {}, {{1, 0}}, metric);
            }),
            ErrorKind::InvalidArgument);
  pt::PathOptions o;
  o.receiver_inputs = "x";
  EXPECT_EQ(kind([&] {
              pt::path_patch(toy(), p.clean, p.corrupted, {{0, 0}}, {{1, 0}}, metric, o);
            }),
            ErrorKind::InvalidArgument);
  EXPECT_EQ(kind([&] {
              pt::path_patch(toy(), p.clean, toy().encode("AB"), {{0, 0}}, {{1, 0}}, metric);
            }),
            ErrorKind::InvalidArgument);
}
