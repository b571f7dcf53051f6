// The structure every family shares: one hook table and matcher for run and validate, the forward
// started at a layer (TransformerLens' start_at_layer), the logit lens sharing the final norm and
// head, the weight-table check, and clear errors for architectures attnscope does not run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "arch_reference.h"
#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/predictions.h"
#include "common/tensor_compare.h"

using namespace attnscope;
namespace fs = std::filesystem;

namespace {
using test::max_abs_diff;
const std::string kModels = ATTNSCOPE_MODELS_DIR;

// stories260K.gguf rewritten as architecture `arch` (its "llama." keys renamed), optionally with
// `bad_tensor` given a wrong shape.
std::string rewritten_stories(const std::string& tag, const std::string& arch, const std::string& bad_tensor = "") {
  const std::string path = test::temp_path(tag + ".gguf");
  test::GgufEdits edits;
  edits.rename_key = [&](const std::string& key) -> std::optional<std::string> {
    if (key == "general.architecture") return std::nullopt;
    return key.rfind("llama.", 0) == 0 ? arch + key.substr(5) : key;
  };
  edits.extra = [&](GgufWriter& w) { w.set_string("general.architecture", arch); };
  edits.edit_tensor = [&](const std::string& name, Tensor& t) {
    if (name == bad_tensor) t = Tensor(Shape{3, 5});
  };
  test::copy_gguf(kModels + "/stories260K.gguf", path, edits);
  return path;
}
}  // namespace

// iv::validate (used by `attnscope ablate`) and Model::run resolve targets with one matcher: what
// one accepts the other accepts, aliases and alias globs included.
TEST(HookTable, ValidateAndRunAgree) {
  const Model m = Model::load("attnscope:toy");
  const auto ids = m.encode("abcabc");
  for (const std::string target : {"model.layers.*.self_attn", "model.model.layers.1.mlp", "blocks.*.hook_attn_out",
                                   "model.layers.0", "lm_head", "blocks.1.attn.hook_rot_q"}) {
    std::vector<Intervention> ivs{iv::on(target, iv::scale(1.0f))};
    EXPECT_NO_THROW(iv::validate(m, ivs)) << target;
    RunOptions o;
    o.interventions = ivs;
    EXPECT_NO_THROW(m.run(ids, o)) << target;
  }
  for (const std::string target : {"model.layers.7.self_attn", "blocks.5.hook_resid_pre", "model.layers.*.nothing"}) {
    std::vector<Intervention> ivs{iv::on(target, iv::scale(1.0f))};
    EXPECT_THROW(iv::validate(m, ivs), Error) << target;
    RunOptions o;
    o.interventions = ivs;
    EXPECT_THROW(m.run(ids, o), Error) << target;
  }
  // The alias glob selects exactly the attention outputs.
  EXPECT_EQ(iv::matching_hooks("model.layers.*.self_attn", m.hook_names()),
            (std::vector<std::string>{"blocks.0.hook_attn_out", "blocks.1.hook_attn_out"}));
}

// Llama (stories260K), GPT-2 and the toy model: "*" captures exactly hook_names() (the arch
// fixtures get the same check in arch_reference.h).
TEST(HookTable, EveryListedHookIsProduced) {
  for (const std::string& path : {kModels + "/stories260K.gguf", kModels + "/safetensors/lm-buddy-tiny_gpt2-random",
                                  std::string("attnscope:toy")}) {
    SCOPED_TRACE(path);
    test::expect_every_hook_produced(Model::load(path), {1, 5, 9, 2, 7});
  }
}

// The table's names round-trip, and its shapes and head axes are what the forward produces.
TEST(HookTable, NamesRoundTrip) {
  for (int i = 0; i < kHookPointCount; ++i) {
    const auto p = static_cast<HookPoint>(i);
    const int layer = hook_in_block(p) ? 3 : -1;
    const std::string name = hook_name(p, layer);
    ASSERT_TRUE(parse_hook_name(name)) << name;
    EXPECT_EQ(*parse_hook_name(name), (HookRef{p, layer})) << name;
    EXPECT_EQ(canonical_hook_name(name), name);
    EXPECT_THROW(hook_name(p, hook_in_block(p) ? -1 : 2), Error) << name;
  }
  EXPECT_EQ(hook_name(HookPoint::AttnPattern, 12), "blocks.12.attn.hook_pattern");
  EXPECT_EQ(hook_glob(HookPoint::AttnZ), "blocks.*.attn.hook_z");
  EXPECT_FALSE(parse_hook_name("blocks.x.attn.hook_z"));
  EXPECT_FALSE(parse_hook_name("blocks.1.hook_embed"));
  EXPECT_FALSE(parse_hook_name("attn.hook_z"));
  EXPECT_EQ(canonical_hook_name("model.model.layers.4.self_attn.attn_weights"), "blocks.4.attn.hook_pattern");
  EXPECT_EQ(canonical_hook_name("model.layers.2"), "blocks.2.hook_resid_post");
  EXPECT_EQ(canonical_hook_name("output"), "logits");
  EXPECT_EQ(hook_head_axis(HookPoint::AttnPattern), 1);
  EXPECT_EQ(hook_head_axis(HookPoint::AttnZ), 2);
  EXPECT_EQ(hook_head_axis(HookPoint::AttnV), -1);  // key/value heads
}

