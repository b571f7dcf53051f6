// The attention rows of the long-context analyses, read from one layer's captured pattern at a
// time (RunOptions::capture_sink): the [1, H, T, T] buffer of a layer is reduced to the numbers
// asked for before the next layer runs, so nothing quadratic outlives its layer.
#include "analysis/attention_rows.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>

#include "attnscope/error.h"

namespace attnscope::detail {

namespace {

// "blocks.12.attn.hook_pattern" -> 12.
int layer_of(const std::string& name) { return std::atoi(name.c_str() + 7); }

// Runs ids once and hands each layer's pattern [1, H, T, T] to fn(layer, pattern). `extra` hooks
// (outside the blocks) go to extra_fn.
template <class Fn>
void for_each_layer_pattern(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers, Fn fn,
                            const std::string& extra = "", const std::function<void(const Tensor&)>& extra_fn = {},
                            const std::vector<Intervention>& interventions = {}) {
  RunOptions ro;
  ro.interventions = interventions;
  ro.capture = {"blocks.*.attn.hook_pattern"};
  if (!extra.empty()) ro.capture.push_back(extra);
  ro.layers = layers;
  ro.return_logits = false;
  ro.capture_sink = [&](const std::string& name, const Tensor& value) {
    if (name.rfind("blocks.", 0) == 0)
      fn(layer_of(name), value);
    else if (extra_fn)
      extra_fn(value);
  };
  model.run(ids, ro);
}

}  // namespace

HeadRows first_keys_mass(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers, int k,
                         const std::vector<Intervention>& interventions) {
  HeadRows out;
  for_each_layer_pattern(
      model, ids, layers,
      [&](int layer, const Tensor& a) {
        const int64_t H = a.dim(1), T = a.dim(2), K = a.dim(3);
        auto& heads = out[layer];
        heads.assign(static_cast<size_t>(H), std::vector<double>(static_cast<size_t>(T)));
        for (int64_t h = 0; h < H; ++h)
          for (int64_t p = 0; p < T; ++p) {
            const float* row = a.data() + (h * T + p) * K;
            double s = 0;
            for (int64_t j = 0; j < std::min<int64_t>(k, K); ++j) s += row[j];
            heads[h][p] = s;
          }
      },
      "", {}, interventions);
  return out;
}

HeadRows offset_diagonal(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers,
                         int64_t offset) {
  HeadRows out;
  for_each_layer_pattern(model, ids, layers, [&](int layer, const Tensor& a) {
    const int64_t H = a.dim(1), T = a.dim(2), K = a.dim(3);
    auto& heads = out[layer];
    heads.assign(static_cast<size_t>(H), {});
    for (int64_t h = 0; h < H; ++h)
      for (int64_t p = offset; p < T; ++p) heads[h].push_back(a.data()[(h * T + p) * K + p - offset]);
  });
  return out;
}

namespace {

int64_t argmax_of(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

}  // namespace

HeadArgmax argmax_keys(const Model& model, const std::vector<int32_t>& ids, const std::vector<int>& layers,
                       const std::vector<int64_t>& rows, std::vector<int32_t>* greedy) {
  HeadArgmax out;
  Tensor picked;  // [rows, D] of ln_final.hook_normalized
  auto pick = [&](const Tensor& x) {
    const int64_t T = x.dim(1), D = x.dim(2);
    picked = Tensor({static_cast<int64_t>(rows.size()), D});
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] < 0 || rows[i] >= T) fail(ErrorKind::InvalidArgument, "argmax_keys: row outside the prompt");
      std::copy(x.data() + rows[i] * D, x.data() + (rows[i] + 1) * D, picked.data() + i * D);
    }
  };
  for_each_layer_pattern(
      model, ids, layers,
      [&](int layer, const Tensor& a) {
        const int64_t H = a.dim(1), T = a.dim(2), K = a.dim(3);
        auto& heads = out[layer];
        heads.assign(static_cast<size_t>(H), std::vector<int64_t>(rows.size()));
        for (int64_t h = 0; h < H; ++h)
          for (size_t i = 0; i < rows.size(); ++i) {
            if (rows[i] < 0 || rows[i] >= T) fail(ErrorKind::InvalidArgument, "argmax_keys: row outside the prompt");
            heads[h][i] = argmax_of(a.data() + (h * T + rows[i]) * K, K);
          }
      },
      greedy ? "ln_final.hook_normalized" : "", greedy ? std::function<void(const Tensor&)>(pick) : nullptr);
  if (greedy) {
    const Tensor logits = unembed(model, picked, false);  // [rows, V]
    const int64_t V = logits.dim(1);
    greedy->clear();
    for (size_t i = 0; i < rows.size(); ++i)
      greedy->push_back(static_cast<int32_t>(argmax_of(logits.data() + static_cast<int64_t>(i) * V, V)));
  }
  return out;
}

GeneratedArgmax generated_argmax_keys(const Model& model, const std::vector<int32_t>& prompt,
                                      const std::vector<int>& layers, int n) {
  // Generate without capturing (the per-step patterns of every layer would be T^2 a layer), then
  // read the rows from one causal pass over prompt + answer: row P - 1 + i sees exactly what the
  // step producing new token i saw, so these are the generation's rows (to float rounding).
  GenerateOptions go;
  go.max_tokens = n;
  go.stop_at_eos = false;
  GeneratedArgmax out;
  out.new_tokens = model.generate(prompt, go).new_tokens;
  if (out.new_tokens.empty()) return out;
  std::vector<int32_t> ids = prompt;
  ids.insert(ids.end(), out.new_tokens.begin(), out.new_tokens.end() - 1);
  std::vector<int64_t> rows;
  for (size_t i = 0; i < out.new_tokens.size(); ++i) rows.push_back(static_cast<int64_t>(prompt.size() - 1 + i));
  out.argmax = argmax_keys(model, ids, layers, rows);
  return out;
}

}  // namespace attnscope::detail
