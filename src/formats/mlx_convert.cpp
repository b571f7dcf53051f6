// An HF checkpoint -> MLX-quantised checkpoint (the layout mlx-community publishes).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/error.h"
#include "formats/mlx.h"
#include "formats/safetensors.h"

namespace attnscope {
namespace fs = std::filesystem;

namespace {
void add_float(SafetensorsWriter& w, const std::string& name, const Tensor& t, StDtype dtype) {
  switch (dtype) {
    case StDtype::F32:
      w.add_f32(name, t);
      break;
    case StDtype::F16:
      w.add_f16(name, t);
      break;
    case StDtype::BF16:
      w.add_bf16(name, t);
      break;
    default:
      fail(ErrorKind::InvalidArgument, "MLX checkpoints store floats as F32, F16 or BF16");
  }
}
}  // namespace

void mlx_quantize_checkpoint(const std::string& src_dir, const std::string& dst_dir, int bits, int group_size,
                             StDtype float_dtype) {
  const SafetensorsCheckpoint src = SafetensorsCheckpoint::open_dir(src_dir);
  SafetensorsWriter w;
  for (const std::string& name : src.names()) {
    const Tensor t = src.load_tensor(name);
    const bool weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    if (weight && t.ndim() == 2 && t.dim(1) % group_size == 0 && t.dim(1) % (32 / bits) == 0) {
      const MlxQuantized q = mlx_quantize(t, bits, group_size);
      const std::string module = name.substr(0, name.size() - 7);
      w.add_u32(name, q.packed_shape, q.packed);
      add_float(w, module + ".scales", q.scales, float_dtype);
      add_float(w, module + ".biases", q.biases, float_dtype);
    } else {
      add_float(w, name, t, float_dtype);
    }
  }
  w.set_metadata("format", "mlx");
  std::ifstream in(fs::path(src_dir) / "config.json");
  if (!in) fail(ErrorKind::NotFound, "no config.json in " + src_dir);
  nlohmann::json cfg = nlohmann::json::parse(in);
  cfg["quantization"] = {{"group_size", group_size}, {"bits", bits}};
  cfg["quantization_config"] = cfg["quantization"];
  cfg["torch_dtype"] = float_dtype == StDtype::F32 ? "float32" : float_dtype == StDtype::F16 ? "float16" : "bfloat16";
  fs::create_directories(dst_dir);
  w.write((fs::path(dst_dir) / "model.safetensors").string());
  std::ofstream out(fs::path(dst_dir) / "config.json");
  out << cfg.dump(2) << "\n";
  if (!out) fail(ErrorKind::Io, "cannot write " + dst_dir + "/config.json");
}

}  // namespace attnscope
