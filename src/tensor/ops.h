// Numerical kernels of the forward pass. Matrix products go through oneDNN (primitives cached by
// shape); the rest are plain loops over contiguous float rows. Private to the library.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attnscope::ops {

// y[M,N] = x[M,K] · W[N,K]^T (+ bias[N]): the nn.Linear / GGUF layout (W row-major [out, in]).
// If accumulate, adds into y instead of overwriting it.
void linear(const float* x, int64_t M, int64_t K, const float* W, int64_t N, const float* bias, float* y,
            bool accumulate = false);

// y[M, N] (rows ldy apart) = x[M, K] · W[N, K]^T (+= y if accumulate), x and W both float32 or
// both bfloat16 bits, f32 output; on `threads` threads (0: chosen by size as for linear()).
// Called with threads = 1 from inside parallel_for (stored-weight tiles).
enum class MatDtype { F32, BF16 };
void linear_typed(MatDtype dt, const void* x, int64_t M, int64_t K, const void* W, int64_t N, float* y, int64_t ldy,
                  bool accumulate, int threads);
// oneDNN runs bf16 products on native instructions here (AVX512-BF16 or AMX); elsewhere its
// bf16 path is an emulation slower than f32, and the stored-weight products stay f32.
bool has_native_bf16();
// oneDNN's effective ISA ("avx512_core_bf16", "avx2", ...), for benchmarks and tests.
std::string cpu_isa_name();

// A general (batched, strided) matmul dst = src · wei over up to 5 dims: the last two dims are
// the matrix dims (src [.., M, K], wei [.., K, N], dst [.., M, N]); leading batch dims of wei may
// be 1 to broadcast. Strides are in elements. Used for attention (scores, pattern·V) directly on
// the [B, T, H, Dh] activations without copies. threads as for linear_typed (0: by size; 1 from
// inside parallel_for).
struct MatView {
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;
};
void matmul(const MatView& src, const float* src_data, const MatView& wei, const float* wei_data, const MatView& dst,
            float* dst_data, int threads = 0);

// Cumulative seconds spent in oneDNN matmul calls since the last reset (for the benchmark).
double matmul_seconds();
void reset_matmul_seconds();
void set_matmul_timing(bool on);

// RMSNorm over rows of length D: y = x / sqrt(mean(x^2) + eps) * w.
void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t D, float eps);
// LayerNorm over rows: y = (x - mean) / sqrt(var + eps) * w + b (b may be null).
void layernorm(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t D, float eps);

// Rotary position embedding, in place, on `rows` rows each holding n_head heads of head_dim
// values; row r is at position positions[r]. Rotates the first rope_dim dims of each head, either
// pairs (2i, 2i+1) (interleaved) or (i, i + rope_dim/2) (neox). theta_i = pos * base^(-2i/rope_dim)
// / freq_factors[i] (freq_factors may be null).
void rope(float* x, int64_t rows, int n_head, int head_dim, const int32_t* positions, int rope_dim, float base,
          bool neox, const float* freq_factors);

// Row-wise softmax of `rows` rows of length n, in place. Entries equal to -inf get 0; a row that
// is entirely -inf (fully masked) becomes all 0. A row holding a NaN becomes all NaN, and a row
// whose maximum is +inf gives NaN (exp(inf - inf)), as numpy and PyTorch do.
void softmax_rows(float* x, int64_t rows, int64_t n);

void silu_mul(const float* gate, const float* up, float* out, int64_t n);  // out = silu(gate)*up
void silu(float* x, int64_t n);
void gelu_tanh(float* x, int64_t n);
void add(float* y, const float* x, int64_t n);  // y += x
void add_bias(float* y, const float* bias, int64_t rows, int64_t n);

}  // namespace attnscope::ops
