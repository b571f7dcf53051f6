// Typed, checked access to the two places a config comes from: GGUF metadata (keys under the
// file's architecture prefix, "<arch>.block_count") and config.json. Errors name the file and key.
// Also the readers of the keys most families share (dimensions, RoPE, norm epsilon).
#pragma once
#include <nlohmann/json_fwd.hpp>  // JSON is only named here: json.hpp is ~20k lines per includer
#include <optional>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/model_config.h"

namespace attnscope::detail {

class GgufKeys {
 public:
  GgufKeys(const GgufFile& file, std::string prefix) : f_(file), prefix_(std::move(prefix)) {}
  const GgufFile& file() const { return f_; }
  const std::string& path() const { return f_.path(); }
  // "<arch>." + key present?
  bool has(const std::string& key) const { return f_.has(prefix_ + key); }
  // An integer in [lo, hi]; `fallback` when absent (Format error if absent without one).
  int get_int(const std::string& key, std::optional<int64_t> fallback, int64_t lo, int64_t hi) const;
  // A finite float; `fallback` when absent.
  std::optional<double> get_float(const std::string& key) const;
  double get_float(const std::string& key, double fallback) const { return get_float(key).value_or(fallback); }
  std::optional<bool> get_bool(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;
  std::string full(const std::string& key) const { return prefix_ + key; }

 private:
  const GgufFile& f_;
  std::string prefix_;
};

class JsonKeys {
 public:
  JsonKeys(const nlohmann::json& j, std::string where, std::string architecture)
      : j_(j), where_(std::move(where)), arch_(std::move(architecture)) {}
  const nlohmann::json& json() const { return j_; }
  const std::string& where() const { return where_; }
  const std::string& architecture() const { return arch_; }  // architectures[0] (or from model_type)
  bool has(const char* key) const;
  int get_int(const char* key) const;  // Format error if missing or not a non-negative integer
  int get_int(const char* key, int fallback) const { return has(key) ? get_int(key) : fallback; }
  double get_float(const char* key, double fallback) const;
  bool get_bool(const char* key, bool fallback) const;
  std::string get_string(const char* key, const std::string& fallback) const;

 private:
  const nlohmann::json& j_;
  std::string where_, arch_;
};

// Dimensions, context, RoPE base/dimension/scaling, norm epsilon (RMS or LayerNorm key, as
// c.norm says), vocabulary size (from token_embd), tied head (no output.weight), q/k/v biases
// (blk.0.attn_q.bias or a fused blk.0.attn_qkv.bias).
// ff_default_4d: feed_forward_length defaults to 4 * embedding_length (GPT-2).
void read_gguf_common(const GgufKeys& k, ModelConfig& c, bool ff_default_4d = false);
// hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim,
// intermediate_size, max_position_embeddings, rope_theta, rope_scaling (llama3, linear),
// rms_norm_eps, tie_word_embeddings (default `tied_default`), attention_bias.
void read_hf_common(const JsonKeys& k, ModelConfig& c, bool tied_default);
// hidden_act / hidden_activation -> Activation (gated: SwiGLU/GeGLU; plain: GeluTanh/GeluErf).
Activation hf_activation(const JsonKeys& k, const std::string& act, bool gated);
// llama3 rope scaling: the per-frequency divisor for each of rope_dim/2 frequencies.
std::vector<float> llama3_rope_factors(int rope_dim, float rope_base, float factor, float low_freq_factor,
                                       float high_freq_factor, float original_max_pos);

}  // namespace attnscope::detail
