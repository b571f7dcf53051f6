#include "model/config_keys.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "attnscope/error.h"

namespace attnscope::detail {

using json = nlohmann::json;

int GgufKeys::get_int(const std::string& key, std::optional<int64_t> fallback, int64_t lo, int64_t hi) const {
  const std::string k = prefix_ + key;
  std::optional<int64_t> v = f_.has(k) ? f_.get_int(k) : fallback;
  if (!v) fail(ErrorKind::Format, path() + ": metadata key '" + k + "' is missing");
  if (*v < lo || *v > hi)
    fail(ErrorKind::Format, path() + ": metadata '" + k + "' = " + std::to_string(*v) + " is out of range [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(*v);
}

std::optional<double> GgufKeys::get_float(const std::string& key) const {
  const std::string k = prefix_ + key;
  if (!f_.has(k)) return std::nullopt;
  std::optional<double> v = f_.get_float(k);
  if (!v || !std::isfinite(*v)) fail(ErrorKind::Format, path() + ": metadata '" + k + "' is not a finite number");
  return v;
}

std::optional<bool> GgufKeys::get_bool(const std::string& key) const {
  const std::string k = prefix_ + key;
  if (!f_.has(k)) return std::nullopt;
  return f_.get(k).as_bool();
}

std::optional<std::string> GgufKeys::get_string(const std::string& key) const {
  const std::string k = prefix_ + key;
  return f_.has(k) ? f_.get_string(k) : std::nullopt;
}

bool JsonKeys::has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

bool JsonKeys::is_null(const char* key) const { return j_.contains(key) && j_.at(key).is_null(); }

void JsonKeys::assume(const std::string& what) const {
  if (assumed_ && std::find(assumed_->begin(), assumed_->end(), what) == assumed_->end()) assumed_->push_back(what);
}

void JsonKeys::assumed(const char* key, const std::string& value) const {
  assume("config.json '" + std::string(key) + "' = " + value + (is_null(key) ? " (null" : " (absent") +
         ": transformers' default)");
}

int JsonKeys::get_int(const char* key, int fallback) const {
  if (has(key)) return get_int(key);
  assumed(key, std::to_string(fallback));
  return fallback;
}

int JsonKeys::get_int(const char* key) const {
  if (!has(key)) fail(ErrorKind::Format, where_ + ": missing '" + key + "'");
  const nlohmann::json& v = j_.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1LL << 31) - 1)
    fail(ErrorKind::Format, where_ + ": '" + key + "' is not a non-negative integer");
  return static_cast<int>(v.get<int64_t>());
}

double JsonKeys::get_float(const char* key, double fallback) const {
  if (!has(key)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", fallback);
    assumed(key, buf);
    return fallback;
  }
  const nlohmann::json& v = j_.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    fail(ErrorKind::Format, where_ + ": '" + key + "' is not a number");
  return v.get<double>();
}

bool JsonKeys::get_bool(const char* key, bool fallback) const {
  if (!has(key)) {
    assumed(key, fallback ? "true" : "false");
    return fallback;
  }
  const nlohmann::json& v = j_.at(key);
  if (!v.is_boolean()) fail(ErrorKind::Format, where_ + ": '" + key + "' is not true/false");
  return v.get<bool>();
}

std::string JsonKeys::get_string(const char* key, const std::string& fallback) const {
  if (!has(key)) {
    if (!fallback.empty()) assumed(key, "\"" + fallback + "\"");
    return fallback;
  }
  const nlohmann::json& v = j_.at(key);
  if (!v.is_string()) fail(ErrorKind::Format, where_ + ": '" + key + "' is not a string");
  return v.get<std::string>();
}

