// Synthetic attention patterns (see viz.h).
#include <cmath>

#include "attnscope/error.h"
#include "attnscope/viz.h"

namespace attnscope {

std::map<int, Tensor> synthetic_patterns(int tokens, int layers, int heads, uint64_t seed) {
  if (tokens < 1 || layers < 1 || heads < 1 || tokens > 8192 || layers > 512 || heads > 512)
    fail(ErrorKind::InvalidArgument, "synthetic patterns: need 1..8192 tokens, 1..512 layers and heads");
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  auto uniform = [&s]() {  // splitmix64 -> [0, 1)
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  };
  std::map<int, Tensor> out;
  const int64_t T = tokens;
  std::vector<double> row(static_cast<size_t>(T));
  for (int l = 0; l < layers; ++l) {
    Tensor t({1, heads, T, T});
    float* p = t.data();
    for (int h = 0; h < heads; ++h) {
      const int job = h % 4;
      for (int64_t q = 0; q < T; ++q) {
        double sum = 0;
        for (int64_t k = 0; k <= q; ++k) {
          double v = job == 3 ? std::exp(3.0 * uniform()) : 0.02 * uniform();
          if (job == 0 && k == (q > 0 ? q - 1 : 0)) v += 4.0;
          if (job == 1 && k == 0) v += 4.0;
          if (job == 2 && k == q) v += 4.0;
          row[static_cast<size_t>(k)] = v;
          sum += v;
        }
        float* r = p + (static_cast<int64_t>(h) * T + q) * T;
        for (int64_t k = 0; k <= q; ++k) r[k] = static_cast<float>(row[static_cast<size_t>(k)] / sum);
      }
    }
    out.emplace(l, std::move(t));
  }
  return out;
}

std::vector<std::string> synthetic_tokens(int tokens) {
  std::vector<std::string> out;
  for (int i = 0; i < tokens; ++i) out.push_back("tok" + std::to_string(i));
  return out;
}

}  // namespace attnscope
