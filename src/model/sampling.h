// Choosing the next token from a row of logits: greedy, or sampling with temperature, top-k and
// top-p (nucleus, Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"). The
// random stream is splitmix64 seeded once per generation, so a seed reproduces a generation on
// every platform. Private to the library.
#pragma once
#include <cstdint>

#include "attnscope/model.h"
#include "tensor/random.h"

namespace attnscope::detail {

class TokenSampler {
 public:
  // InvalidArgument for temperature < 0 or not finite, top_k < 0, top_p outside (0, 1].
  explicit TokenSampler(const GenerateOptions& options);
  // True when every choice is the arg-max (temperature 0 or top_k 1).
  bool greedy() const { return greedy_; }
  // The next token from logits[0..n): greedy takes the highest logit (the first on ties);
  // otherwise softmax(logits / temperature) restricted to the top_k highest (0: all), then to the
  // smallest set of the highest whose probability reaches top_p, renormalised, and one draw.
  // NaN logits are never chosen; InvalidArgument when every logit is NaN.
  int32_t next(const float* logits, int64_t n);

 private:
  double temperature_;
  int top_k_;
  double top_p_;
  bool greedy_;
  SplitMix64 rng_;
};

}  // namespace attnscope::detail
