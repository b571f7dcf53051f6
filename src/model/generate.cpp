// Generation with a KV cache (greedy or sampled, see model/sampling.h). Captured hooks are gathered step by step:
// per-token hooks are concatenated along the token axis, attention patterns/scores gain one row per new token (the
// result is the full [B, H, T, T] lower-triangular pattern over prompt + generated tokens).
#include <algorithm>
#include <cstring>
#include <map>

#include "attnscope/error.h"
#include "model/hooks.h"
#include "model/kv_cache.h"
#include "model/model_impl.h"
#include "model/sampling.h"
#include "model/trace_pieces.h"
#include "tensor/threading.h"

namespace attnscope {

Generation Model::generate(std::string_view prompt, const GenerateOptions& options) const {
  std::vector<int32_t> ids = encode(prompt, true);
  if (ids.empty() && tokenizer().bos_id() >= 0) ids.push_back(tokenizer().bos_id());
  if (ids.empty()) fail(ErrorKind::InvalidArgument, "empty prompt and the tokenizer has no BOS token to start from");
  return generate(ids, options);
}

Generation Model::generate(const std::vector<int32_t>& prompt, const GenerateOptions& options) const {
  const Impl& impl = *impl_;
  const ops::RunThreads threads(impl.threads);
  const ModelConfig& c = impl.config;
  std::vector<std::vector<int32_t>> batch{prompt};
  detail::check_prompt_batch(impl, batch, true);
  if (options.max_tokens < 0) fail(ErrorKind::InvalidArgument, "max_tokens must be >= 0");
  detail::TokenSampler sampler(options);
  detail::HookRunner hooks(hook_names(), c.n_layer, options.capture, options.layers, {});
  const bool capturing = hooks.captures_anything();

  int64_t capacity = static_cast<int64_t>(prompt.size()) + options.max_tokens;
  if (c.n_ctx > 0) capacity = std::min<int64_t>(capacity, c.n_ctx);
  detail::KVCache cache(c.n_layer, 1, static_cast<int>(capacity), c.n_head_kv, c.head_dim, impl.dtype);
  const int32_t eos = impl.tokenizer ? impl.tokenizer->eos_id() : -1;

  Generation gen;
  gen.prompt_tokens = prompt;
  std::map<std::string, std::vector<Tensor>> pieces;
  std::vector<Tensor> logit_pieces;
  auto step = [&](const std::vector<std::vector<int32_t>>& ids) {
    Trace t;
    detail::ForwardInput in;
    in.ids = &ids;
    in.cache = &cache;
    in.want_logits = true;
    in.last_logits_only = !hooks.captured(HookPoint::Logits);
    impl.forward(impl, in, hooks, t);
    for (auto& [name, value] : t.captured()) pieces[name].push_back(value);
    if (hooks.captured(HookPoint::Logits)) logit_pieces.push_back(t.logits);
    const Tensor& lg = t.logits;
    return sampler.next(lg.data() + (lg.dim(1) - 1) * lg.dim(2), lg.dim(2));
  };

  int32_t next = step(batch);
  while (static_cast<int>(gen.new_tokens.size()) < options.max_tokens) {
    if (options.stop_at_eos && next == eos) break;
    gen.new_tokens.push_back(next);
    if (cache.n_past >= capacity) break;  // context full: no room to run this token
    // The last token only needs a forward pass when its row of the captures is wanted.
    if (static_cast<int>(gen.new_tokens.size()) == options.max_tokens && !capturing) break;
    next = step({{next}});
  }

  std::vector<int32_t> all = prompt;
  all.insert(all.end(), gen.new_tokens.begin(), gen.new_tokens.end());
  // Captures cover the tokens that went through the model (all of them unless the context filled).
  if (capturing && static_cast<int64_t>(all.size()) > cache.n_past) all.resize(static_cast<size_t>(cache.n_past));
  detail::fill_trace_tokens(impl, {all}, gen.trace);
  detail::join_pieces(pieces, logit_pieces, cache.n_past, gen.trace);
  if (impl.tokenizer) gen.text = impl.tokenizer->decode(gen.new_tokens);
  return gen;
}

}  // namespace attnscope
