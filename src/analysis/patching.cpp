// Exact activation patching sweeps: the clean and corrupted runs once per hook point, then every
// patched run resumes at its layer from the corrupted residual stream, one layer's runs batched.
#include "attnscope/patching.h"

#include <algorithm>
#include <set>

#include "analysis/patching_detail.h"
#include "attnscope/error.h"
#include "attnscope/hook_points.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"

namespace attnscope::patching {

using detail::Slice;

struct ActivationPatcher::State {
  const Model* model = nullptr;
  std::vector<int32_t> clean, corrupted;
  Metric metric;
  Options options;
  Trace clean_trace, corrupted_trace;
  std::vector<std::string> clean_captured;
  double clean_metric = 0, corrupted_metric = 0;

  // Captures `hooks` on the clean run, re-running it once if some are new.
  void ensure_clean(const std::vector<std::string>& hooks) {
    bool missing = false;
    for (const auto& h : hooks)
      if (std::find(clean_captured.begin(), clean_captured.end(), h) == clean_captured.end()) {
        clean_captured.push_back(h);
        missing = true;
      }
    if (!missing) return;
    RunOptions o;
    o.capture = clean_captured;
    o.return_logits = false;
    clean_trace = model->run(clean, o);
  }
};

namespace {

// One basic sweep's shape: which hook point, how its components are split.
enum class Split { ByPos, AllPos, DestSrc };

struct Job {
  int64_t index;  // into the flat result
  Slice slice;
};

const char* kNames[] = {"resid_pre",
                        "resid_mid",
                        "attn_out",
                        "mlp_out",
                        "attn_head_out_by_pos",
                        "attn_head_out_all_pos",
                        "attn_head_q_by_pos",
                        "attn_head_q_all_pos",
                        "attn_head_k_by_pos",
                        "attn_head_k_all_pos",
                        "attn_head_v_by_pos",
                        "attn_head_v_all_pos",
                        "attn_head_pattern_by_pos",
                        "attn_head_pattern_all_pos",
                        "attn_head_pattern_dest_src_pos",
                        "block_every",
                        "attn_head_all_pos_every",
                        "attn_head_by_pos_every"};
constexpr int kSweepCount = static_cast<int>(Sweep::HeadByPosEvery) + 1;

// Runs every job of one hook point, layer by layer; returns the metric per job index.
void run_jobs(ActivationPatcher::State& s, HookPoint point, const std::vector<std::vector<Job>>& per_layer, float* out,
              Result& res) {
  const Model& m = *s.model;
  const int max_batch = s.options.max_batch;
  for (size_t l = 0; l < per_layer.size(); ++l) {
    const auto& jobs = per_layer[l];
    if (jobs.empty()) continue;
    const std::string hook = hook_name(point, static_cast<int>(l));
    const Tensor& source = s.clean_trace.at(hook);
    const Tensor& start = s.corrupted_trace.at(hook_name(HookPoint::ResidPre, static_cast<int>(l)));
    for (size_t j0 = 0; j0 < jobs.size(); j0 += static_cast<size_t>(max_batch)) {
      const size_t n = std::min(jobs.size() - j0, static_cast<size_t>(max_batch));
      std::vector<Slice> slices(n);
      for (size_t i = 0; i < n; ++i) slices[i] = jobs[j0 + i].slice;
      RunOptions o;
      o.start_at_layer = static_cast<int>(l);
      o.residual = start;
      o.last_logits_only = detail::reads_last_only(s.metric);
      o.interventions.push_back(detail::patch_rows(hook, source, std::move(slices)));
      Trace t = m.run_batch(std::vector<std::vector<int32_t>>(n, s.corrupted), o);
      ++res.forward_passes;
      for (size_t i = 0; i < n; ++i)
        out[jobs[j0 + i].index] = static_cast<float>(evaluate(s.metric, t.logits, static_cast<int64_t>(i)));
      res.patched_runs += static_cast<int>(n);
    }
  }
}

// One hook point swept at one split: values laid out as the header says.
Tensor basic_sweep(ActivationPatcher::State& s, HookPoint point, Split split, Result& res) {
  const ModelConfig& c = s.model->config();
  const int L = c.n_layer;
  const int T = static_cast<int>(s.clean.size());
  if (!hook_applies(point, c))
    fail(ErrorKind::InvalidArgument, std::string("patching: this model has no ") + hook_suffix(point) +
                                         (point == HookPoint::ResidMid ? " (its attention and MLP read the same "
                                                                         "stream: a parallel residual)"
                                                                       : ""));
  std::vector<std::string> hooks;
  for (int l = 0; l < L; ++l) hooks.push_back(hook_name(point, l));
  s.ensure_clean(hooks);

  const HookShape shape = hook_shape(point);
  const int heads = shape == HookShape::KvHeads ? c.n_head_kv : c.n_head;
  std::vector<std::vector<Job>> per_layer(static_cast<size_t>(L));
  Tensor values;
  float fill = static_cast<float>(s.corrupted_metric);
  if (shape == HookShape::Stream) {
    values = Tensor({L, T});
    for (int l = 0; l < L; ++l)
      for (int p = 0; p < T; ++p) per_layer[static_cast<size_t>(l)].push_back({l * T + p, Slice{p, -1, -1}});
  } else if (shape == HookShape::Square) {
    if (split == Split::ByPos) {
      values = Tensor({L, heads, T});
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < heads; ++h)
          for (int p = 0; p < T; ++p)
            per_layer[static_cast<size_t>(l)].push_back({(int64_t{l} * heads + h) * T + p, Slice{p, h, -1}});
    } else if (split == Split::AllPos) {
      values = Tensor({L, heads});
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < heads; ++h) per_layer[static_cast<size_t>(l)].push_back({l * heads + h, Slice{-1, h, -1}});
    } else {
      values = Tensor({L, heads, T, T});
      std::fill(values.data(), values.data() + values.numel(), fill);  // masked entries: nothing changes
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < heads; ++h)
          for (int d = 0; d < T; ++d)
            for (int k = 0; k <= d; ++k)
              per_layer[static_cast<size_t>(l)].push_back({((int64_t{l} * heads + h) * T + d) * T + k, Slice{d, h, k}});
    }
  } else {  // head-indexed [B, T, H, *]
    if (split == Split::ByPos) {
      values = Tensor({L, T, heads});
      for (int l = 0; l < L; ++l)
        for (int p = 0; p < T; ++p)
          for (int h = 0; h < heads; ++h)
            per_layer[static_cast<size_t>(l)].push_back({(int64_t{l} * T + p) * heads + h, Slice{p, h, -1}});
    } else {
      values = Tensor({L, heads});
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < heads; ++h) per_layer[static_cast<size_t>(l)].push_back({l * heads + h, Slice{-1, h, -1}});
    }
  }
  run_jobs(s, point, per_layer, values.data(), res);
  return values;
}

