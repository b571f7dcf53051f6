// Reads config.json and the safetensors weights, dequantises MLX weights, renames and permutes.
#include "formats/hf_checkpoint.h"

#include <filesystem>
#include <set>

#include "attnscope/error.h"
#include "attnscope/warnings.h"
#include "formats/mlx.h"
#include "formats/safetensors.h"

namespace attnscope {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Tensor transpose2d(const Tensor& w, const std::string& where) {
  if (w.ndim() != 2) fail(ErrorKind::Format, where + ": expected a 2-d weight, got " + w.shape_str());
  const int64_t r = w.dim(0), c = w.dim(1);
  Tensor out(Shape{c, r});
  const float* s = w.data();
  float* d = out.data();
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) d[j * r + i] = s[i * c + j];
  return out;
}

// The shape each canonical tensor must have under `c` (empty: no check for this name).
Shape expected_shape(const std::string& name, const ModelConfig& c) {
  const int64_t E = c.n_embd, V = c.n_vocab, F = c.n_ff, hd = c.head_dim;
  const int64_t q = c.n_head * hd, kv = c.n_head_kv * hd;
  auto is = [&](const char* s) { return ends_with(name, s); };
  if (name == "token_embd.weight" || name == "output.weight") return {V, E};
  if (name == "position_embd.weight") return {c.n_ctx, E};
  if (name.rfind("output_norm.", 0) == 0 || is(".attn_norm.weight") || is(".attn_norm.bias") ||
      is(".ffn_norm.weight") || is(".ffn_norm.bias") || is(".ffn_down.bias") || is(".attn_output.bias"))
    return {E};
  if (is(".attn_q.weight")) return {q, E};
  if (is(".attn_k.weight") || is(".attn_v.weight")) return {kv, E};
  if (is(".attn_q.bias")) return {q};
  if (is(".attn_k.bias") || is(".attn_v.bias")) return {kv};
  if (is(".attn_output.weight")) return {E, c.family == ArchFamily::Gpt2 ? E : q};
  if (is(".attn_qkv.weight")) return {3 * E, E};
  if (is(".attn_qkv.bias")) return {3 * E};
  if (is(".ffn_gate.weight") || is(".ffn_up.weight")) return {F, E};
  if (is(".ffn_up.bias")) return {F};
  if (is(".ffn_down.weight")) return {E, F};
  return {};
}

std::vector<std::string> required_names(const ModelConfig& c) {
  std::vector<std::string> out = {"token_embd.weight", "output_norm.weight"};
  const bool gpt2 = c.family == ArchFamily::Gpt2;
  if (gpt2) out.insert(out.end(), {"position_embd.weight", "output_norm.bias"});
  for (int L = 0; L < c.n_layer; ++L) {
    const std::string b = "blk." + std::to_string(L) + ".";
    if (gpt2) {
      for (const char* s : {"attn_norm", "attn_qkv", "attn_output", "ffn_norm", "ffn_up", "ffn_down"}) {
        out.push_back(b + s + ".weight");
        out.push_back(b + s + ".bias");
      }
    } else {
      for (const char* s : {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate",
                            "ffn_up", "ffn_down"})
        out.push_back(b + s + ".weight");
      if (c.qkv_bias)
        for (const char* s : {"attn_q", "attn_k", "attn_v"}) out.push_back(b + s + ".bias");
    }
  }
  return out;
}

}  // namespace

bool is_hf_checkpoint_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(fs::path(dir) / "config.json", ec);
}

HfCheckpoint read_hf_checkpoint(const std::string& dir) {
  HfCheckpoint ck;
  ck.dir = dir;
  const fs::path cfg_path = fs::path(dir) / "config.json";
  if (!fs::exists(cfg_path)) fail(ErrorKind::NotFound, "no config.json in " + dir);
  ck.hf = read_hf_config(cfg_path.string());
  ModelConfig& c = ck.hf.model;
  if (c.name.empty() || c.name.find('/') == 0) c.name = fs::path(dir).filename().string();

  const SafetensorsCheckpoint st = SafetensorsCheckpoint::open_dir(dir);
  const HfQuantization& quant = ck.hf.quant;
  std::set<std::string> consumed;  // MLX scales/biases eaten by their weight
  for (const std::string& name : st.names()) {
    if (consumed.count(name)) continue;
    const SafetensorsTensorInfo& info = st.at(name);
    const std::string where = st.file_of(name).path() + ": tensor '" + name + "'";
    Tensor t;
    if (ends_with(name, ".scales") || ends_with(name, ".biases")) {
      const std::string module = name.substr(0, name.size() - 7);
      if (!st.find(module + ".weight"))
        fail(ErrorKind::Format, where + " has no matching " + module + ".weight");
      continue;  // handled with its weight (names are visited in sorted order, so mark below)
    }
    if (ends_with(name, ".weight") && st.find(name.substr(0, name.size() - 7) + ".scales")) {
      const std::string module = name.substr(0, name.size() - 7);
      if (!quant.enabled())
        fail(ErrorKind::Format, where + " has MLX scales but config.json has no 'quantization'");
      auto [gs, bits] = quant.for_module(module);
      if (bits == 0) fail(ErrorKind::Format, where + " is quantised but config.json says module " + module + " is not");
      const SafetensorsTensorInfo* bi = st.find(module + ".biases");
      if (!bi) fail(ErrorKind::Format, where + ": MLX scales without biases");
      t = mlx_dequantize(info, st.load_tensor(module + ".scales"), st.load_tensor(module + ".biases"), bits, gs, where);
      consumed.insert(module + ".scales");
      consumed.insert(module + ".biases");
    } else {
      t = st_to_tensor(info, st.file_of(name).keepalive());
    }
    auto target = map_hf_tensor(name, c);
    if (!target) continue;
    switch (target->transform) {
      case HfTransform::None: break;
      case HfTransform::PermuteQ: t = permute_rope_rows(t, c.n_head); break;
      case HfTransform::PermuteK: t = permute_rope_rows(t, c.n_head_kv); break;
      case HfTransform::Transpose: t = transpose2d(t, where); break;
    }
    const Shape want = expected_shape(target->canonical, c);
    if (!want.empty() && t.shape() != want)
      fail(ErrorKind::Format, where + " (" + target->canonical + ") has shape " + t.shape_str() +
                                  " but config.json implies " + Tensor::view(want, nullptr, nullptr).shape_str());
    if (!ck.weights.emplace(target->canonical, std::move(t)).second)
      fail(ErrorKind::Format, where + " maps to " + target->canonical + ", which another tensor already gave");
  }

  // An absent head means tied (GPT2Model and many small checkpoints store none). When config.json
  // says the head is NOT tied, that is a broken checkpoint: transformers warns and initialises a
  // random head; attnscope warns and ties (the only head it has).
  if (!ck.weights.count("output.weight")) {
    if (!ck.hf.tie_declared)
      warn("model.untied_head_missing",
           "checkpoint " + dir + ": config.json says tie_word_embeddings: false, but there is no lm_head weight; "
           "using the input embedding as the output head (transformers would initialise a random one)");
    c.tied_embeddings = true;
  }
  else if (ck.hf.tie_declared) ck.weights.erase("output.weight");  // stored copy of a tied head
  for (const std::string& req : required_names(c))
    if (!ck.weights.count(req))
      fail(ErrorKind::NotFound, "checkpoint " + dir + " lacks the weight " + req + " that a " + c.arch +
                                    " model with this config.json needs");
  return ck;
}

}  // namespace attnscope
