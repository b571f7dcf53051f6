// Thread count of the forward pass. Debian's oneDNN is built with the OpenMP runtime, so its
// matmuls use as many threads as the calling thread's OpenMP setting allows. The library itself
// is not compiled with -fopenmp, so omp_set_num_threads is looked up at run time in the libgomp
// that libdnnl already loaded (no extra link dependency).
#include <dlfcn.h>

#include <atomic>
#include <thread>

#include "attnscope/model.h"
#include "tensor/ops.h"

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

}  // namespace ops
}  // namespace attnscope
