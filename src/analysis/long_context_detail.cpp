// Shared plumbing of the long-context analyses: BOS, length checks, NaN-filled head tables, and
// random content tokens.
#include "analysis/long_context_detail.h"

#include <algorithm>
#include <limits>
#include <string>

#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/long_context.h"
#include "attnscope/model_config.h"
#include "tensor/random.h"

namespace attnscope {

namespace detail {

int32_t bos_of(const Model& model) { return model.has_tokenizer() ? model.tokenizer().bos_id() : -1; }

std::vector<int32_t> with_bos(const Model& model, const std::vector<int32_t>& tokens) {
  std::vector<int32_t> ids;
  if (bos_of(model) >= 0) ids.push_back(bos_of(model));
  ids.insert(ids.end(), tokens.begin(), tokens.end());
  return ids;
}

void check_length(const Model& model, int64_t length, int64_t available, int64_t min_length, const char* what) {
  const int64_t ctx = model.config().n_ctx;
  if (length < min_length)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": length " + std::to_string(length) +
                                         " is below the minimum " + std::to_string(min_length));
  if (ctx > 0 && length > ctx)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": length " + std::to_string(length) +
                                         " is longer than the model's context of " + std::to_string(ctx));
  if (length > available)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": length " + std::to_string(length) + " needs " +
                                         std::to_string(length) + " tokens, the source gives " +
                                         std::to_string(available) + " (BOS included): give a longer text");
}

Tensor nan_tensor(int64_t rows, int64_t cols) {
  Tensor t({rows, cols});
  std::fill(t.data(), t.data() + rows * cols, std::numeric_limits<float>::quiet_NaN());
  return t;
}

}  // namespace detail

std::vector<int32_t> random_content_tokens(const Model& model, int64_t n, uint64_t seed,
                                           const std::vector<int32_t>& exclude) {
  std::vector<int32_t> pool;
  for (int32_t t : random_token_pool(model))
    if (std::find(exclude.begin(), exclude.end(), t) == exclude.end()) pool.push_back(t);
  if (pool.empty()) fail(ErrorKind::InvalidArgument, "random_content_tokens: no tokens left to draw from");
  if (n < 0) fail(ErrorKind::InvalidArgument, "random_content_tokens: n must be >= 0");
  detail::SplitMix64 rng{seed};
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.push_back(pool[rng.below(pool.size())]);
  return out;
}

}  // namespace attnscope
