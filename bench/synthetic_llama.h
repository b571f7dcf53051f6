// The synthetic model both end-to-end benchmarks run: the exact shapes of Llama-3.2-1B with
// deterministic random weights, generated row by row while the GGUF is written (it never exists
// in memory as a whole), plus the small timing helpers they share.
#pragma once
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/tensor.h"

namespace bench {
using namespace attnscope;

constexpr int kLayers = 16, kEmbd = 2048, kHeads = 32, kKvHeads = 8, kFf = 8192, kVocab = 128256;
constexpr int kHeadDim = kEmbd / kHeads;

inline uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [-scale, scale), deterministic per (tensor, row).
inline GgufWriter::RowFill random_rows(uint64_t seed, int64_t row_len, float scale) {
  return [=](float* dst, int64_t first_row, int64_t n_rows) {
    for (int64_t r = 0; r < n_rows; ++r) {
      uint64_t s = mix(seed * 1000003ull + static_cast<uint64_t>(first_row + r));
      for (int64_t i = 0; i < row_len; ++i) {
        s = mix(s);
        dst[r * row_len + i] = (static_cast<float>(s >> 40) / static_cast<float>(1ull << 24) * 2.0f - 1.0f) * scale;
      }
    }
  };
}

inline GgufWriter::RowFill constant_rows(int64_t row_len, float value) {
  return [=](float* dst, int64_t, int64_t n_rows) { std::fill(dst, dst + n_rows * row_len, value); };
}

// The type of each matrix in a file of llama.cpp file type `ftype` ("F32", "F16", "BF16", "Q8_0",
// "Q4_K_M", ...): the library's llama-quantize recipe (gguf_recipe_type).
inline GgmlType matrix_type(const std::string& ftype, const std::string& name, int layer) {
  const std::string full = layer < 0 ? name + ".weight" : "blk." + std::to_string(layer) + "." + name + ".weight";
  return gguf_recipe_type(ftype, full, kLayers, name == "ffn_down" ? kFf : kEmbd);
}

// Writes the model with random weights; with_rope_freqs adds llama3-style frequency divisors.
inline void write_model(const std::string& path, const std::string& ftype, bool with_rope_freqs = true) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "synthetic-llama-3.2-1b-shapes");
  w.set_u32("llama.block_count", kLayers);
  w.set_u32("llama.context_length", 131072);
  w.set_u32("llama.embedding_length", kEmbd);
  w.set_u32("llama.feed_forward_length", kFf);
  w.set_u32("llama.attention.head_count", kHeads);
  w.set_u32("llama.attention.head_count_kv", kKvHeads);
  w.set_u32("llama.rope.dimension_count", kHeadDim);
  w.set_f32("llama.rope.freq_base", 500000.0f);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  // No tokenizer, said the way llama.cpp reads it (it needs the vocabulary size then), so
  // llama-bench runs the same file.
  w.set_string("tokenizer.ggml.model", "no_vocab");
  w.set_u32("llama.vocab_size", kVocab);
  uint64_t seed = 1;
  const float s_embd = 1.0f / std::sqrt(static_cast<float>(kEmbd)), s_ff = 1.0f / std::sqrt(static_cast<float>(kFf));
  w.add_tensor_generated("token_embd.weight", {kVocab, kEmbd}, matrix_type(ftype, "token_embd", -1),
                         random_rows(seed++, kEmbd, 0.5f));
  w.add_tensor_generated("output_norm.weight", {kEmbd}, GgmlType::F32, constant_rows(kEmbd, 1.0f));
  // llama3 scaling: per-frequency divisors between 1 and 8.
  if (with_rope_freqs) {
    std::vector<float> freqs(kHeadDim / 2);
    for (size_t i = 0; i < freqs.size(); ++i) freqs[i] = 1.0f + 7.0f * static_cast<float>(i) / (freqs.size() - 1);
    w.add_tensor("rope_freqs.weight", Tensor({kHeadDim / 2}, freqs), GgmlType::F32);
  }
  for (int l = 0; l < kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    w.add_tensor_generated(b + "attn_norm.weight", {kEmbd}, GgmlType::F32, constant_rows(kEmbd, 1.0f));
    w.add_tensor_generated(b + "ffn_norm.weight", {kEmbd}, GgmlType::F32, constant_rows(kEmbd, 1.0f));
    w.add_tensor_generated(b + "attn_q.weight", {kEmbd, kEmbd}, matrix_type(ftype, "attn_q", l),
                           random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "attn_k.weight", {kKvHeads * kHeadDim, kEmbd}, matrix_type(ftype, "attn_k", l),
                           random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "attn_v.weight", {kKvHeads * kHeadDim, kEmbd}, matrix_type(ftype, "attn_v", l),
                           random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "attn_output.weight", {kEmbd, kEmbd}, matrix_type(ftype, "attn_output", l),
                           random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "ffn_gate.weight", {kFf, kEmbd}, matrix_type(ftype, "ffn_gate", l),
                           random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "ffn_up.weight", {kFf, kEmbd}, matrix_type(ftype, "ffn_up", l),
                           random_rows(seed++, kEmbd, s_embd));
    w.add_tensor_generated(b + "ffn_down.weight", {kEmbd, kFf}, matrix_type(ftype, "ffn_down", l),
                           random_rows(seed++, kFf, s_ff));
  }
  w.write(path);
}

inline void write_model(const std::string& path, GgmlType type, bool with_rope_freqs = true) {
  write_model(path, ggml_type_name(type), with_rope_freqs);
}

inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a;
  std::getline(in, a);
  return a;
}

}  // namespace bench
