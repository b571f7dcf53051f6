// Thread count of the forward pass, and parallel_for. The library is built with OpenMP
// (-fopenmp): with GCC that is libgomp, the runtime Debian's oneDNN uses, so oneDNN's matmuls and
// our loops run on one thread team and the per-thread OpenMP setting governs both.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

#include "attnscope/model.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace attnscope {

namespace {
std::atomic<int> g_threads{0};
}  // namespace

void set_num_threads(int n) {
  g_threads = n < 0 ? 0 : n;
  ops::apply_num_threads();
}

namespace ops {

int num_threads() {
  int n = g_threads.load();
  if (n > 0) return n;
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

namespace {
thread_local int t_call_threads = 0;
}

void apply_num_threads() { set_thread_count_for_call(num_threads()); }

void set_thread_count_for_call(int n) {
  if (n == t_call_threads) return;
  t_call_threads = n;
  omp_set_num_threads(n);
}

int current_call_threads() { return t_call_threads; }

std::pair<int64_t, int64_t> chunk_bounds(int64_t n, int64_t parts, int64_t part, int64_t align) {
  const int64_t units = (n + align - 1) / align;  // split whole multiples of align
  return {std::min(n, units * part / parts * align),
          std::min(n, units * (part + 1) / parts * align)};
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body,
                  int64_t align) {
  if (n <= 0) return;
  align = std::max<int64_t>(align, 1);
  const int64_t threads =
      std::min<int64_t>({num_threads(), grain > 0 ? n / grain : n, (n + align - 1) / align});
  if (threads <= 1 || omp_in_parallel()) {
    body(0, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const auto [begin, end] = chunk_bounds(n, omp_get_num_threads(), omp_get_thread_num(), align);
    if (begin < end) body(begin, end);
  }
}

}  // namespace ops
}  // namespace attnscope
