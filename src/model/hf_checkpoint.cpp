#include "model/hf_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/error.h"
#include "attnscope/warnings.h"
#include "formats/load_progress.h"
#include "model/loaders.h"

namespace attnscope {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

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
  if (c.rope_dim % 2 != 0)
    fail(ErrorKind::Format, where + ": rotary dimension " + std::to_string(c.rope_dim) + " is odd");
}

// HF name -> (table row, canonical name) for every weight of this config.
std::map<std::string, std::pair<const detail::WeightSpec*, std::string>> hf_index(
    const std::vector<detail::WeightSpec>& table, const ModelConfig& c) {
  std::map<std::string, std::pair<const detail::WeightSpec*, std::string>> out;
  for (const auto& w : table) {
    if (w.hf.empty()) continue;
    const bool per_layer = w.gguf.find("{L}") != std::string::npos;
    for (int l = 0; l < (per_layer ? c.n_layer : 1); ++l)
      out[detail::layer_name(w.hf, l)] = {&w, detail::layer_name(w.gguf, l)};
  }
  return out;
}

bool ignored(const detail::ArchSpec& arch, const std::string& name) {
  for (const auto& suffix : arch.hf_ignored)
    if (name.ends_with(suffix)) return true;
  return false;
}

}  // namespace

HfConfig parse_hf_config(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorKind::Format, where + " is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) fail(ErrorKind::Format, where + " is not a JSON object");
  HfConfig out;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    out.hf_arch = j["architectures"][0].get<std::string>();
  const std::string model_type =
      j.contains("model_type") && j["model_type"].is_string() ? j["model_type"].get<std::string>() : "";
  const detail::ArchSpec& arch = detail::arch_for_hf(out.hf_arch, model_type, where);
  ModelConfig& c = out.model;
  c.arch = arch.name;
  arch.from_hf(detail::JsonKeys(j, where, out.hf_arch.empty() ? model_type : out.hf_arch, &c.assumed), c);
  check_positive(c, where);
  if (j.contains("bos_token_id")) out.bos_id = first_token_id(j["bos_token_id"]);
  if (j.contains("eos_token_id")) out.eos_id = first_token_id(j["eos_token_id"]);
  out.quant = parse_hf_quantization(j, where);
  return out;
}

HfConfig read_hf_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::NotFound, "cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_hf_config(ss.str(), path);
}

std::optional<HfTensorTarget> map_hf_tensor(const std::string& hf_name, const ModelConfig& c) {
  const detail::ArchSpec& arch = detail::arch_of(c);
  if (ignored(arch, hf_name)) return std::nullopt;
  const auto table = arch.weights(c);
  const auto index = hf_index(table, c);
  std::string name = hf_name;
  if (!arch.hf_optional_prefix.empty() && name.rfind(arch.hf_optional_prefix, 0) == 0)
    name = name.substr(arch.hf_optional_prefix.size());
  auto it = index.find(name);
  if (it == index.end())
    fail(ErrorKind::Unsupported,
         "tensor '" + hf_name + "' is not part of a " + c.arch + " model as attnscope knows it");
  return HfTensorTarget{it->second.second, it->second.first->hf_transform};
}

