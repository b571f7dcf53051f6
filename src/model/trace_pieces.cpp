#include "model/trace_pieces.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace attnscope::detail {

namespace {

// Pieces [B, H, t_i, k_i] (queries t_i at the end of k_i keys) -> [B, H, T, T].
Tensor assemble_square(const std::vector<Tensor>& pieces, int64_t total, float fill) {
  const int64_t B = pieces[0].dim(0), H = pieces[0].dim(1);
  Tensor out({B, H, total, total});
  std::fill(out.data(), out.data() + out.numel(), fill);
  int64_t row = 0;
  for (const Tensor& p : pieces) {
    const int64_t t = p.dim(2), k = p.dim(3);
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t i = 0; i < t; ++i)
        std::memcpy(out.data() + (bh * total + row + i) * total, p.data() + (bh * t + i) * k, sizeof(float) * k);
    row += t;
  }
  return out;
}

// Pieces [B, t_i, ...] -> [B, sum t_i, ...].
Tensor concat_tokens(const std::vector<Tensor>& pieces) {
  Shape shape = pieces[0].shape();
  const int64_t B = shape[0];
  int64_t inner = 1;
  for (size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  int64_t total = 0;
  for (const Tensor& p : pieces) total += p.dim(1);
  shape[1] = total;
  Tensor out(shape);
  int64_t off = 0;
  for (const Tensor& p : pieces) {
    const int64_t t = p.dim(1);
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(out.data() + (b * total + off) * inner, p.data() + b * t * inner, sizeof(float) * t * inner);
    off += t;
  }
  return out;
}

}  // namespace

void join_pieces(const std::map<std::string, std::vector<Tensor>>& pieces, const std::vector<Tensor>& logit_pieces,
                 int64_t total, Trace& trace) {
  for (const auto& [name, list] : pieces) {
    const HookPoint point = parse_hook_name(name)->point;  // the forward captured it by this name
    const float masked = point == HookPoint::AttnScores ? -std::numeric_limits<float>::infinity() : 0.0f;
    trace.set(name,
              hook_shape(point) == HookShape::Square ? assemble_square(list, total, masked) : concat_tokens(list));
  }
  if (!logit_pieces.empty()) trace.logits = concat_tokens(logit_pieces);
}

}  // namespace attnscope::detail
