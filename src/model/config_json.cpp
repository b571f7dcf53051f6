// The config as JSON, for the front ends (`info --json`, Python's model.config).
#include <nlohmann/json.hpp>

#include "attnscope/model_config.h"

namespace attnscope {

std::string config_json(const ModelConfig& c) {
  nlohmann::json j;
  j["arch"] = c.arch;
  j["name"] = c.name;
  j["n_vocab"] = c.n_vocab;
  j["n_ctx"] = c.n_ctx;
  j["n_embd"] = c.n_embd;
  j["n_layer"] = c.n_layer;
  j["n_head"] = c.n_head;
  j["n_head_kv"] = c.n_head_kv;
  j["head_dim"] = c.head_dim;
  j["n_ff"] = c.n_ff;
  j["rope_dim"] = c.rope_dim;
  j["rope_base"] = c.rope_base;
  j["rope_layout"] = c.rope_layout == RopeLayout::Interleaved ? "interleaved" : "neox";
  j["rope_freq_factors"] = c.rope_freq_factors.size();
  j["norm"] = c.norm == NormKind::RMSNorm ? "rmsnorm" : "layernorm";
  j["norm_eps"] = c.norm_eps;
  j["activation"] = activation_name(c.act);
  j["qkv_bias"] = c.qkv_bias;
  j["tied_embeddings"] = c.tied_embeddings;
  j["features"] = architecture_features(c);
  return j.dump();
}

}  // namespace attnscope
