// A long prompt run in chunks through the KV cache: every chunk's queries attend to the keys of
// the chunks before it and its own, as in one pass, while activations ([B, chunk, ...] per hook,
// [B, H, chunk, keys] of attention at most) stay bounded by the chunk.
#include <algorithm>
#include <map>
#include <string>

#include "model/hooks.h"
#include "model/kv_cache.h"
#include "model/model_impl.h"
#include "model/trace_pieces.h"

namespace attnscope::detail {

void run_chunked(const Model::Impl& m, const std::vector<std::vector<int32_t>>& ids, int64_t chunk,
                 const ForwardInput& in, const HookRunner& hooks, Trace& trace) {
  const ModelConfig& c = m.config;
  const int64_t B = static_cast<int64_t>(ids.size()), T = static_cast<int64_t>(ids[0].size());
  KVCache cache(c.n_layer, static_cast<int>(B), static_cast<int>(T), c.n_head_kv, c.head_dim, m.dtype);
  std::map<std::string, std::vector<Tensor>> pieces;
  std::vector<Tensor> logit_pieces;
  // (With a capture sink, captured values go to it chunk by chunk instead: pieces stays empty.)
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t t1 = std::min(T, t0 + chunk);
    std::vector<std::vector<int32_t>> part(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b)
      part[static_cast<size_t>(b)].assign(ids[static_cast<size_t>(b)].begin() + t0,
                                          ids[static_cast<size_t>(b)].begin() + t1);
    ForwardInput step = in;
    step.ids = &part;
    step.cache = &cache;
    // Logits of the last position only: the last chunk's last row.
    step.want_logits = in.want_logits && (!in.last_logits_only || t1 == T);
    Trace t;
    m.forward(m, step, hooks, t);
    for (const auto& [name, value] : t.captured()) pieces[name].push_back(value);
    if (step.want_logits && !t.logits.empty()) logit_pieces.push_back(t.logits);
  }
  join_pieces(pieces, logit_pieces, T, trace);
}

}  // namespace attnscope::detail
