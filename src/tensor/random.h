// The project's one pseudo-random generator: splitmix64 (Steele, Lea, Flood 2014). Tiny and fully
// specified, so a seed gives the same stream on every platform (std::uniform_int_distribution and
// friends are implementation-defined). Used wherever results must be reproducible for a seed:
// random induction sequences, sampling during generation. Private to the library.
#pragma once
#include <cstdint>
#include <limits>

namespace attnscope::detail {

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by rejection (no modulo bias); n >= 1.
  uint64_t below(uint64_t n) {
    const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
    uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

}  // namespace attnscope::detail
