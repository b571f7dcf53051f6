// config.json -> ModelConfig for the architectures attnscope runs.
#include "formats/hf_config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/error.h"

namespace attnscope {
namespace {

using json = nlohmann::json;

// Typed field access that names the file and key in errors.
struct Fields {
  const json& j;
  const std::string& where;

  bool has(const char* key) const { return j.contains(key) && !j.at(key).is_null(); }
  int get_int(const char* key) const {
    if (!has(key)) fail(ErrorKind::Format, where + ": missing '" + key + "'");
    const json& v = j.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1LL << 31) - 1)
      fail(ErrorKind::Format, where + ": '" + key + "' is not a non-negative integer");
    return static_cast<int>(v.get<int64_t>());
  }
  int get_int(const char* key, int dflt) const { return has(key) ? get_int(key) : dflt; }
  double get_float(const char* key, double dflt) const {
    if (!has(key)) return dflt;
    const json& v = j.at(key);
    if (!v.is_number()) fail(ErrorKind::Format, where + ": '" + key + "' is not a number");
    return v.get<double>();
  }
  bool get_bool(const char* key, bool dflt) const {
    if (!has(key)) return dflt;
    const json& v = j.at(key);
    if (!v.is_boolean()) fail(ErrorKind::Format, where + ": '" + key + "' is not true/false");
    return v.get<bool>();
  }
  std::string get_string(const char* key, const std::string& dflt) const {
    if (!has(key)) return dflt;
    const json& v = j.at(key);
    if (!v.is_string()) fail(ErrorKind::Format, where + ": '" + key + "' is not a string");
    return v.get<std::string>();
  }
};

int first_token_id(const json& v) {
  if (v.is_number_integer()) return static_cast<int>(v.get<int64_t>());
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return static_cast<int>(v[0].get<int64_t>());
  return -1;
}

void check_positive(const ModelConfig& c, const std::string& where) {
  auto need = [&](int v, const char* what) {
    if (v <= 0) fail(ErrorKind::Format, where + ": " + what + " must be positive");
  };
  need(c.n_vocab, "vocab size");
  need(c.n_embd, "hidden size");
  need(c.n_layer, "layer count");
  need(c.n_head, "head count");
  need(c.n_head_kv, "key/value head count");
  need(c.head_dim, "head dimension");
  need(c.n_ff, "feed-forward size");
  if (c.n_head % c.n_head_kv != 0)
    fail(ErrorKind::Format, where + ": " + std::to_string(c.n_head) + " heads is not a multiple of " +
                                std::to_string(c.n_head_kv) + " key/value heads");
  if (c.family == ArchFamily::Llama && c.rope_dim % 2 != 0)
    fail(ErrorKind::Format, where + ": rotary dimension " + std::to_string(c.rope_dim) + " is odd");
}

void parse_rope_scaling(const json& rs, ModelConfig& c, const std::string& where) {
  if (rs.is_null()) return;
  if (!rs.is_object()) fail(ErrorKind::Format, where + ": rope_scaling is not an object");
  Fields f{rs, where};
  std::string type = f.get_string("rope_type", f.get_string("type", ""));
  if (type == "default" || type.empty()) return;
  double factor = f.get_float("factor", 1.0);
  if (type == "llama3") {
    c.rope_freq_factors = llama3_rope_factors(
        c.rope_dim, c.rope_base, static_cast<float>(factor),
        static_cast<float>(f.get_float("low_freq_factor", 1.0)),
        static_cast<float>(f.get_float("high_freq_factor", 4.0)),
        static_cast<float>(f.get_float("original_max_position_embeddings", 8192.0)));
  } else if (type == "linear") {
    // Linear position interpolation = every frequency divided by the same factor.
    c.rope_freq_factors.assign(static_cast<size_t>(c.rope_dim / 2), static_cast<float>(factor));
  } else {
    fail(ErrorKind::Unsupported, where + ": rope_scaling type '" + type +
                                     "' is not supported (llama3 and linear are)");
  }
}

