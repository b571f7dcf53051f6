#include "tensor/ops.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "attnscope/error.h"
#include "tensor/parallel.h"
#include "tensor/threading.h"

namespace attnscope::ops {

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN has its own primitive cache, but creating a primitive descriptor still costs tens of
// microseconds; ours maps the full shape/stride signature straight to a ready primitive.
std::mutex g_cache_mutex;
struct Cached {
  dnnl::matmul prim;
  dnnl::memory::desc src, wei, bias, dst, scratchpad;
};
std::unordered_map<std::string, Cached> g_cache;

std::atomic<bool> g_timing{false};
std::atomic<int64_t> g_matmul_ns{0};

void key_append(std::string& key, const std::vector<int64_t>& v) {
  for (int64_t x : v) {
    key += std::to_string(x);
    key += ',';
  }
  key += '|';
}

dnnl::memory::desc make_md(const std::vector<int64_t>& dims, const std::vector<int64_t>& strides,
                           dnnl::memory::data_type dt = dnnl::memory::data_type::f32) {
  return dnnl::memory::desc(dnnl::memory::dims(dims.begin(), dims.end()), dt,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

struct MatmulCall {
  std::vector<int64_t> src_dims, src_strides, wei_dims, wei_strides, dst_dims, dst_strides;
  bool bias = false, accumulate = false;
  dnnl::memory::data_type in_type = dnnl::memory::data_type::f32;  // src and weights (dst is f32)
  int threads = 0;                                                 // 0: by size (see execute)
};

Cached get_primitive(const MatmulCall& c, int threads) {
  std::string key;
  key_append(key, c.src_dims);
  key_append(key, c.src_strides);
  key_append(key, c.wei_dims);
  key_append(key, c.wei_strides);
  key_append(key, c.dst_dims);
  key_append(key, c.dst_strides);
  key += c.bias ? 'b' : '-';
  key += c.accumulate ? 'a' : '-';
  key += c.in_type == dnnl::memory::data_type::bf16 ? 'h' : 'f';
  key += std::to_string(threads);
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = g_cache.find(key);
  if (it != g_cache.end()) return it->second;
  try {
    auto src_md = make_md(c.src_dims, c.src_strides, c.in_type);
    auto wei_md = make_md(c.wei_dims, c.wei_strides, c.in_type);
    auto dst_md = make_md(c.dst_dims, c.dst_strides);
    dnnl::primitive_attr attr;
    // Our own scratchpad per call: oneDNN's library-managed one is shared by every primitive
    // unless the library was built for concurrent execution (Debian's is not), so two threads
    // running products at once (Python threads tracing side by side) corrupted each other.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (c.accumulate) {
      dnnl::post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    dnnl::matmul::primitive_desc pd;
    if (c.bias) {
      std::vector<int64_t> bdims(c.dst_dims.size(), 1), bstrides(c.dst_dims.size(), 0);
      bdims.back() = c.dst_dims.back();
      bstrides.back() = 1;
      for (int i = static_cast<int>(bdims.size()) - 2; i >= 0; --i) bstrides[i] = bstrides[i + 1] * bdims[i + 1];
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, wei_md, make_md(bdims, bstrides), dst_md), attr,
                                        cpu_engine());
    } else {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, wei_md, dst_md), attr, cpu_engine());
    }
    Cached entry{dnnl::matmul(pd),    src_md, wei_md, c.bias ? pd.bias_desc() : dnnl::memory::desc(), dst_md,
                 pd.scratchpad_desc()};
    if (g_cache.size() > 4096) g_cache.clear();  // generation over many lengths: bound the cache
    g_cache.emplace(key, entry);
    return entry;
  } catch (const dnnl::error& e) {
    fail(ErrorKind::Unsupported, std::string("oneDNN matmul could not be created for shape ") + key + ": " + e.what());
  }
}

// Below this many multiply-adds a product runs on one thread: waking OpenMP workers costs more
// than the work (and on a busy machine a descheduled worker stalls the barrier for a time slice).
constexpr double kParallelMacs = 1 << 18;

void execute(const MatmulCall& c, const void* src, const void* wei, const float* bias, float* dst) {
  double macs = static_cast<double>(c.src_dims.back());
  for (int64_t d : c.dst_dims) macs *= static_cast<double>(d);
  const int threads = c.threads > 0 ? c.threads : macs < kParallelMacs ? 1 : num_threads();
  const OmpThreadsForCall omp_threads(threads);  // what oneDNN reads; the caller's value comes back after
  Cached p = get_primitive(c, threads);
  auto& eng = cpu_engine();
  dnnl::memory src_m(p.src, eng, const_cast<void*>(src));
  dnnl::memory wei_m(p.wei, eng, const_cast<void*>(wei));
  dnnl::memory dst_m(p.dst, eng, dst);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, wei_m}, {DNNL_ARG_DST, dst_m}};
  if (c.bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(p.bias, eng, const_cast<float*>(bias)));
  thread_local std::vector<uint8_t> scratch;  // this thread's; a product runs on one caller thread
  if (const size_t bytes = p.scratchpad.get_size(); bytes > 0) {
    if (scratch.size() < bytes) scratch.resize(bytes);
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(p.scratchpad, eng, scratch.data()));
  }
  dnnl::stream stream(eng);
  const bool timing = g_timing.load(std::memory_order_relaxed);
  auto t0 = std::chrono::steady_clock::now();
  p.prim.execute(stream, args);
  stream.wait();
  if (timing)
    g_matmul_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

}  // namespace