void read_gguf_common(const GgufKeys& k, ModelConfig& c, bool ff_default_4d) {
  const GgufFile& f = k.file();
  constexpr int64_t kMaxDim = 1 << 20;
  c.name = f.get_string("general.name").value_or(std::filesystem::path(f.path()).stem().string());
  c.n_layer = k.get_int("block_count", std::nullopt, 1, 10000);
  c.n_embd = k.get_int("embedding_length", std::nullopt, 1, kMaxDim);
  c.n_ff = k.get_int("feed_forward_length",
                     ff_default_4d ? std::optional<int64_t>(4 * int64_t{c.n_embd}) : std::nullopt, 1, 16 * kMaxDim);
  c.n_head = k.get_int("attention.head_count", std::nullopt, 1, 65536);
  c.n_head_kv = k.get_int("attention.head_count_kv", c.n_head, 1, c.n_head);
  if (c.n_head % c.n_head_kv != 0)
    fail(ErrorKind::Format, k.path() + ": head_count " + std::to_string(c.n_head) +
                                " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
  c.head_dim = k.get_int("attention.key_length", c.n_embd / c.n_head, 1, kMaxDim);
  if (c.head_dim < 1) fail(ErrorKind::Format, k.path() + ": head dimension must be positive");
  c.rope_dim = k.get_int("rope.dimension_count", c.head_dim, 0, c.head_dim);
  if (c.rope_dim % 2 != 0) fail(ErrorKind::Format, k.path() + ": rope.dimension_count must be even");
  c.n_ctx = k.get_int("context_length", 0, 0, INT32_MAX);
  if (auto base = k.get_float("rope.freq_base")) {
    if (!(*base > 0)) fail(ErrorKind::Format, k.path() + ": rope.freq_base must be positive");
    c.rope_base = static_cast<float>(*base);
  }
  const char* eps_key =
      c.norm == NormKind::RMSNorm ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon";
  if (auto eps = k.get_float(eps_key)) {
    if (!(*eps >= 0)) fail(ErrorKind::Format, k.path() + ": norm epsilon must be >= 0");
    c.norm_eps = static_cast<float>(*eps);
  }
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) fail(ErrorKind::Format, f.path() + ": tensor 'token_embd.weight' is missing");
  if (embd->ne.size() != 2 || embd->ne[0] != c.n_embd)
    fail(ErrorKind::Format, f.path() + ": token_embd.weight has " + std::to_string(embd->ne.size()) +
                                " dims / row length " + std::to_string(embd->ne.empty() ? 0 : embd->ne[0]) +
                                ", expected [n_vocab, " + std::to_string(c.n_embd) + "]");
  c.n_vocab = static_cast<int>(embd->ne[1]);
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr || f.find_tensor("blk.0.attn_qkv.bias") != nullptr;

  // RoPE scaling: llama3 stores per-frequency divisors in the rope_freqs tensor; "linear"
  // scaling (positions / factor) is the same thing with one divisor for every frequency.
  if (const GgufTensorInfo* rf = f.find_tensor("rope_freqs.weight")) {
    if (rf->numel() != c.rope_dim / 2)
      fail(ErrorKind::Format, f.path() + ": rope_freqs.weight has " + std::to_string(rf->numel()) +
                                  " entries, expected rope_dim/2 = " + std::to_string(c.rope_dim / 2));
    const Tensor t = f.load_tensor("rope_freqs.weight");
    c.rope_freq_factors.assign(t.data(), t.data() + t.numel());
    for (float v : c.rope_freq_factors)
      if (!(v > 0) || !std::isfinite(v))
        fail(ErrorKind::Format, f.path() + ": rope_freqs.weight has a non-positive entry");
  }
  if (auto type = k.get_string("rope.scaling.type")) {
    if (*type == "linear") {
      double factor = k.get_float("rope.scaling.factor", 1.0);
      if (!(factor > 0)) fail(ErrorKind::Format, f.path() + ": rope.scaling.factor must be positive");
      if (c.rope_freq_factors.empty()) c.rope_freq_factors.assign(static_cast<size_t>(c.rope_dim / 2), 1.0f);
      for (float& v : c.rope_freq_factors) v *= static_cast<float>(factor);
    } else if (*type != "none") {
      fail(ErrorKind::Unsupported, f.path() + ": rope scaling type '" + *type + "' is not supported");
    }
  }
}