HfQuantization parse_quantization(const json& q, const std::string& where) {
  HfQuantization out;
  if (q.is_null() || (q.is_boolean() && !q.get<bool>())) return out;
  if (!q.is_object()) fail(ErrorKind::Format, where + ": 'quantization' is not an object");
  Fields f{q, where};
  std::string mode = f.get_string("mode", "affine");
  if (mode != "affine")
    fail(ErrorKind::Unsupported, where + ": MLX quantization mode '" + mode + "' is not supported (affine is)");
  out.group_size = f.get_int("group_size", 64);
  out.bits = f.get_int("bits", 4);
  auto check = [&](int gs, int bits, const std::string& what) {
    if (bits != 2 && bits != 4 && bits != 8)
      fail(ErrorKind::Unsupported, where + ": " + what + std::to_string(bits) +
                                       "-bit MLX quantization is not supported (2, 4 and 8 are)");
    if (gs <= 0) fail(ErrorKind::Format, where + ": " + what + "group_size must be positive");
  };
  check(out.group_size, out.bits, "");
  for (auto it = q.begin(); it != q.end(); ++it) {
    if (it.value().is_boolean()) {
      if (!it.value().get<bool>()) out.per_module[it.key()] = {0, 0};
    } else if (it.value().is_object()) {
      Fields m{it.value(), where};
      int gs = m.get_int("group_size", out.group_size), bits = m.get_int("bits", out.bits);
      check(gs, bits, "module " + it.key() + ": ");
      out.per_module[it.key()] = {gs, bits};
    }
  }
  return out;
}

}  // namespace

