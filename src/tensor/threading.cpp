// Thread count of the forward pass. Debian's oneDNN is built with the OpenMP runtime, so its
// matmuls use as many threads as the calling thread's OpenMP setting allows. The library itself
// is not compiled with -fopenmp, so omp_set_num_threads is looked up at run time in the libgomp
// that libdnnl already loaded (no extra link dependency).
#include <dlfcn.h>

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

using SetFn = void (*)(int);
SetFn omp_setter() {
  static SetFn fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  return fn;
}
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
  if (SetFn fn = omp_setter()) fn(n);
}

int current_call_threads() { return t_call_threads; }

namespace {

using GompParallel = void (*)(void (*)(void*), void*, unsigned, unsigned);
using IntFn = int (*)();
struct Gomp {
  GompParallel parallel = nullptr;
  IntFn thread_num = nullptr, num_threads = nullptr;
};
const Gomp& gomp() {
  static const Gomp g = [] {
    Gomp r;
    r.parallel = reinterpret_cast<GompParallel>(dlsym(RTLD_DEFAULT, "GOMP_parallel"));
    r.thread_num = reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "omp_get_thread_num"));
    r.num_threads = reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "omp_get_num_threads"));
    if (!r.thread_num || !r.num_threads) r.parallel = nullptr;
    return r;
  }();
  return g;
}

struct LoopCtx {
  int64_t n;
  const std::function<void(int64_t, int64_t)>* body;
};

void loop_trampoline(void* p) {
  const auto* ctx = static_cast<const LoopCtx*>(p);
  const int64_t tid = gomp().thread_num(), nt = gomp().num_threads();
  const int64_t begin = ctx->n * tid / nt, end = ctx->n * (tid + 1) / nt;
  if (begin < end) (*ctx->body)(begin, end);
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  int64_t threads = std::min<int64_t>(num_threads(), grain > 0 ? n / grain : n);
  if (threads <= 1 || !gomp().parallel) {
    body(0, n);
    return;
  }
  LoopCtx ctx{n, &body};
  gomp().parallel(&loop_trampoline, &ctx, static_cast<unsigned>(threads), 0);
}

}  // namespace ops
}  // namespace attnscope
