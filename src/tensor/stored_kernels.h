// SIMD kernels behind StoredWeight (Highway, dispatched at run time to the best target the CPU
// supports: AVX-512, AVX2, SSE4, ...). Private to the library.
//
// Decoders with their own SIMD code: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, MLX 4/8-bit.
// Every other GGUF type (Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, Q8_1) is decoded by the scalar
// attnscope::dequantize, block by block into a small buffer, so every type works on every path.
#pragma once
#include <cstdint>

#include "tensor/stored_weight.h"

namespace attnscope::kernels {

// Rows [r0, r1) of W decoded into dst (row stride W.cols), as float32 / as bfloat16 bits.
void dequant_rows_f32(const StoredWeight& W, int64_t r0, int64_t r1, float* dst);
void dequant_rows_bf16(const StoredWeight& W, int64_t r0, int64_t r1, uint16_t* dst);

// y[m, n] (+)= x[m, :] · W[n, :] (+ bias[n]) for n in [r0, r1) and m < M; x rows are W.cols long,
// y rows ldy long. `scratch` holds W.cols floats (one decoded row).
void gemv_rows(const StoredWeight& W, int64_t r0, int64_t r1, const float* x, int64_t M, const float* bias, float* y,
               int64_t ldy, bool accumulate, float* scratch);

// Generation with integer dot products (bfloat16 compute): x rows [M, K] quantised to int8 codes
// with one scale per `block` values (d: M*K/block entries) and the codes'
// sum per 32 values (sum: M*K/32), then y[m, n] (+)= x[m, :] · W[n, :] (+ bias[n]) for Q8_0, Q4_0,
// Q4_K and Q6_K rows (has_int8_gemv). The block is int8_gemv_block(W): 32 for Q8_0/Q4_0, 256 (one
// scale per super-block, as llama.cpp's Q8_K) for Q4_K/Q6_K, whose sub-block scales are integers.
bool has_int8_gemv(const StoredWeight& W);
int64_t int8_gemv_block(const StoredWeight& W);
void quantize_rows_q8(const float* x, int64_t M, int64_t K, int64_t block, int8_t* q, float* d, int32_t* sum);
void gemv_rows_int8(const StoredWeight& W, int64_t r0, int64_t r1, const int8_t* xq, const float* xd, const int32_t* xs,
                    int64_t M, const float* bias, float* y, int64_t ldy, bool accumulate);

// float32 -> bfloat16 bits, rounded to nearest even.
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);
// bfloat16 bits -> float32 (exact).
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);

// Name of the Highway target the kernels run on ("AVX3", "AVX2", ...).
const char* target_name();

}  // namespace attnscope::kernels