std::vector<std::string> axes_of(Sweep sw) {
  switch (sw) {
    case Sweep::ResidPre:
    case Sweep::ResidMid:
    case Sweep::AttnOut:
    case Sweep::MlpOut:
      return {"layer", "pos"};
    case Sweep::HeadOutByPos:
    case Sweep::HeadQByPos:
    case Sweep::HeadKByPos:
    case Sweep::HeadVByPos:
      return {"layer", "pos", "head"};
    case Sweep::HeadOutAllPos:
    case Sweep::HeadQAllPos:
    case Sweep::HeadKAllPos:
    case Sweep::HeadVAllPos:
    case Sweep::HeadPatternAllPos:
      return {"layer", "head"};
    case Sweep::HeadPatternByPos:
      return {"layer", "head", "dest_pos"};
    case Sweep::HeadPatternDestSrcPos:
      return {"layer", "head", "dest_pos", "src_pos"};
    case Sweep::BlockEvery:
      return {"component", "layer", "pos"};
    case Sweep::HeadAllPosEvery:
      return {"component", "layer", "head"};
    case Sweep::HeadByPosEvery:
      return {"component", "layer", "pos", "head"};
  }
  return {};
}

// [L, H, T] -> [L, T, H] (the pattern-by-position sweep in the other head sweeps' layout).
Tensor heads_last(const Tensor& x) {
  const int64_t L = x.dim(0), H = x.dim(1), T = x.dim(2);
  Tensor out({L, T, H});
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) out.data()[(l * T + t) * H + h] = x.data()[(l * H + h) * T + t];
  return out;
}

Tensor stack(const std::vector<Tensor>& parts) {
  Shape shape = parts.at(0).shape();
  shape.insert(shape.begin(), static_cast<int64_t>(parts.size()));
  Tensor out(shape);
  const int64_t n = parts[0].numel();
  for (size_t i = 0; i < parts.size(); ++i) std::copy(parts[i].data(), parts[i].data() + n, out.data() + i * n);
  return out;
}

}  // namespace

std::string sweep_name(Sweep s) { return kNames[static_cast<int>(s)]; }

std::vector<std::string> sweep_names() { return {std::begin(kNames), std::end(kNames)}; }

