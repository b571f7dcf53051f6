// Which precision a loaded model runs at and whether it is lossy (fidelity.h): the one check
// behind the warning of heads, induction and scan.
#include <algorithm>
#include <set>

#include "attnscope/fidelity.h"
#include "model/model_impl.h"

namespace attnscope {

namespace {
// Types that hold at least 16 bits a weight: no rounding of the weights beyond bf16's.
bool is_wide(const std::string& t) { return t == "F32" || t == "F16" || t == "BF16" || t == "F64"; }
}  // namespace

PrecisionPath precision_path(const Model& model) {
  PrecisionPath p;
  p.compute_dtype = model.dtype();
  std::set<std::string> types = model.impl().stored_types;
  // Loaders that do not record the file's types (checkpoint directories): what is held is the
  // stored type on the bfloat16 path, and F32 after a float32 decode.
  if (types.empty())
    for (const auto& [name, w] : model.impl().matrices) types.insert(w.type_name());
  p.stored_types.assign(types.begin(), types.end());
  bool all_f32 = true;
  for (const std::string& t : p.stored_types) {
    all_f32 = all_f32 && t == "F32";
    p.quantised = p.quantised || !is_wide(t);
  }
  p.lossy = p.quantised || (p.compute_dtype == "bfloat16" && !all_f32);
  return p;
}

std::string describe_precision_path(const PrecisionPath& path) {
  std::string types;
  for (const std::string& t : path.stored_types) types += (types.empty() ? "" : "/") + t;
  return path.compute_dtype + " products on " + (types.empty() ? std::string("no") : types) + " weights";
}

std::optional<std::string> lossy_path_warning(const Model& model) {
  const PrecisionPath p = precision_path(model);
  if (!p.lossy) return std::nullopt;
  std::string why = p.quantised ? "the weights are stored quantised" : "bfloat16 rounds weights and activations";
  return "this run is on a lossy path (" + describe_precision_path(p) + "): " + why +
         ", so head patterns and scores may differ from the full-precision model's; `attnscope fidelity -m " +
         model.source() + "` measures by how much" + (p.quantised ? " (add --reference with an F16/BF16 file)" : "");
}

}  // namespace attnscope