HfCheckpoint read_hf_checkpoint(const std::string& dir, const std::string& dtype, bool mmap) {
  HfCheckpoint ck;
  ck.dir = dir;
  const fs::path cfg_path = fs::path(dir) / "config.json";
  if (!fs::exists(cfg_path)) fail(ErrorKind::NotFound, "no config.json in " + dir);
  ck.hf = read_hf_config(cfg_path.string());
  ModelConfig& c = ck.hf.model;
  if (c.name.empty() || c.name.find('/') == 0) c.name = fs::path(dir).filename().string();
  const detail::ArchSpec& arch = detail::arch_of(c);
  const auto table = arch.weights(c);
  const auto index = hf_index(table, c);

  std::map<std::string, HfStoredTensor> stored = open_hf_tensors(dir, ck.hf.quant);
  // The weights' float32 size decides "auto" before anything is decoded; their size in the files
  // decides whether stored matrices are read into memory.
  uint64_t decoded = 0, file_bytes = 0;
  for (const auto& [hf_name, t] : stored) {
    if (!t.alias_of.empty()) continue;  // its bytes are counted once, under the stored name
    file_bytes += t.nbytes();
    if (ignored(arch, hf_name)) continue;
    detail::refuse_empty_weight(dir, hf_name, t.shape);
    decoded += static_cast<uint64_t>(shape_numel(t.shape)) * 4;
  }
  ck.dtype = detail::resolve_dtype(dtype, decoded);
  const bool keep_stored = ck.dtype != ComputeDtype::Float32;
  if (keep_stored && detail::weight_backing(mmap, file_bytes) == FileBacking::Memory)
    stored = open_hf_tensors(dir, ck.hf.quant, FileBacking::Memory);  // read on every run
  auto have = [&](const std::string& name) { return ck.weights.count(name) || ck.matrices.count(name); };
  uint64_t stored_bytes = 0;  // what is read (decoded, permuted or copied) on the way in
  for (const auto& [hf_name, t] : stored)
    if (t.alias_of.empty()) stored_bytes += t.nbytes();
  detail::LoadProgress progress(fs::path(dir).filename().string(), stored_bytes);

  for (const auto& [hf_name, raw] : stored) {
    if (raw.alias_of.empty()) progress.advance(raw.nbytes());
    if (ignored(arch, hf_name)) continue;
    std::string name = hf_name;
    if (!arch.hf_optional_prefix.empty() && name.rfind(arch.hf_optional_prefix, 0) == 0)
      name = name.substr(arch.hf_optional_prefix.size());
    auto it = index.find(name);
    if (it == index.end())
      fail(ErrorKind::Unsupported, dir + ": tensor '" + hf_name + "' is not part of a " + c.arch +
                                       " model with this config.json as attnscope knows it");
    const auto& [spec, canonical] = it->second;
    const std::string where = dir + ": tensor '" + hf_name + "'";
    if (have(canonical))
      fail(ErrorKind::Format, where + " maps to " + canonical + ", which another tensor already gave");
    std::optional<StoredWeight> m;
    if (keep_stored)
      if (std::optional<StoredWeight> w = raw.stored())
        m = detail::hf_transform_stored(*w, spec->hf_transform, c, where);
    Tensor t;
    if (!m) t = detail::hf_transform(raw.to_tensor(), spec->hf_transform, c, where);
    const Shape got = m ? m->shape() : t.shape();
    if (got != spec->shape)
      fail(ErrorKind::Format, where + " (" + canonical + ") has shape " +
                                  Tensor::view(got, nullptr, nullptr).shape_str() + " but config.json implies " +
                                  Tensor::view(spec->shape, nullptr, nullptr).shape_str());
    if (m)
      ck.matrices.emplace(canonical, std::move(*m));
    else
      ck.weights.emplace(canonical, std::move(t));
  }

  // An absent head means tied (GPT2Model and many small checkpoints store none); a stored copy
  // of a declared-tied head is dropped. When config.json says the head is NOT tied, a missing head
  // is a broken checkpoint: transformers warns and initialises a random head; attnscope warns and
  // ties (the only head it has).
  if (!have("output.weight")) {
    if (!c.tied_embeddings)
      warn("model.untied_head_missing",
           "checkpoint " + dir +
               ": config.json says tie_word_embeddings: false, but there is no lm_head weight; "
               "using the input embedding as the output head (transformers would initialise a random one)");
    c.tied_embeddings = true;
  } else if (c.tied_embeddings) {
    ck.weights.erase("output.weight");
    ck.matrices.erase("output.weight");
  }
  for (const auto& w : table) {
    if (!w.required || w.hf.empty()) continue;
    if (c.tied_embeddings && w.gguf == "output.weight") continue;  // the table was made before tying
    const bool per_layer = w.gguf.find("{L}") != std::string::npos;
    for (int l = 0; l < (per_layer ? c.n_layer : 1); ++l)
      if (!have(detail::layer_name(w.gguf, l)))
        fail(ErrorKind::NotFound, "checkpoint " + dir + " lacks the weight " + detail::layer_name(w.hf, l) + " (" +
                                      detail::layer_name(w.gguf, l) + ") that a " + c.arch +
                                      " model with this config.json needs");
  }
  return ck;
}

}  // namespace attnscope
