// Attention sinks over context lengths (long_context.h): each head's mean mass on the first k
// keys (Gu et al. 2024's alpha_1 for k = 1) and the sink rate, the share of heads with alpha > eps.
#include <cmath>
#include <limits>
#include <string>

#include "analysis/attention_rows.h"
#include "analysis/long_context_detail.h"
#include "analysis/run_detail.h"
#include "analysis/scores_detail.h"
#include "attnscope/error.h"
#include "attnscope/long_context.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"

namespace attnscope {

namespace {

// Fraction of the finite entries of measured layers' rows above eps, per layer and overall.
void rates(const Tensor& mass, const std::vector<int>& layers, double eps, std::vector<double>& layer_rate,
           double& rate) {
  const int64_t L = mass.dim(0), H = mass.dim(1);
  layer_rate.assign(static_cast<size_t>(L), std::numeric_limits<double>::quiet_NaN());
  int64_t above = 0, n = 0;
  for (int l : layers) {
    int64_t a = 0;
    for (int64_t h = 0; h < H; ++h) a += mass.data()[l * H + h] > eps ? 1 : 0;
    layer_rate[static_cast<size_t>(l)] = static_cast<double>(a) / static_cast<double>(H);
    above += a;
    n += H;
  }
  rate = n ? static_cast<double>(above) / static_cast<double>(n) : 0.0;
}

}  // namespace

SinkReport attention_sinks(const Model& model, const std::vector<int32_t>& tokens, const SinkOptions& options) {
  if (options.sink_tokens < 1)
    fail(ErrorKind::InvalidArgument,
         "attention_sinks: sink_tokens must be >= 1, got " + std::to_string(options.sink_tokens));
  detail::check_threshold(options.epsilon, "attention_sinks (epsilon)");
  const std::vector<int32_t> ids = detail::with_bos(model, tokens);
  SinkReport r;
  r.options = options;
  if (r.options.lengths.empty()) r.options.lengths = {static_cast<int>(ids.size())};
  r.layers = detail::checked_layers(model, options.layers, "attention_sinks");
  const int64_t L = model.config().n_layer, H = model.config().n_head;
  for (int length : r.options.lengths) {
    detail::check_length(model, length, static_cast<int64_t>(ids.size()), options.sink_tokens + 1, "attention_sinks");
    const std::vector<int32_t> prefix(ids.begin(), ids.begin() + length);
    SinkLength s;
    s.length = length;
    s.mass = detail::nan_tensor(L, H);
    for (const auto& [layer, heads] :
         detail::first_keys_mass(model, prefix, r.layers, options.sink_tokens, options.interventions))
      for (size_t h = 0; h < heads.size(); ++h) {
        double sum = 0;
        for (double v : heads[h]) sum += v;
        s.mass.data()[layer * H + static_cast<int64_t>(h)] = static_cast<float>(sum / static_cast<double>(length));
      }
    rates(s.mass, r.layers, options.epsilon, s.layer_rate, s.rate);
    r.by_length.push_back(std::move(s));
  }
  r.mean_mass = detail::nan_tensor(L, H);
  for (int l : r.layers)
    for (int64_t h = 0; h < H; ++h) {
      double sum = 0;
      for (const SinkLength& s : r.by_length) sum += s.mass.data()[l * H + h];
      r.mean_mass.data()[l * H + h] = static_cast<float>(sum / static_cast<double>(r.by_length.size()));
    }
  rates(r.mean_mass, r.layers, options.epsilon, r.layer_rate, r.rate);
  return r;
}

}  // namespace attnscope
