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

// config.json keys. A key that is absent or null takes the fallback, as the keyword default of
// the transformers config class does; with an `assumed` list, each fallback taken is appended to
// it ("'<key>' = <value> (absent: transformers' default)") for `attnscope info`. Keys whose null
// means something else (a window or a soft-cap switched off) are asked with is_null first.
class JsonKeys {
 public:
  JsonKeys(const nlohmann::json& j, std::string where, std::string architecture,
           std::vector<std::string>* assumed = nullptr)
      : j_(j), where_(std::move(where)), arch_(std::move(architecture)), assumed_(assumed) {}
  const nlohmann::json& json() const { return j_; }
  const std::string& where() const { return where_; }
  const std::string& architecture() const { return arch_; }  // architectures[0] (or from model_type)
  bool has(const char* key) const;                           // present and not null
  bool is_null(const char* key) const;                       // present as null
  int get_int(const char* key) const;                        // Format error if missing or not a non-negative integer
  int get_int(const char* key, int fallback) const;
  double get_float(const char* key, double fallback) const;
  bool get_bool(const char* key, bool fallback) const;
  std::string get_string(const char* key, const std::string& fallback) const;
  // Records a value taken without the file saying it (no-op without an `assumed` list).
  void assume(const std::string& what) const;

 private:
  void assumed(const char* key, const std::string& value) const;
  const nlohmann::json& j_;
  std::string where_, arch_;
  std::vector<std::string>* assumed_;
};

// A transformers config class's keyword defaults for the keys read_hf_common reads (each
// family passes its own class's). 0 for n_head_kv / head_dim: derived as transformers derives
// them when the key is absent or null (num_attention_heads; hidden_size / num_attention_heads).
struct HfDefaults {
  int n_head_kv = 0;
  int head_dim = 0;
  int n_ctx = 2048;  // max_position_embeddings
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tied = false;  // tie_word_embeddings
};

// Dimensions, context, RoPE base/dimension/scaling, norm epsilon (RMS or LayerNorm key, as
// c.norm says), vocabulary size (from token_embd), tied head (no output.weight), q/k/v biases
// (blk.0.attn_q.bias or a fused blk.0.attn_qkv.bias).
// ff_default_4d: feed_forward_length defaults to 4 * embedding_length (GPT-2).
void read_gguf_common(const GgufKeys& k, ModelConfig& c, bool ff_default_4d = false);
// hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim,
// intermediate_size, max_position_embeddings, rope_theta, rope_scaling (llama3, linear),
// rms_norm_eps, tie_word_embeddings, attention_bias; absent keys take `d`. transformers 5's
// rope_parameters object (rope_theta and the scaling in one) is read as rope_theta + rope_scaling.
// Format error for values that make the model degenerate (rope_theta <= 0, rms_norm_eps < 0).
void read_hf_common(const JsonKeys& k, ModelConfig& c, const HfDefaults& d);
// sliding_window: its value when present (Format error for 0, a window that hides every key),
// 0 (no window) when null, `fallback` when absent (0 meaning the class's default is None).
int hf_sliding_window(const JsonKeys& k, int fallback);
// Which layers use a sliding window, from transformers' layer_types ("sliding_attention" /
// "full_attention", one per layer) when config.json has it, else from `fallback` (the config
// class's own rule). Format error for a list of the wrong length or with another value.
std::vector<bool> hf_layer_types(const JsonKeys& k, int n_layer, const std::vector<bool>& fallback);
// hidden_act / hidden_activation -> Activation (gated: SwiGLU/GeGLU; plain: GeluTanh/GeluErf).
Activation hf_activation(const JsonKeys& k, const std::string& act, bool gated);
// llama3 rope scaling: the per-frequency divisor for each of rope_dim/2 frequencies.
std::vector<float> llama3_rope_factors(int rope_dim, float rope_base, float factor, float low_freq_factor,
                                       float high_freq_factor, float original_max_pos);

}  // namespace attnscope::detail
