// A plain reference forward pass for llama-family GGUF files, written from the definitions with
// naive loops and its own RoPE, independent of the library's forward (shared by model tests).
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/tensor.h"

namespace test_reference {
using namespace attnscope;

// y[o] = sum_i W[o][i] x[i] with W row-major [out, in].
inline std::vector<float> matvec(const Tensor& W, const std::vector<float>& x) {
  const int64_t out = W.dim(0), in = W.dim(1);
  std::vector<float> y(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    double s = 0;
    for (int64_t i = 0; i < in; ++i) s += static_cast<double>(W.data()[o * in + i]) * x[i];
    y[o] = static_cast<float>(s);
  }
  return y;
}

inline std::vector<float> rmsnorm(const std::vector<float>& x, const Tensor& w, double eps) {
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double r = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = static_cast<float>(x[i] * r * w.data()[i]);
  return y;
}

// RoPE written from the definitions: llama.cpp's "normal" layout rotates pairs (2i, 2i+1), NeoX
// rotates (i, i + dim/2); angle pos * base^(-2i/dim) / factor_i.
inline void rope(std::vector<float>& v, int heads, int hd, int pos, double base, bool neox,
                 const std::vector<float>& factors) {
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < hd / 2; ++i) {
      const double th = pos * std::pow(base, -2.0 * i / hd) / (factors.empty() ? 1.0 : factors[i]);
      float& a = v[h * hd + (neox ? i : 2 * i)];
      float& b = v[h * hd + (neox ? i + hd / 2 : 2 * i + 1)];
      const double a0 = a, b0 = b;
      a = static_cast<float>(a0 * std::cos(th) - b0 * std::sin(th));
      b = static_cast<float>(a0 * std::sin(th) + b0 * std::cos(th));
    }
}

// Logits [T][V] for one sequence of a llama-family GGUF (llama, mistral: interleaved RoPE; qwen2:
// NeoX RoPE and q/k/v biases), token by token with explicit loops.
inline std::vector<std::vector<float>> reference_logits(const GgufFile& f, const std::vector<int32_t>& ids) {
  const std::string a = *f.get_string("general.architecture") + ".";
  const bool neox = a == "qwen2.";
  const int L = static_cast<int>(*f.get_int(a + "block_count"));
  const int D = static_cast<int>(*f.get_int(a + "embedding_length"));
  const int H = static_cast<int>(*f.get_int(a + "attention.head_count"));
  const int Hkv = static_cast<int>(f.get_int(a + "attention.head_count_kv").value_or(H));
  const int hd = D / H;
  const double eps = f.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5);
  const double base = f.get_float(a + "rope.freq_base").value_or(10000.0);
  std::vector<float> factors;
  if (f.find_tensor("rope_freqs.weight")) {
    const Tensor rf = f.load_tensor("rope_freqs.weight");
    factors.assign(rf.data(), rf.data() + rf.numel());
  }
  const Tensor emb = f.load_tensor("token_embd.weight");
  const int T = static_cast<int>(ids.size());
  std::vector<std::vector<float>> x(T);
  for (int t = 0; t < T; ++t) x[t].assign(emb.data() + ids[t] * D, emb.data() + (ids[t] + 1) * D);
  for (int l = 0; l < L; ++l) {
    auto w = [&](const std::string& n) { return f.load_tensor("blk." + std::to_string(l) + "." + n + ".weight"); };
    const Tensor wq = w("attn_q"), wk = w("attn_k"), wv = w("attn_v"), wo = w("attn_output"), an = w("attn_norm");
    const Tensor fn = w("ffn_norm"), wg = w("ffn_gate"), wu = w("ffn_up"), wd = w("ffn_down");
    auto add_bias = [&](std::vector<float>& y, const std::string& n) {
      const std::string name = "blk." + std::to_string(l) + "." + n + ".bias";
      if (!f.find_tensor(name)) return;
      const Tensor b = f.load_tensor(name);
      for (size_t i = 0; i < y.size(); ++i) y[i] += b.data()[i];
    };
    std::vector<std::vector<float>> q(T), k(T), v(T);
    for (int t = 0; t < T; ++t) {
      auto h = rmsnorm(x[t], an, eps);
      q[t] = matvec(wq, h);
      k[t] = matvec(wk, h);
      v[t] = matvec(wv, h);
      add_bias(q[t], "attn_q");
      add_bias(k[t], "attn_k");
      add_bias(v[t], "attn_v");
      rope(q[t], H, hd, t, base, neox, factors);
      rope(k[t], Hkv, hd, t, base, neox, factors);
    }
    for (int t = 0; t < T; ++t) {
      std::vector<float> z(static_cast<size_t>(H * hd), 0.0f);
      for (int h = 0; h < H; ++h) {
        const int kvh = h / (H / Hkv);
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (int j = 0; j <= t; ++j) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += static_cast<double>(q[t][h * hd + i]) * k[j][kvh * hd + i];
          s[j] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= t; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int j = 0; j <= t; ++j)
          for (int i = 0; i < hd; ++i) z[h * hd + i] += static_cast<float>(s[j] / sum * v[j][kvh * hd + i]);
      }
      auto o = matvec(wo, z);
      for (int i = 0; i < D; ++i) x[t][i] += o[i];
      auto h = rmsnorm(x[t], fn, eps);
      auto g = matvec(wg, h), u = matvec(wu, h);
      for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(g[i] / (1.0 + std::exp(-g[i])) * u[i]);
      auto d = matvec(wd, g);
      for (int i = 0; i < D; ++i) x[t][i] += d[i];
    }
  }
  const Tensor on = f.load_tensor("output_norm.weight");
  const Tensor out = f.find_tensor("output.weight") ? f.load_tensor("output.weight") : emb;
  std::vector<std::vector<float>> logits(T);
  for (int t = 0; t < T; ++t) logits[t] = matvec(out, rmsnorm(x[t], on, eps));
  return logits;
}

}  // namespace test_reference
