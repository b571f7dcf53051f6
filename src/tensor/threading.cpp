// Thread counts (threading.h) and parallel_for. The library is built with OpenMP (-fopenmp):
// with GCC that is libgomp, the runtime Debian's oneDNN uses, so oneDNN's matmuls and our loops
// run on one thread team. OpenMP's thread count is a per-thread setting (an ICV of the calling
// thread), which is what lets each run carry its own count: a run sets it on its own thread for
// its duration and puts the caller's value back, instead of one process-wide omp_set_num_threads.
#include "tensor/threading.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

#include "tensor/parallel.h"

namespace attnscope::ops {

namespace {
std::atomic<int> g_default_threads{0};  // set_num_threads: a default, never a run's own count
thread_local int t_run_threads = 0;     // the innermost RunThreads scope's count (0: none open)
}  // namespace

int default_threads() {
  const int n = g_default_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

void set_default_threads(int n) { g_default_threads.store(n < 0 ? 0 : n, std::memory_order_relaxed); }

int num_threads() { return t_run_threads > 0 ? t_run_threads : default_threads(); }

RunThreads::RunThreads(int n) : previous_run_(t_run_threads), previous_omp_(omp_get_max_threads()) {
  t_run_threads = n > 0 ? n : default_threads();
  if (t_run_threads != previous_omp_) omp_set_num_threads(t_run_threads);
}

RunThreads::~RunThreads() {
  if (omp_get_max_threads() != previous_omp_) omp_set_num_threads(previous_omp_);
  t_run_threads = previous_run_;
}

OmpThreadsForCall::OmpThreadsForCall(int n) : previous_(omp_get_max_threads()) {
  if (n != previous_) omp_set_num_threads(n);
}

OmpThreadsForCall::~OmpThreadsForCall() {
  if (omp_get_max_threads() != previous_) omp_set_num_threads(previous_);
}

std::pair<int64_t, int64_t> chunk_bounds(int64_t n, int64_t parts, int64_t part, int64_t align) {
  const int64_t units = (n + align - 1) / align;  // split whole multiples of align
  return {std::min(n, units * part / parts * align), std::min(n, units * (part + 1) / parts * align)};
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body, int64_t align) {
  if (n <= 0) return;
  align = std::max<int64_t>(align, 1);
  const int64_t threads = std::min<int64_t>({num_threads(), grain > 0 ? n / grain : n, (n + align - 1) / align});
  if (threads <= 1 || omp_in_parallel()) {
    body(0, n);
    return;
  }
#pragma omp parallel num_threads(static_cast <int>(threads))
  {
    const auto [begin, end] = chunk_bounds(n, omp_get_num_threads(), omp_get_thread_num(), align);
    if (begin < end) body(begin, end);
  }
}

}  // namespace attnscope::ops