std::pair<int, int> HfQuantization::for_module(const std::string& module) const {
  auto it = per_module.find(module);
  if (it != per_module.end()) return it->second;
  return {group_size, bits};
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

HfConfig parse_hf_config(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorKind::Format, where + " is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) fail(ErrorKind::Format, where + " is not a JSON object");
  Fields f{j, where};

  HfConfig out;
  std::string arch;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    arch = j["architectures"][0].get<std::string>();
  const std::string model_type = f.get_string("model_type", "");
  if (arch.empty()) {
    static const std::map<std::string, std::string> by_type = {
        {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"},
        {"qwen2", "Qwen2ForCausalLM"}, {"gpt2", "GPT2LMHeadModel"}};
    auto it = by_type.find(model_type);
    if (it == by_type.end())
      fail(ErrorKind::Unsupported, where + ": no 'architectures' and model_type '" + model_type +
                                       "' is not one attnscope knows (llama, mistral, qwen2, gpt2)");
    arch = it->second;
  }
  out.hf_arch = arch;
  ModelConfig& c = out.model;
  c.name = f.get_string("_name_or_path", "");

  if (arch == "GPT2LMHeadModel" || arch == "GPT2Model") {
    c.arch = "gpt2";
    c.family = ArchFamily::Gpt2;
    c.n_vocab = f.get_int("vocab_size");
    c.n_embd = f.get_int("n_embd", 768);
    c.n_layer = f.get_int("n_layer", 12);
    c.n_head = f.get_int("n_head", 12);
    c.n_head_kv = c.n_head;
    c.n_ctx = f.get_int("n_positions", f.get_int("n_ctx", 1024));
    c.head_dim = c.n_head > 0 ? c.n_embd / c.n_head : 0;
    if (c.n_head > 0 && c.n_embd % c.n_head != 0)
      fail(ErrorKind::Format, where + ": n_embd is not a multiple of n_head");
    c.n_ff = f.get_int("n_inner", 4 * c.n_embd);
    c.rope_dim = 0;
    c.norm_eps = static_cast<float>(f.get_float("layer_norm_epsilon", 1e-5));
    c.norm = NormKind::LayerNorm;
    const std::string act = f.get_string("activation_function", "gelu_new");
    if (act != "gelu_new" && act != "gelu_pytorch_tanh" && act != "gelu_fast")
      fail(ErrorKind::Unsupported, where + ": GPT-2 activation '" + act +
                                       "' is not supported (gelu_new, the tanh approximation, is)");
    c.act = Activation::GeluTanh;
    c.qkv_bias = true;
    c.out_bias = true;
    if (f.get_bool("scale_attn_by_inverse_layer_idx", false) || f.get_bool("reorder_and_upcast_attn", false))
      fail(ErrorKind::Unsupported, where + ": GPT-2 variants with scale_attn_by_inverse_layer_idx or "
                                           "reorder_and_upcast_attn are not supported");
    if (!f.get_bool("scale_attn_weights", true))
      fail(ErrorKind::Unsupported, where + ": GPT-2 without scale_attn_weights is not supported");
    out.tie_declared = f.get_bool("tie_word_embeddings", true);
  } else if (arch == "LlamaForCausalLM" || arch == "MistralForCausalLM" || arch == "Qwen2ForCausalLM") {
    const bool qwen = arch == "Qwen2ForCausalLM";
    c.arch = qwen ? "qwen2" : arch == "MistralForCausalLM" ? "mistral" : "llama";
    c.family = ArchFamily::Llama;
    c.n_vocab = f.get_int("vocab_size");
    c.n_embd = f.get_int("hidden_size");
    c.n_layer = f.get_int("num_hidden_layers");
    c.n_head = f.get_int("num_attention_heads");
    c.n_head_kv = f.get_int("num_key_value_heads", c.n_head);
    c.head_dim = f.get_int("head_dim", c.n_head > 0 ? c.n_embd / c.n_head : 0);
    c.n_ff = f.get_int("intermediate_size");
    c.n_ctx = f.get_int("max_position_embeddings", 2048);
    c.rope_dim = c.head_dim;
    c.rope_base = static_cast<float>(f.get_float("rope_theta", 10000.0));
    c.rope_layout = qwen ? RopeLayout::NeoX : RopeLayout::Interleaved;
    c.norm_eps = static_cast<float>(f.get_float("rms_norm_eps", 1e-6));
    c.norm = NormKind::RMSNorm;
    const std::string act = f.get_string("hidden_act", "silu");
    if (act != "silu")
      fail(ErrorKind::Unsupported, where + ": hidden_act '" + act + "' is not supported (silu is)");
    c.act = Activation::SwiGLU;
    c.qkv_bias = qwen || f.get_bool("attention_bias", false);
    if (f.get_bool("mlp_bias", false))
      fail(ErrorKind::Unsupported, where + ": mlp_bias=true is not supported");
    if (j.contains("rope_scaling")) parse_rope_scaling(j["rope_scaling"], c, where);
    out.tie_declared = f.get_bool("tie_word_embeddings", false);
  } else {
    fail(ErrorKind::Unsupported,
         where + ": architecture '" + arch +
             "' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
             "GPT2LMHeadModel are; SmolLM is LlamaForCausalLM)");
  }
  c.tied_embeddings = out.tie_declared;
  check_positive(c, where);
  if (j.contains("bos_token_id")) out.bos_id = first_token_id(j["bos_token_id"]);
  if (j.contains("eos_token_id")) out.eos_id = first_token_id(j["eos_token_id"]);
  if (j.contains("quantization"))
    out.quant = parse_quantization(j["quantization"], where);
  else if (j.contains("quantization_config") && j["quantization_config"].is_object() &&
           j["quantization_config"].contains("bits") && !j["quantization_config"].contains("quant_method"))
    out.quant = parse_quantization(j["quantization_config"], where);  // MLX writes both
  else if (j.contains("quantization_config") && j["quantization_config"].is_object())
    fail(ErrorKind::Unsupported,
         where + ": quantization_config with quant_method '" +
             Fields{j["quantization_config"], where}.get_string("quant_method", "?") +
             "' is not supported (MLX affine quantization and unquantised checkpoints are)");
  return out;
}

HfConfig read_hf_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::NotFound, "cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_hf_config(ss.str(), path);
}

}  // namespace attnscope
