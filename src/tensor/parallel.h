// parallel_for over the OpenMP thread team that oneDNN also uses (the library is built with
// -fopenmp; Debian's oneDNN runs on the same libgomp): sharing one runtime means our loops and the
// matmuls never oversubscribe the cores. Inside a parallel region, loops run on the calling thread.
#pragma once
#include <cstdint>
#include <functional>
#include <utility>

namespace attnscope::ops {

// Calls body(begin, end) over disjoint chunks covering [0, n), on up to num_threads() threads
// when there are at least `grain` items per thread. Every chunk but the first begins at a
// multiple of `align`: with align = kFloatsPerLine over a float output that starts on a cache
// line (every Tensor does), no two threads write into one 64-byte line (false sharing).
// body must not throw.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body, int64_t align = 1);

// floats in a 64-byte cache line
inline constexpr int64_t kFloatsPerLine = 16;

// Chunk `part` of `parts` of [0, n) as parallel_for splits it: as even as whole multiples of
// `align` allow, in order, disjoint, together exactly [0, n).
std::pair<int64_t, int64_t> chunk_bounds(int64_t n, int64_t parts, int64_t part, int64_t align);

}  // namespace attnscope::ops
