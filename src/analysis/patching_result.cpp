// A patching sweep's result as JSON (nested arrays in the result's layout) and CSV (one row per
// entry).
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/patching.h"

namespace attnscope::patching {

namespace {

nlohmann::json nested(const Tensor& t, int axis, int64_t offset) {
  nlohmann::json out = nlohmann::json::array();
  int64_t stride = 1;
  for (int i = axis + 1; i < t.ndim(); ++i) stride *= t.dim(i);
  for (int64_t i = 0; i < t.dim(axis); ++i) {
    if (axis == t.ndim() - 1)
      out.push_back(t.data()[offset + i]);
    else
      out.push_back(nested(t, axis + 1, offset + i * stride));
  }
  return out;
}

}  // namespace

std::string Result::to_json() const {
  nlohmann::json j;
  j["sweep"] = sweep;
  j["axes"] = axes;
  j["shape"] = values.shape();
  if (!components.empty()) j["components"] = components;
  j["clean_metric"] = clean_metric;
  j["corrupted_metric"] = corrupted_metric;
  j["normalized"] = normalized;
  j["forward_passes"] = forward_passes;
  j["patched_runs"] = patched_runs;
  j["values"] = values.empty() ? nlohmann::json::array() : nested(values, 0, 0);
  return j.dump();
}

std::string Result::to_csv() const {
  std::ostringstream os;
  for (const auto& a : axes) os << a << ',';
  os << "value\n";
  const int n = values.ndim();
  std::vector<int64_t> idx(static_cast<size_t>(n), 0);
  for (int64_t flat = 0; flat < values.numel(); ++flat) {
    int64_t rest = flat;
    for (int i = n - 1; i >= 0; --i) {
      idx[static_cast<size_t>(i)] = rest % values.dim(i);
      rest /= values.dim(i);
    }
    for (int i = 0; i < n; ++i) {
      if (i == 0 && !components.empty())
        os << components[static_cast<size_t>(idx[0])];
      else
        os << idx[static_cast<size_t>(i)];
      os << ',';
    }
    os << values.data()[flat] << '\n';
  }
  return os.str();
}

}  // namespace attnscope::patching