namespace {

// transformers 5 writes rope_parameters (rope_theta, rope_type and the scaling keys in one
// object; per layer type for models with two RoPEs, e.g. {"full_attention": {...}}) where 4.x
// wrote rope_theta and rope_scaling. The object for global (full-attention) layers, or null.
const json* rope_parameters(const JsonKeys& k) {
  const json& j = k.json();
  if (!j.contains("rope_parameters") || j["rope_parameters"].is_null()) return nullptr;
  const json& rp = j["rope_parameters"];
  if (!rp.is_object()) fail(ErrorKind::Format, k.where() + ": rope_parameters is not an object");
  if (rp.contains("full_attention")) {
    if (!rp["full_attention"].is_object())
      fail(ErrorKind::Format, k.where() + ": rope_parameters.full_attention is not an object");
    return &rp["full_attention"];
  }
  return &rp;
}

void parse_rope_scaling(const JsonKeys& k, ModelConfig& c) {
  const json& j = k.json();
  const json* scaling = rope_parameters(k);
  if (!scaling && j.contains("rope_scaling") && !j["rope_scaling"].is_null()) scaling = &j["rope_scaling"];
  if (!scaling) return;
  const json& rs = *scaling;
  if (!rs.is_object()) fail(ErrorKind::Format, k.where() + ": rope_scaling is not an object");
  JsonKeys f{rs, k.where(), k.architecture()};
  std::string type = f.get_string("rope_type", f.get_string("type", ""));
  if (type == "default" || type.empty()) return;
  if ((type == "longrope" || type == "su") && c.arch == "phi3") return;  // arch_phi3.cpp reads it
  double factor = f.get_float("factor", 1.0);
  if (type == "llama3") {
    c.rope_freq_factors = llama3_rope_factors(
        c.rope_dim, c.rope_base, static_cast<float>(factor), static_cast<float>(f.get_float("low_freq_factor", 1.0)),
        static_cast<float>(f.get_float("high_freq_factor", 4.0)),
        static_cast<float>(f.get_float("original_max_position_embeddings", 8192.0)));
  } else if (type == "linear") {
    // Linear position interpolation = every frequency divided by the same factor.
    c.rope_freq_factors.assign(static_cast<size_t>(c.rope_dim / 2), static_cast<float>(factor));
  } else {
    fail(ErrorKind::Unsupported, k.where() + ": rope_scaling type '" + type +
                                     "' is not supported (llama3 and linear are" +
                                     (c.arch == "phi3" ? ", and longrope/su for Phi-3" : "") + ")");
  }
}

}  // namespace

void read_hf_common(const JsonKeys& k, ModelConfig& c, const HfDefaults& d) {
  // A null here reaches transformers' modules as None, where they fail (RMSNorm eps, the RoPE
  // base, a head_dim the class does not derive): refused rather than given a value.
  for (const char* key : {"rope_theta", "rms_norm_eps"})
    if (k.is_null(key)) fail(ErrorKind::Format, k.where() + ": '" + key + "' is null");
  if (d.head_dim && k.is_null("head_dim"))
    fail(ErrorKind::Format, k.where() + ": 'head_dim' is null (this architecture does not derive it)");
  c.name = k.get_string("_name_or_path", "");
  c.n_vocab = k.get_int("vocab_size");
  c.n_embd = k.get_int("hidden_size");
  c.n_layer = k.get_int("num_hidden_layers");
  c.n_head = k.get_int("num_attention_heads");
  // Every config class here turns a null num_key_value_heads into num_attention_heads ("for
  // backward compatibility"); only an absent one takes the class's default.
  c.n_head_kv = k.is_null("num_key_value_heads")
                    ? c.n_head
                    : k.get_int("num_key_value_heads", d.n_head_kv ? d.n_head_kv : c.n_head);
  // A head_dim derived from the other keys is read, not assumed; a class's fixed default is.
  c.head_dim =
      d.head_dim || k.has("head_dim") ? k.get_int("head_dim", d.head_dim) : (c.n_head > 0 ? c.n_embd / c.n_head : 0);
  c.n_ff = k.get_int("intermediate_size");
  c.n_ctx = k.get_int("max_position_embeddings", d.n_ctx);
  c.rope_dim = c.head_dim;
  const json* rp = rope_parameters(k);
  if (rp && rp->contains("rope_theta")) {
    c.rope_base = static_cast<float>(JsonKeys(*rp, k.where(), k.architecture()).get_float("rope_theta", d.rope_theta));
  } else {
    c.rope_base = static_cast<float>(k.get_float("rope_theta", d.rope_theta));
  }
  if (!(c.rope_base > 0)) fail(ErrorKind::Format, k.where() + ": rope_theta must be positive");
  c.norm_eps = static_cast<float>(k.get_float("rms_norm_eps", d.rms_norm_eps));
  if (!(c.norm_eps >= 0)) fail(ErrorKind::Format, k.where() + ": rms_norm_eps must not be negative");
  // Not every class has these switches (Mistral, Phi-3 and Qwen2 have neither): absent, they are
  // off without being listed as assumed.
  c.qkv_bias = k.has("attention_bias") && k.get_bool("attention_bias", false);
  if (k.has("mlp_bias") && k.get_bool("mlp_bias", false))
    fail(ErrorKind::Unsupported, k.where() + ": mlp_bias=true is not supported");
  // transformers' save_pretrained leaves tie_word_embeddings out when it equals both
  // PretrainedConfig's default and the class's (to_diff_dict): absent is the file saying so.
  c.tied_embeddings = k.has("tie_word_embeddings") ? k.get_bool("tie_word_embeddings", d.tied) : d.tied;
  parse_rope_scaling(k, c);
}

