// parallel_for over the OpenMP thread team that oneDNN also uses (the library is built with
// -fopenmp; Debian's oneDNN runs on the same libgomp): sharing one runtime means our loops and the
// matmuls never oversubscribe the cores. Inside a parallel region, loops run on the calling thread.
#pragma once
#include <cstdint>
#include <functional>

namespace attnscope::ops {

// Calls body(begin, end) over disjoint chunks covering [0, n), on up to num_threads() threads
// when there are at least `grain` items per thread. body must not throw.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

}  // namespace attnscope::ops
