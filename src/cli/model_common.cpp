#include "cli/model_common.h"

#include <sstream>

#include "attnscope/error.h"

namespace attnscope::cli {

Model load_model(const Common& common) {
  LoadOptions opt;
  opt.threads = common.threads;
  opt.tokenizer = common.tokenizer;
  opt.dtype = common.dtype;
  opt.mmap = common.mmap;
  return Model::load(model_or_default(common), opt);
}

std::vector<int32_t> parse_id_list(const std::string& text) {
  std::vector<int32_t> ids;
  std::string item;
  std::string cleaned = text;
  for (char& ch : cleaned)
    if (ch == ',' || ch == '[' || ch == ']') ch = ' ';
  std::istringstream in(cleaned);
  while (in >> item) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < INT32_MIN || v > INT32_MAX)
      fail(ErrorKind::InvalidArgument, "token id '" + item + "' is not an integer");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

int32_t resolve_token(const Model& model, const std::string& text, int id, const std::string& what) {
  if (id >= 0) return id;
  if (text.empty()) return -1;
  auto ids = model.encode(text, false);
  if (ids.empty()) fail(ErrorKind::InvalidArgument, what + " '" + text + "' encodes to no token");
  return ids[0];
}

nlohmann::json config_json(const ModelConfig& c) {
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
  return j;
}

nlohmann::json captured_shapes_json(const Trace& trace) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : trace.captured()) j[name] = value.shape();
  return j;
}

}  // namespace attnscope::cli