int hf_sliding_window(const JsonKeys& k, int fallback) {
  if (k.is_null("sliding_window")) return 0;
  if (!k.has("sliding_window")) {
    k.assume("config.json 'sliding_window' = " + (fallback ? std::to_string(fallback) : std::string("none")) +
             " (absent: transformers' default)");
    return fallback;
  }
  const int w = k.get_int("sliding_window");
  if (w == 0) fail(ErrorKind::Format, k.where() + ": sliding_window 0 would hide every key from every query");
  return w;
}

std::vector<bool> hf_layer_types(const JsonKeys& k, int n_layer, const std::vector<bool>& fallback) {
  if (!k.has("layer_types")) return fallback;
  const json& types = k.json()["layer_types"];
  if (!types.is_array() || static_cast<int>(types.size()) != n_layer)
    fail(ErrorKind::Format, k.where() + ": layer_types must list one entry per layer (" + std::to_string(n_layer) +
                                "), it has " + (types.is_array() ? std::to_string(types.size()) : "no list"));
  std::vector<bool> out;
  for (size_t i = 0; i < types.size(); ++i) {
    const json& t = types[i];
    if (t == "sliding_attention" || t == "full_attention") {
      out.push_back(t == "sliding_attention");
    } else {
      fail(ErrorKind::Unsupported, k.where() + ": layer_types[" + std::to_string(i) + "] is " + t.dump() +
                                       " (sliding_attention and full_attention are supported)");
    }
  }
  return out;
}

Activation hf_activation(const JsonKeys& k, const std::string& act, bool gated) {
  if (gated && act == "silu") return Activation::SwiGLU;
  if (gated && (act == "gelu_pytorch_tanh" || act == "gelu_new")) return Activation::GeGLU;
  if (!gated && (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast")) return Activation::GeluTanh;
  if (!gated && act == "gelu") return Activation::GeluErf;
  fail(ErrorKind::Unsupported, k.where() + ": activation '" + act + "' is not supported for " + k.architecture() +
                                   (gated ? " (silu, gelu_pytorch_tanh are)" : " (gelu, gelu_new are)"));
}

std::vector<float> llama3_rope_factors(int rope_dim, float rope_base, float factor, float low_freq_factor,
                                       float high_freq_factor, float original_max_pos) {
  // Frequencies with long wavelengths (relative to the original context) are slowed down by
  // `factor`, short ones kept, and the band in between blended smoothly (Meta's llama3 recipe).
  std::vector<float> out;
  const double low_wavelen = original_max_pos / low_freq_factor;
  const double high_wavelen = original_max_pos / high_freq_factor;
  for (int i = 0; i < rope_dim / 2; ++i) {
    double freq = std::pow(static_cast<double>(rope_base), -2.0 * i / rope_dim);
    double wavelen = 2.0 * M_PI / freq;
    double div;
    if (wavelen < high_wavelen) {
      div = 1.0;
    } else if (wavelen > low_wavelen) {
      div = factor;
    } else {
      double smooth = (original_max_pos / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      div = 1.0 / ((1.0 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(div));
  }
  return out;
}

}  // namespace attnscope::detail