void linear(const float* x, int64_t M, int64_t K, const float* W, int64_t N, const float* bias, float* y,
            bool accumulate) {
  if (M <= 0 || N <= 0) return;
  MatmulCall c;
  c.src_dims = {M, K};
  c.src_strides = {K, 1};
  c.wei_dims = {K, N};
  c.wei_strides = {1, K};  // W is [N, K] row-major: its transpose seen through strides
  c.dst_dims = {M, N};
  c.dst_strides = {N, 1};
  c.bias = bias != nullptr;
  c.accumulate = accumulate;
  execute(c, x, W, bias, y);
}

void matmul(const MatView& src, const float* src_data, const MatView& wei, const float* wei_data, const MatView& dst,
            float* dst_data, int threads) {
  MatmulCall c;
  c.src_dims = src.dims;
  c.src_strides = src.strides.empty() ? contiguous_strides(src.dims) : src.strides;
  c.wei_dims = wei.dims;
  c.wei_strides = wei.strides.empty() ? contiguous_strides(wei.dims) : wei.strides;
  c.dst_dims = dst.dims;
  c.dst_strides = dst.strides.empty() ? contiguous_strides(dst.dims) : dst.strides;
  for (int64_t d : c.dst_dims)
    if (d <= 0) return;
  c.threads = threads;
  execute(c, src_data, wei_data, nullptr, dst_data);
}

void linear_typed(MatDtype dt, const void* x, int64_t M, int64_t K, const void* W, int64_t N, float* y, int64_t ldy,
                  bool accumulate, int threads) {
  if (M <= 0 || N <= 0) return;
  MatmulCall c;
  c.src_dims = {M, K};
  c.src_strides = {K, 1};
  c.wei_dims = {K, N};
  c.wei_strides = {1, K};
  c.dst_dims = {M, N};
  c.dst_strides = {ldy, 1};
  c.accumulate = accumulate;
  c.in_type = dt == MatDtype::BF16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  c.threads = threads;
  execute(c, x, W, nullptr, y);
}

bool has_native_bf16() {
  static const bool native = [] {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
  }();
  return native;
}

std::string cpu_isa_name() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::sse41:
      return "sse41";
    default:
      return "other";
  }
}

double matmul_seconds() { return static_cast<double>(g_matmul_ns.load()) * 1e-9; }
void reset_matmul_seconds() { g_matmul_ns = 0; }
void set_matmul_timing(bool on) { g_timing = on; }

namespace {
// Items per thread below which a loop stays on one thread.
constexpr int64_t kGrainElems = 1 << 14;
int64_t grain_rows(int64_t row_len) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, row_len)); }
}  // namespace

void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t D, float eps) {
  parallel_for(rows, grain_rows(D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * D;
      float* yr = y + r * D;
      double ss = 0.0;
      for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(D) + eps));
      for (int64_t i = 0; i < D; ++i) yr[i] = xr[i] * scale * w[i];
    }
  });
}

void layernorm(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t D, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    double sum = 0.0;
    for (int64_t i = 0; i < D; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(D);
    double var = 0.0;
    for (int64_t i = 0; i < D; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<double>(D);
    const float scale = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - m) * scale * w[i] + (b ? b[i] : 0.0f);
  }
}

void rope(float* x, int64_t rows, int n_head, int head_dim, const int32_t* positions, int rope_dim, float base,
          bool neox, const float* freq_factors) {
  const int half = rope_dim / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    inv_freq[i] = std::pow(static_cast<double>(base), -2.0 * i / rope_dim);
    if (freq_factors) inv_freq[i] /= freq_factors[i];
  }
  parallel_for(rows, grain_rows(int64_t{n_head} * head_dim), [&](int64_t r0, int64_t r1) {
    std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
    for (int64_t r = r0; r < r1; ++r) {
      for (int i = 0; i < half; ++i) {
        const double theta = positions[r] * inv_freq[i];
        cs[i] = static_cast<float>(std::cos(theta));
        sn[i] = static_cast<float>(std::sin(theta));
      }
      for (int h = 0; h < n_head; ++h) {
        float* v = x + (r * n_head + h) * head_dim;
        for (int i = 0; i < half; ++i) {
          const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
          const float x0 = v[a], x1 = v[b];
          v[a] = x0 * cs[i] - x1 * sn[i];
          v[b] = x0 * sn[i] + x1 * cs[i];
        }
      }
    }
  });
}

void softmax_rows(float* x, int64_t rows, int64_t n) {
  const float ninf = -std::numeric_limits<float>::infinity();
  parallel_for(rows, grain_rows(n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* v = x + r * n;
      float mx = ninf;
      bool nan = false;
      for (int64_t i = 0; i < n; ++i) {
        nan |= std::isnan(v[i]);
        mx = std::max(mx, v[i]);
      }
      if (nan) {  // softmax over a NaN is NaN (numpy, PyTorch): never mistake it for a masked row
        std::fill(v, v + n, std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      if (mx == ninf) {  // fully masked row (every entry -inf): all zeros rather than NaN
        std::fill(v, v + n, 0.0f);
        continue;
      }
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const float e = v[i] == ninf ? 0.0f : std::exp(v[i] - mx);
        v[i] = e;
        sum += e;
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t i = 0; i < n; ++i) v[i] *= inv;
    }
  });
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  parallel_for(
      n, kGrainElems,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const float g = gate[i];
          out[i] = g / (1.0f + std::exp(-g)) * up[i];
        }
      },
      kFloatsPerLine);
}

void silu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void gelu_tanh(float* x, int64_t n) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2/pi)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
  }
}

void add(float* y, const float* x, int64_t n) {
  parallel_for(
      n, 4 * kGrainElems,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) y[i] += x[i];
      },
      kFloatsPerLine);
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) y[r * n + i] += bias[i];
}

}  // namespace attnscope::ops
