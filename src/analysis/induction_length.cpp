// Induction over long repeats (long_context.h): the random-repeat scan at several repeat
// distances, one score per head and distance.
#include <algorithm>
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

LongInductionReport induction_by_length(const Model& model, const LongInductionOptions& options) {
  if (options.lengths.empty()) fail(ErrorKind::InvalidArgument, "induction_by_length: give at least one length");
  LongInductionReport r;
  r.options = options;
  r.layers = detail::checked_layers(model, options.layers, "induction_by_length");
  const int64_t L = model.config().n_layer, H = model.config().n_head;
  const int64_t N = static_cast<int64_t>(options.lengths.size());
  r.score = Tensor({N, L, H});
  std::fill(r.score.data(), r.score.data() + N * L * H, std::numeric_limits<float>::quiet_NaN());
  const int32_t bos = detail::bos_of(model);
  const std::vector<int32_t> pool = random_token_pool(model);
  for (int64_t i = 0; i < N; ++i) {
    const int n = options.lengths[static_cast<size_t>(i)];
    if (n < 2) fail(ErrorKind::InvalidArgument, "induction_by_length: lengths must be >= 2, got " + std::to_string(n));
    const std::vector<int32_t> ids = random_repeated_tokens(pool, bos, n, 2, options.seed, options.distinct_tokens);
    detail::check_length(model, static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids.size()), 1,
                         "induction_by_length");
    // induction_score(A, n): rows p >= n - 1 on their target p - (n - 1), the same row set and
    // chance reference as analysis.h's single-target scores.
    const int64_t d = n - 1;
    for (const auto& [layer, heads] : detail::offset_diagonal(model, ids, r.layers, d))
      for (size_t h = 0; h < heads.size(); ++h) {
        detail::RowScore acc;
        for (size_t k = 0; k < heads[h].size(); ++k) {
          const int64_t p = d + static_cast<int64_t>(k);
          if (options.score.exclude_bos && (p == 0 || p - d == 0)) continue;
          if (!std::isfinite(heads[h][k])) acc.non_finite = true;
          acc.sum += heads[h][k];
          acc.uniform += 1.0 / static_cast<double>(p + 1);
          ++acc.rows;
        }
        r.score.data()[(i * L + layer) * H + static_cast<int64_t>(h)] =
            static_cast<float>(detail::finish_score(acc, options.score));
      }
  }
  return r;
}

}  // namespace attnscope
