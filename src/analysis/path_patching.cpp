// Path patching (Wang et al. 2022, "Interpretability in the Wild", section 3.1 / appendix B): the
// senders' corrupted outputs reach the receivers' q / k / v inputs with every other head frozen
// to its clean output, and only those inputs are then patched into a clean run.
#include <algorithm>
#include <cstring>

#include "analysis/patching_detail.h"
#include "attnscope/error.h"
#include "attnscope/hook_points.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/patching.h"

namespace attnscope::patching {

namespace {

struct Runs {
  const Model* model;
  std::vector<int32_t> clean;
  Trace clean_trace, corrupted_trace;  // hook_z of every layer; clean also hook_resid_pre
  double clean_metric = 0, corrupted_metric = 0;
};

void check_head(const ModelConfig& c, const Head& h, const char* role) {
  if (h.first < 0 || h.first >= c.n_layer || h.second < 0 || h.second >= c.n_head)
    fail(ErrorKind::InvalidArgument, std::string("path patching: ") + role + " head L" + std::to_string(h.first) + "H" +
                                         std::to_string(h.second) + " is not in the model (" +
                                         std::to_string(c.n_layer) + " layers of " + std::to_string(c.n_head) +
                                         " heads)");
}

std::vector<HookPoint> inputs_of(const std::string& s) {
  std::vector<HookPoint> out;
  for (char ch : s) {
    HookPoint p = ch == 'q' ? HookPoint::AttnQ : ch == 'k' ? HookPoint::AttnK : HookPoint::AttnV;
    if (ch != 'q' && ch != 'k' && ch != 'v')
      fail(ErrorKind::InvalidArgument, "path patching: receiver inputs '" + s + "' must be letters of \"qkv\"");
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  if (out.empty()) fail(ErrorKind::InvalidArgument, "path patching: no receiver input (choose from q, k, v)");
  return out;
}

Runs prepare(const Model& model, const std::vector<int32_t>& clean, const std::vector<int32_t>& corrupted,
             const Metric& metric) {
  const ModelConfig& c = model.config();
  if (clean.empty() || clean.size() != corrupted.size())
    fail(ErrorKind::InvalidArgument,
         "path patching: the clean and corrupted prompts need the same number of tokens "
         "(got " +
             std::to_string(clean.size()) + " and " + std::to_string(corrupted.size()) + ")");
  detail::check_metric(metric, c.n_vocab);
  Runs r;
  r.model = &model;
  r.clean = clean;
  RunOptions o;
  for (int l = 0; l < c.n_layer; ++l) {
    o.capture.push_back(hook_name(HookPoint::AttnZ, l));
    o.capture.push_back(hook_name(HookPoint::ResidPre, l));
  }
  r.clean_trace = model.run(clean, o);
  r.corrupted_trace = model.run(corrupted, o);
  r.clean_metric = evaluate(metric, r.clean_trace.logits);
  r.corrupted_metric = evaluate(metric, r.corrupted_trace.logits);
  return r;
}

// Step 2's edit of hook_z at `layer`: every row takes the clean outputs of all heads, then row b
// takes the corrupted output of each head in sender_heads[b].
Intervention freeze_heads(int layer, Tensor clean_z, Tensor corrupted_z, std::vector<std::vector<int>> sender_heads) {
  Intervention iv;
  iv.target = hook_name(HookPoint::AttnZ, layer);
  iv.description = "path patching: freeze heads of layer " + std::to_string(layer);
  iv.fn = [clean_z = std::move(clean_z), corrupted_z = std::move(corrupted_z), sender_heads = std::move(sender_heads)](
              Tensor& value, const HookContext&) {
    const int64_t B = value.dim(0), T = value.dim(1), H = value.dim(2), Dh = value.dim(3);
    const int64_t row = T * H * Dh;
    for (int64_t b = 0; b < B; ++b) {
      float* out = value.data() + b * row;
      std::memcpy(out, clean_z.data(), sizeof(float) * static_cast<size_t>(row));
      for (int h : sender_heads[static_cast<size_t>(b)])
        for (int64_t t = 0; t < T; ++t)
          std::memcpy(out + (t * H + h) * Dh, corrupted_z.data() + (t * H + h) * Dh, sizeof(float) * Dh);
    }
  };
  return iv;
}

// Steps 2 and 3 for a batch: row b has its own sender set. Returns metric per row.
std::vector<double> path_rows(const Runs& r, const std::vector<std::vector<Head>>& senders_per_row,
                              const std::vector<Head>& receivers, const std::vector<HookPoint>& inputs,
                              const Metric& metric) {
  const Model& m = *r.model;
  const ModelConfig& c = m.config();
  const size_t B = senders_per_row.size();
  int first = c.n_layer;
  for (const auto& row : senders_per_row)
    for (const Head& h : row) first = std::min(first, h.first);
  int first_receiver = c.n_layer;
  for (const Head& h : receivers) first_receiver = std::min(first_receiver, h.first);
  const int start2 = std::min(first, first_receiver);
  const std::vector<std::vector<int32_t>> ids(B, r.clean);

  // Step 2: clean run, senders corrupted, every other head frozen clean (MLPs recomputed).
  RunOptions o2;
  o2.start_at_layer = start2;
  o2.residual = r.clean_trace.at(hook_name(HookPoint::ResidPre, start2));
  o2.last_logits_only = detail::reads_last_only(metric);
  o2.return_logits = receivers.empty();
  for (int l = start2; l < c.n_layer; ++l) {
    std::vector<std::vector<int>> heads(B);
    for (size_t b = 0; b < B; ++b)
      for (const Head& h : senders_per_row[b])
        if (h.first == l) heads[b].push_back(h.second);
    o2.interventions.push_back(freeze_heads(l, r.clean_trace.at(hook_name(HookPoint::AttnZ, l)),
                                            r.corrupted_trace.at(hook_name(HookPoint::AttnZ, l)), std::move(heads)));
  }
  for (const Head& h : receivers)
    for (HookPoint p : inputs) o2.capture.push_back(hook_name(p, h.first));
  Trace step2 = m.run_batch(ids, o2);
  std::vector<double> out(B);
  if (receivers.empty()) {
    for (size_t b = 0; b < B; ++b) out[b] = evaluate(metric, step2.logits, static_cast<int64_t>(b));
    return out;
  }

  // Step 3: clean run with only the receivers' chosen inputs taken from step 2.
  RunOptions o3;
  o3.start_at_layer = first_receiver;
  o3.residual = r.clean_trace.at(hook_name(HookPoint::ResidPre, first_receiver));
  o3.last_logits_only = detail::reads_last_only(metric);
  const int group = c.n_head / c.n_head_kv;
  for (const Head& h : receivers)
    for (HookPoint p : inputs) {
      const std::string name = hook_name(p, h.first);
      detail::Slice s;
      s.head = p == HookPoint::AttnQ ? h.second : h.second / group;
      o3.interventions.push_back(detail::patch_rows(name, step2.at(name), std::vector<detail::Slice>(B, s)));
    }
  Trace step3 = m.run_batch(ids, o3);
  for (size_t b = 0; b < B; ++b) out[b] = evaluate(metric, step3.logits, static_cast<int64_t>(b));
  return out;
}

double finish(double x, const Runs& r, const PathOptions& o) {
  if (!o.normalize) return x;
  // (patched - clean) / (clean - corrupted)
  return -detail::normalise(x, r.corrupted_metric, r.clean_metric, "path patching") + 0.0;
}

}  // namespace

double path_patch(const Model& model, const std::vector<int32_t>& clean, const std::vector<int32_t>& corrupted,
                  const std::vector<Head>& senders, const std::vector<Head>& receivers, const Metric& metric,
                  const PathOptions& options) {
  const ModelConfig& c = model.config();
  if (senders.empty()) fail(ErrorKind::InvalidArgument, "path patching: no sender head");
  for (const Head& h : senders) check_head(c, h, "sender");
  for (const Head& h : receivers) check_head(c, h, "receiver");
  const auto inputs = inputs_of(options.receiver_inputs);
  Runs r = prepare(model, clean, corrupted, metric);
  return finish(path_rows(r, {senders}, receivers, inputs, metric)[0], r, options);
}

Tensor path_patch_sweep(const Model& model, const std::vector<int32_t>& clean, const std::vector<int32_t>& corrupted,
                        const std::vector<Head>& receivers, const Metric& metric, const PathOptions& options) {
  const ModelConfig& c = model.config();
  for (const Head& h : receivers) check_head(c, h, "receiver");
  const auto inputs = inputs_of(options.receiver_inputs);
  Runs r = prepare(model, clean, corrupted, metric);
  // A sender at or after every receiver's layer reaches none of their inputs.
  int last_receiver = c.n_layer;
  if (!receivers.empty()) {
    last_receiver = 0;
    for (const Head& h : receivers) last_receiver = std::max(last_receiver, h.first);
  }
  Tensor out({c.n_layer, c.n_head});
  for (int l = 0; l < c.n_layer; ++l) {
    std::vector<std::vector<Head>> rows;
    for (int h = 0; h < c.n_head; ++h) rows.push_back({{l, h}});
    std::vector<double> v(static_cast<size_t>(c.n_head), r.clean_metric);
    if (l < last_receiver) v = path_rows(r, rows, receivers, inputs, metric);
    for (int h = 0; h < c.n_head; ++h) out.data()[l * c.n_head + h] = static_cast<float>(finish(v[h], r, options));
  }
  return out;
}

}  // namespace attnscope::patching
