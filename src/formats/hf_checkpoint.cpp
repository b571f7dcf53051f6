#include "formats/hf_checkpoint.h"

#include <filesystem>
#include <set>

#include "attnscope/error.h"
#include "formats/mlx.h"
#include "formats/safetensors.h"

namespace attnscope {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int json_int(const json& j, const char* key, int dflt, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0 || j[key].get<int64_t>() > (1 << 30))
    fail(ErrorKind::Format, where + ": '" + key + "' is not a non-negative integer");
  return static_cast<int>(j[key].get<int64_t>());
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
      fail(ErrorKind::Unsupported, where + ": " + what + std::to_string(bits) +
                                       "-bit MLX quantization is not supported (2, 4 and 8 are)");
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
  const std::string method = qc.contains("quant_method") && qc["quant_method"].is_string()
                                 ? qc["quant_method"].get<std::string>()
                                 : "?";
  fail(ErrorKind::Unsupported, where + ": quantization_config with quant_method '" + method +
                                   "' is not supported (MLX affine quantization and unquantised checkpoints are)");
}

bool is_hf_checkpoint_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(fs::path(dir) / "config.json", ec);
}

std::map<std::string, Tensor> read_hf_tensors(const std::string& dir, const HfQuantization& quant) {
  const SafetensorsCheckpoint st = SafetensorsCheckpoint::open_dir(dir);
  std::map<std::string, Tensor> out;
  std::set<std::string> consumed;  // MLX scales/biases eaten by their weight
  for (const std::string& name : st.names()) {
    if (consumed.count(name)) continue;
    const SafetensorsTensorInfo& info = st.at(name);
    const std::string where = st.file_of(name).path() + ": tensor '" + name + "'";
    if (ends_with(name, ".scales") || ends_with(name, ".biases")) {
      const std::string module = name.substr(0, name.size() - 7);
      if (!st.find(module + ".weight")) fail(ErrorKind::Format, where + " has no matching " + module + ".weight");
      continue;  // handled with its weight
    }
    if (ends_with(name, ".weight") && st.find(name.substr(0, name.size() - 7) + ".scales")) {
      const std::string module = name.substr(0, name.size() - 7);
      if (!quant.enabled()) fail(ErrorKind::Format, where + " has MLX scales but config.json has no 'quantization'");
      auto [gs, bits] = quant.for_module(module);
      if (bits == 0) fail(ErrorKind::Format, where + " is quantised but config.json says module " + module + " is not");
      if (!st.find(module + ".biases")) fail(ErrorKind::Format, where + ": MLX scales without biases");
      out[name] = mlx_dequantize(info, st.load_tensor(module + ".scales"), st.load_tensor(module + ".biases"), bits, gs,
                                 where);
      consumed.insert(module + ".scales");
      consumed.insert(module + ".biases");
    } else {
      out[name] = st_to_tensor(info, st.file_of(name).keepalive());
    }
  }
  return out;
}

}  // namespace attnscope
