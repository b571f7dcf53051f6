#include "formats/hf_checkpoint.h"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <tuple>

#include "attnscope/error.h"
#include "formats/mlx.h"
#include "formats/safetensors.h"

namespace attnscope {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

int json_int(const json& j, const char* key, int dflt, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0 || j[key].get<int64_t>() > (1 << 30))
    fail(ErrorKind::Format, where + ": '" + key + "' is not a non-negative integer");
  return static_cast<int>(j[key].get<int64_t>());
}

// A tensor that several names share (a tied embedding and head) is saved once by safetensors'
// save_model, which transformers uses: the dropped name goes into __metadata__ as
// {"dropped": "kept"} (e.g. "model.embed_tokens.weight": "lm_head.weight"). The dropped name gets
// the kept tensor back here, as transformers' tying gives it back on load. Other metadata (such as
// "format": "pt") names no tensor and is left alone; an entry never hides a stored tensor.
void add_aliases(const SafetensorsCheckpoint& st, std::map<std::string, HfStoredTensor>& out) {
  for (const SafetensorsFile& file : st.files())
    for (const auto& [alias, target] : file.metadata()) {
      if (st.find(alias) || out.count(alias)) continue;
      auto it = out.find(target);
      if (it == out.end()) continue;
      HfStoredTensor t = it->second;
      t.alias_of = target;
      t.where = it->second.where + " (stored for '" + alias + "' too, as __metadata__ says)";
      out.emplace(alias, std::move(t));
    }
}

HfQuantization parse_mlx_block(const json& q, const std::string& where) {
  HfQuantization out;
  if (q.is_null() || (q.is_boolean() && !q.get<bool>())) return out;
  if (!q.is_object()) fail(ErrorKind::Format, where + ": 'quantization' is not an object");
  const std::string mode = q.contains("mode") && q["mode"].is_string() ? q["mode"].get<std::string>() : "affine";
  if (mode != "affine")
    fail(ErrorKind::Unsupported, where + ": MLX quantization mode '" + mode + "' is not supported (affine is)");
  out.group_size = json_int(q, "group_size", 64, where);
  out.bits = json_int(q, "bits", 4, where);
  auto check = [&](int gs, int bits, const std::string& what) {
    if (bits != 2 && bits != 4 && bits != 8)
      fail(ErrorKind::Unsupported,
           where + ": " + what + std::to_string(bits) + "-bit MLX quantization is not supported (2, 4 and 8 are)");
    if (gs <= 0) fail(ErrorKind::Format, where + ": " + what + "group_size must be positive");
  };
  check(out.group_size, out.bits, "");
  for (auto it = q.begin(); it != q.end(); ++it) {
    if (it.value().is_boolean()) {
      if (!it.value().get<bool>()) out.per_module[it.key()] = {0, 0};
    } else if (it.value().is_object()) {
      int gs = json_int(it.value(), "group_size", out.group_size, where),
          bits = json_int(it.value(), "bits", out.bits, where);
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

HfQuantization parse_hf_quantization(const json& j, const std::string& where) {
  if (j.contains("quantization")) return parse_mlx_block(j["quantization"], where);
  if (!j.contains("quantization_config") || !j["quantization_config"].is_object()) return {};
  const json& qc = j["quantization_config"];
  if (qc.contains("bits") && !qc.contains("quant_method")) return parse_mlx_block(qc, where);  // MLX writes both
  const std::string method =
      qc.contains("quant_method") && qc["quant_method"].is_string() ? qc["quant_method"].get<std::string>() : "?";
  fail(ErrorKind::Unsupported, where + ": quantization_config with quant_method '" + method +
                                   "' is not supported (MLX affine quantization and unquantised checkpoints are)");
}

bool is_hf_checkpoint_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(fs::path(dir) / "config.json", ec);
}

Tensor HfStoredTensor::to_tensor() const {
  if (!mlx()) return st_to_tensor(info, keepalive);
  return mlx_dequantize(info, st_to_tensor(scales, scales_keepalive), st_to_tensor(biases, biases_keepalive), bits,
                        group_size, where);
}

std::optional<StoredWeight> HfStoredTensor::stored() const {
  if (shape.size() != 2) return std::nullopt;
  if (mlx()) {
    if (!StoredWeight::mlx_supported(bits, group_size, shape[1])) return std::nullopt;
    std::vector<float> s(static_cast<size_t>(scales.numel())), b(static_cast<size_t>(biases.numel()));
    st_to_float(scales, s.data());
    st_to_float(biases, b.data());
    return StoredWeight::mlx(bits, group_size, shape[0], shape[1], info.data, keepalive, std::move(s), std::move(b));
  }
  if (info.dtype != StDtype::F16 && info.dtype != StDtype::BF16) return std::nullopt;
  const GgmlType type = info.dtype == StDtype::F16 ? GgmlType::F16 : GgmlType::BF16;
  StoredWeight w = StoredWeight::gguf(type, shape[0], shape[1], info.data, keepalive);
  // safetensors does not promise aligned offsets; the kernels read 16-bit values in place.
  if (reinterpret_cast<uintptr_t>(info.data) % 2 != 0) {
    std::vector<int64_t> all(static_cast<size_t>(shape[0]));
    std::iota(all.begin(), all.end(), int64_t{0});
    return w.gather_rows(all);
  }
  return w;
}

std::map<std::string, HfStoredTensor> open_hf_tensors(const std::string& dir, const HfQuantization& quant,
                                                      FileBacking backing) {
  const SafetensorsCheckpoint st = SafetensorsCheckpoint::open_dir(dir, backing);
  std::map<std::string, HfStoredTensor> out;
  for (const std::string& name : st.names()) {
    HfStoredTensor t;
    t.info = st.at(name);
    t.keepalive = st.file_of(name).keepalive();
    t.where = st.file_of(name).path() + ": tensor '" + name + "'";
    t.shape = t.info.shape;
    if (name.ends_with(".scales") || name.ends_with(".biases")) {
      const std::string module = name.substr(0, name.size() - 7);
      if (!st.find(module + ".weight")) fail(ErrorKind::Format, t.where + " has no matching " + module + ".weight");
      continue;  // handled with its weight
    }
    if (name.ends_with(".weight") && st.find(name.substr(0, name.size() - 7) + ".scales")) {
      const std::string module = name.substr(0, name.size() - 7);
      if (!quant.enabled()) fail(ErrorKind::Format, t.where + " has MLX scales but config.json has no 'quantization'");
      std::tie(t.group_size, t.bits) = quant.for_module(module);
      if (t.bits == 0)
        fail(ErrorKind::Format, t.where + " is quantised but config.json says module " + module + " is not");
      if (!st.find(module + ".biases")) fail(ErrorKind::Format, t.where + ": MLX scales without biases");
      t.scales = st.at(module + ".scales");
      t.biases = st.at(module + ".biases");
      t.scales_keepalive = st.file_of(module + ".scales").keepalive();  // (a shard may split a module)
      t.biases_keepalive = st.file_of(module + ".biases").keepalive();
      t.shape = mlx_weight_shape(t.info, t.scales.shape, t.biases.shape, t.bits, t.group_size, t.where);
    }
    out.emplace(name, std::move(t));
  }
  add_aliases(st, out);
  return out;
}

std::map<std::string, Tensor> read_hf_tensors(const std::string& dir, const HfQuantization& quant) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : open_hf_tensors(dir, quant)) out.emplace(name, t.to_tensor());
  return out;
}

}  // namespace attnscope
