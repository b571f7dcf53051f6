// The head-ablation sweep: ablate each head in turn and watch one target token's logit and
// probability. With reuse_prefix, the residual stream before each layer comes from one clean
// pass, and all heads of a layer run as the rows of one batch through only the layers from there.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/predictions.h"
#include "interventions/interventions_detail.h"

namespace attnscope {

namespace {

struct Readout {
  float logit = 0, prob = 0;
};

// Target logit and probability for rows `rows` ([n, D], already through the final norm).
std::vector<Readout> read_target(const Model& model, const Tensor& rows, int32_t target) {
  Tensor logits = unembed(model, rows, /*apply_final_norm=*/false);
  const int64_t n = logits.dim(0), V = logits.dim(1);
  std::vector<Readout> out(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const float* row = logits.data() + r * V;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, row[i]);
    double s = 0;
    for (int64_t i = 0; i < V; ++i) s += std::exp(static_cast<double>(row[i]) - mx);
    out[static_cast<size_t>(r)].logit = row[target];
    out[static_cast<size_t>(r)].prob = static_cast<float>(std::exp(row[target] - mx - std::log(s)));
  }
  return out;
}

// Rows [B, D] of the final-normalised stream at `pos` of a [B, T, D] capture.
Tensor rows_at(const Tensor& hn, int64_t pos) {
  const int64_t B = hn.dim(0), T = hn.dim(1), D = hn.dim(2);
  Tensor out({B, D});
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(out.data() + b * D, hn.data() + (b * T + pos) * D, sizeof(float) * static_cast<size_t>(D));
  return out;
}

}  // namespace

AblationSweepResult head_ablation_sweep(const Model& model, const std::vector<int32_t>& ids,
                                        const AblationSweepOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& c = model.config();
  if (ids.empty()) fail(ErrorKind::InvalidArgument, "ablation sweep: the prompt has no tokens");
  if (o.target < 0 || o.target >= c.n_vocab)
    fail(ErrorKind::InvalidArgument, "ablation sweep: target token " + std::to_string(o.target) +
                                         " is outside the vocabulary [0, " + std::to_string(c.n_vocab) + ")");
  const int64_t T = static_cast<int64_t>(ids.size());
  const int64_t pos = o.position < 0 ? T + o.position : o.position;
  if (pos < 0 || pos >= T)
    fail(ErrorKind::InvalidArgument, "ablation sweep: position " + std::to_string(o.position) +
                                         " is outside the prompt of " + std::to_string(T) + " tokens");
  if (o.max_batch < 0) fail(ErrorKind::InvalidArgument, "ablation sweep: max_batch must be >= 0");
  std::vector<int> layers = o.layers;
  if (layers.empty())
    for (int l = 0; l < c.n_layer; ++l) layers.push_back(l);
  for (int l : layers)
    if (l < 0 || l >= c.n_layer)
      fail(ErrorKind::InvalidArgument, "ablation sweep: layer " + std::to_string(l) +
                                           " does not exist (the model has " + std::to_string(c.n_layer) + " layers)");
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());

  AblationSweepResult res;
  res.n_layer = c.n_layer;
  res.n_head = c.n_head;
  res.target = o.target;
  res.position = static_cast<int>(pos);
  res.kind = o.kind;
  if (model.has_tokenizer() && o.target < model.tokenizer().vocab_size())
    res.target_str = model.tokenizer().token_to_str(o.target);

  // Clean pass: residual stream before each swept layer, head outputs for means, final stream.
  RunOptions clean_opt;
  clean_opt.return_logits = false;
  clean_opt.capture.push_back(hook_name(HookPoint::LnFinal));
  for (int l : layers) {
    if (o.reuse_prefix) clean_opt.capture.push_back(hook_name(HookPoint::ResidPre, l));
    if (o.kind == AblationKind::Mean) clean_opt.capture.push_back(hook_name(HookPoint::AttnZ, l));
  }
  Trace clean = model.run(ids, clean_opt);
  res.forward_passes = 1;
  const Readout base = read_target(model, rows_at(clean.at(hook_name(HookPoint::LnFinal)), pos), o.target)[0];
  res.clean_logit = base.logit;
  res.clean_prob = base.prob;

  auto record = [&](int layer, int head, const Readout& r) {
    HeadEffect e;
    e.layer = layer;
    e.head = head;
    e.logit = r.logit;
    e.prob = r.prob;
    e.delta_logit = r.logit - base.logit;
    e.delta_prob = r.prob - base.prob;
    res.effects.push_back(e);
  };

  const int H = c.n_head;
  for (int l : layers) {
    Tensor means = o.kind == AblationKind::Mean ? iv::head_means(clean, l) : Tensor();
    if (!o.reuse_prefix) {
      for (int h = 0; h < H; ++h) {
        RunOptions opt;
        opt.return_logits = false;
        opt.capture = {hook_name(HookPoint::LnFinal)};
        opt.interventions.push_back(o.kind == AblationKind::Zero ? iv::zero_ablate_heads(l, {h})
                                                                 : iv::mean_ablate_heads(l, {h}, means));
        Trace t = model.run(ids, opt);
        ++res.forward_passes;
        record(l, h, read_target(model, rows_at(t.at(hook_name(HookPoint::LnFinal)), pos), o.target)[0]);
      }
      continue;
    }
    // Resume from the cached stream before layer l (start_at_layer); batch row b ablates one head.
    Tensor resid = clean.at(hook_name(HookPoint::ResidPre, l));  // [1, T, D]
    const int chunk = o.max_batch > 0 ? std::min(o.max_batch, H) : H;
    for (int h0 = 0; h0 < H; h0 += chunk) {
      const int n = std::min(chunk, H - h0);
      std::vector<int> head_of_row(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) head_of_row[static_cast<size_t>(i)] = h0 + i;
      RunOptions opt;
      opt.return_logits = false;
      opt.capture = {hook_name(HookPoint::LnFinal)};
      opt.start_at_layer = l;
      opt.residual = resid;
      opt.interventions.push_back(iv::detail::ablate_head_per_row(l, head_of_row, means));
      Trace t = model.run_batch(std::vector<std::vector<int32_t>>(static_cast<size_t>(n), ids), opt);
      ++res.forward_passes;
      auto reads = read_target(model, rows_at(t.at(hook_name(HookPoint::LnFinal)), pos), o.target);
      for (int i = 0; i < n; ++i) record(l, h0 + i, reads[static_cast<size_t>(i)]);
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace attnscope