Sweep sweep_from_name(const std::string& raw) {
  std::string name = raw;
  std::replace(name.begin(), name.end(), '-', '_');
  const std::string prefix = "get_act_patch_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  if (name == "heads") return Sweep::HeadOutAllPos;
  if (name == "heads_by_pos") return Sweep::HeadOutByPos;
  if (name == "resid") return Sweep::ResidPre;
  if (name == "pattern") return Sweep::HeadPatternByPos;
  for (int i = 0; i < kSweepCount; ++i)
    if (name == kNames[i]) return static_cast<Sweep>(i);
  std::vector<std::string> choices = sweep_names();
  for (const char* s : {"heads", "heads-by-pos", "resid", "attn-out", "mlp-out", "pattern"}) choices.push_back(s);
  std::string list;
  for (const auto& c : sweep_names()) list += (list.empty() ? "" : ", ") + c;
  fail(ErrorKind::InvalidArgument, "no patching sweep '" + raw + "'" + did_you_mean(raw, choices) +
                                       "; choose heads, heads-by-pos, resid, attn-out, mlp-out, pattern or one of " +
                                       list);
}

ActivationPatcher::ActivationPatcher(const Model& model, std::vector<int32_t> clean, std::vector<int32_t> corrupted,
                                     Metric metric, Options options)
    : s_(std::make_unique<State>()) {
  const ModelConfig& c = model.config();
  if (clean.empty() || corrupted.empty())
    fail(ErrorKind::InvalidArgument, "activation patching: the clean and corrupted prompts need tokens");
  if (clean.size() != corrupted.size())
    fail(ErrorKind::InvalidArgument, "activation patching: the clean prompt has " + std::to_string(clean.size()) +
                                         " tokens and the corrupted one " + std::to_string(corrupted.size()) +
                                         "; positions must line up one to one (same length)");
  if (options.max_batch < 1) fail(ErrorKind::InvalidArgument, "activation patching: max_batch must be >= 1");
  detail::check_metric(metric, c.n_vocab);
  s_->model = &model;
  s_->clean = std::move(clean);
  s_->corrupted = std::move(corrupted);
  s_->metric = std::move(metric);
  s_->options = options;
  RunOptions o;
  for (int l = 0; l < c.n_layer; ++l) o.capture.push_back(hook_name(HookPoint::ResidPre, l));
  s_->corrupted_trace = model.run(s_->corrupted, o);
  s_->corrupted_metric = evaluate(s_->metric, s_->corrupted_trace.logits);
  s_->corrupted_trace.logits = Tensor();
  RunOptions oc;
  Trace clean_run = model.run(s_->clean, oc);
  s_->clean_metric = evaluate(s_->metric, clean_run.logits);
  if (options.normalize) detail::normalise(0, s_->clean_metric, s_->corrupted_metric, "activation patching");
}

ActivationPatcher::~ActivationPatcher() = default;
ActivationPatcher::ActivationPatcher(ActivationPatcher&&) noexcept = default;
double ActivationPatcher::clean_metric() const { return s_->clean_metric; }
double ActivationPatcher::corrupted_metric() const { return s_->corrupted_metric; }