TEST(HookTable, FamilyHooksFollowTheConfig) {
  const Model llama = Model::load(kModels + "/stories260K.gguf");
  const auto names = llama.hook_names();
  auto has = [&](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  EXPECT_TRUE(has(names, "blocks.0.attn.hook_rot_q"));
  EXPECT_TRUE(has(names, "blocks.0.mlp.hook_pre_linear"));
  EXPECT_FALSE(has(names, "hook_pos_embed"));
  EXPECT_FALSE(has(names, "blocks.0.attn.q_norm.hook_normalized"));
  // hook_q is the projection (TransformerLens), hook_rot_q the same after RoPE: equal at
  // position 0, different later.
  RunOptions o;
  o.capture = {"blocks.2.attn.hook_q", "blocks.2.attn.hook_rot_q"};
  const Trace t = llama.run(std::vector<int32_t>{1, 400, 300, 200}, o);
  const Tensor& q = t.at("blocks.2.attn.hook_q");
  const Tensor& rq = t.at("blocks.2.attn.hook_rot_q");
  const int64_t row = q.dim(2) * q.dim(3);
  float d0 = 0, d3 = 0;
  for (int64_t i = 0; i < row; ++i) {
    d0 = std::max(d0, std::fabs(q.data()[i] - rq.data()[i]));
    d3 = std::max(d3, std::fabs(q.data()[3 * row + i] - rq.data()[3 * row + i]));
  }
  EXPECT_EQ(d0, 0.0f);
  EXPECT_GT(d3, 1e-3f);
}

// start_at_layer from the captured stream reproduces the full pass; nothing before it runs.
TEST(StartAtLayer, ResumesTheForwardPassExactly) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  const std::vector<int32_t> ids{1, 403, 407, 261, 378, 300};
  RunOptions full;
  full.capture = {"blocks.3.hook_resid_pre", "blocks.4.attn.hook_pattern"};
  const Trace a = m.run(ids, full);
  for (int batch : {1, 3}) {
    RunOptions part;
    part.start_at_layer = 3;
    part.residual = a.at("blocks.3.hook_resid_pre");
    part.capture = {"blocks.*.attn.hook_pattern"};
    const Trace b = m.run_batch(std::vector<std::vector<int32_t>>(static_cast<size_t>(batch), ids), part);
    EXPECT_EQ(b.attention_patterns().size(), 2u);  // layers 3 and 4 only
    EXPECT_EQ(b.logits.dim(0), batch);
    for (int r = 0; r < batch; ++r) {
      const int64_t n = a.logits.numel();
      float worst = 0;
      for (int64_t i = 0; i < n; ++i)
        worst = std::max(worst, std::fabs(a.logits.data()[i] - b.logits.data()[r * n + i]));
      EXPECT_LE(worst, 1e-5f);
    }
  }
  RunOptions bad;
  bad.start_at_layer = 2;
  EXPECT_THROW(m.run(ids, bad), Error);  // no residual given
  bad.residual = Tensor(Shape{1, 2, 64});
  EXPECT_THROW(m.run(ids, bad), Error);  // wrong length
}

// The logit lens applies the forward's own final norm and head.
TEST(StartAtLayer, LogitLensEqualsTheLogits) {
  const Model m = Model::load(kModels + "/stories260K.gguf");
  RunOptions o;
  o.capture = {"blocks.4.hook_resid_post"};
  const Trace t = m.run(std::vector<int32_t>{1, 403, 407, 261}, o);
  EXPECT_LE(max_abs_diff(unembed(m, t.at("blocks.4.hook_resid_post")), t.logits), 1e-5f);
}

TEST(ArchTables, UnsupportedArchitectureIsNamed) {
  const std::string path = rewritten_stories("falcon", "falcon");
  try {
    Model::load(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_NE(std::string(e.what()).find("'falcon' is not supported"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("qwen2"), std::string::npos) << e.what();
  }
  fs::remove(path);
}

TEST(ArchTables, WrongShapeIsNamedWithBothShapes) {
  const std::string path = rewritten_stories("badshape", "llama", "blk.2.ffn_up.weight");
  try {
    Model::load(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format);
    EXPECT_NE(std::string(e.what()).find("'blk.2.ffn_up.weight' has shape [3, 5], expected [172, 64]"),
              std::string::npos)
        << e.what();
  }
  fs::remove(path);
}