Result ActivationPatcher::run(Sweep sw) {
  Result res;
  res.sweep = sweep_name(sw);
  res.axes = axes_of(sw);
  res.clean_metric = s_->clean_metric;
  res.corrupted_metric = s_->corrupted_metric;
  res.normalized = s_->options.normalize;
  const ModelConfig& c = s_->model->config();
  auto needs_one_head_count = [&] {
    if (c.n_head_kv != c.n_head)
      fail(ErrorKind::InvalidArgument, "activation patching: " + res.sweep + " stacks q with k and v, but this model " +
                                           "has " + std::to_string(c.n_head) + " query heads and " +
                                           std::to_string(c.n_head_kv) +
                                           " key/value heads (grouped-query attention); run the q, k and v sweeps "
                                           "one by one");
  };
  auto& s = *s_;
  switch (sw) {
    case Sweep::ResidPre:
      res.values = basic_sweep(s, HookPoint::ResidPre, Split::ByPos, res);
      break;
    case Sweep::ResidMid:
      res.values = basic_sweep(s, HookPoint::ResidMid, Split::ByPos, res);
      break;
    case Sweep::AttnOut:
      res.values = basic_sweep(s, HookPoint::AttnOut, Split::ByPos, res);
      break;
    case Sweep::MlpOut:
      res.values = basic_sweep(s, HookPoint::MlpOut, Split::ByPos, res);
      break;
    case Sweep::HeadOutByPos:
      res.values = basic_sweep(s, HookPoint::AttnZ, Split::ByPos, res);
      break;
    case Sweep::HeadOutAllPos:
      res.values = basic_sweep(s, HookPoint::AttnZ, Split::AllPos, res);
      break;
    case Sweep::HeadQByPos:
      res.values = basic_sweep(s, HookPoint::AttnQ, Split::ByPos, res);
      break;
    case Sweep::HeadQAllPos:
      res.values = basic_sweep(s, HookPoint::AttnQ, Split::AllPos, res);
      break;
    case Sweep::HeadKByPos:
      res.values = basic_sweep(s, HookPoint::AttnK, Split::ByPos, res);
      break;
    case Sweep::HeadKAllPos:
      res.values = basic_sweep(s, HookPoint::AttnK, Split::AllPos, res);
      break;
    case Sweep::HeadVByPos:
      res.values = basic_sweep(s, HookPoint::AttnV, Split::ByPos, res);
      break;
    case Sweep::HeadVAllPos:
      res.values = basic_sweep(s, HookPoint::AttnV, Split::AllPos, res);
      break;
    case Sweep::HeadPatternByPos:
      res.values = basic_sweep(s, HookPoint::AttnPattern, Split::ByPos, res);
      break;
    case Sweep::HeadPatternAllPos:
      res.values = basic_sweep(s, HookPoint::AttnPattern, Split::AllPos, res);
      break;
    case Sweep::HeadPatternDestSrcPos:
      res.values = basic_sweep(s, HookPoint::AttnPattern, Split::DestSrc, res);
      break;
    case Sweep::BlockEvery:
      res.components = {"resid_pre", "attn_out", "mlp_out"};
      res.values = stack({basic_sweep(s, HookPoint::ResidPre, Split::ByPos, res),
                          basic_sweep(s, HookPoint::AttnOut, Split::ByPos, res),
                          basic_sweep(s, HookPoint::MlpOut, Split::ByPos, res)});
      break;
    case Sweep::HeadAllPosEvery:
    case Sweep::HeadByPosEvery: {
      needs_one_head_count();
      const bool by_pos = sw == Sweep::HeadByPosEvery;
      const Split split = by_pos ? Split::ByPos : Split::AllPos;
      res.components = {"z", "q", "k", "v", "pattern"};
      // Capture all five hook points in one clean run.
      std::vector<std::string> hooks;
      for (HookPoint p :
           {HookPoint::AttnZ, HookPoint::AttnQ, HookPoint::AttnK, HookPoint::AttnV, HookPoint::AttnPattern})
        for (int l = 0; l < c.n_layer; ++l) hooks.push_back(hook_name(p, l));
      s.ensure_clean(hooks);
      Tensor pattern = basic_sweep(s, HookPoint::AttnPattern, split, res);
      res.values = stack({basic_sweep(s, HookPoint::AttnZ, split, res), basic_sweep(s, HookPoint::AttnQ, split, res),
                          basic_sweep(s, HookPoint::AttnK, split, res), basic_sweep(s, HookPoint::AttnV, split, res),
                          by_pos ? heads_last(pattern) : pattern});
      break;
    }
  }
  if (res.normalized) {
    float* v = res.values.data();
    for (int64_t i = 0; i < res.values.numel(); ++i)
      v[i] = static_cast<float>(detail::normalise(v[i], s.clean_metric, s.corrupted_metric, "activation patching"));
  }
  return res;
}

Result get_act_patch(const Model& model, Sweep sweep, const std::vector<int32_t>& corrupted,
                     const std::vector<int32_t>& clean, const Metric& metric, Options options) {
  ActivationPatcher p(model, clean, corrupted, metric, options);
  return p.run(sweep);
}

#define ATTNSCOPE_TL_SWEEP(fn, sweep)                                                                     \
  Tensor fn(const Model& model, const std::vector<int32_t>& corrupted, const std::vector<int32_t>& clean, \
            const Metric& metric, Options options) {                                                      \
    return get_act_patch(model, sweep, corrupted, clean, metric, options).values;                         \
  }
ATTNSCOPE_TL_SWEEP(get_act_patch_resid_pre, Sweep::ResidPre)
ATTNSCOPE_TL_SWEEP(get_act_patch_resid_mid, Sweep::ResidMid)
ATTNSCOPE_TL_SWEEP(get_act_patch_attn_out, Sweep::AttnOut)
ATTNSCOPE_TL_SWEEP(get_act_patch_mlp_out, Sweep::MlpOut)
ATTNSCOPE_TL_SWEEP(get_act_patch_attn_head_out_by_pos, Sweep::HeadOutByPos)
ATTNSCOPE_TL_SWEEP(get_act_patch_attn_head_out_all_pos, Sweep::HeadOutAllPos)
ATTNSCOPE_TL_SWEEP(get_act_patch_attn_head_pattern_by_pos, Sweep::HeadPatternByPos)
ATTNSCOPE_TL_SWEEP(get_act_patch_attn_head_pattern_dest_src_pos, Sweep::HeadPatternDestSrcPos)
ATTNSCOPE_TL_SWEEP(get_act_patch_block_every, Sweep::BlockEvery)
ATTNSCOPE_TL_SWEEP(get_act_patch_attn_head_all_pos_every, Sweep::HeadAllPosEvery)
#undef ATTNSCOPE_TL_SWEEP

}  // namespace attnscope::patching
