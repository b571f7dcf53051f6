// Reading the pattern JSON file (see viz.h).
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "attnscope/viz.h"

namespace attnscope {

namespace {

// The largest pattern a file may hold per layer (floats); a bigger one is refused, not allocated.
constexpr int64_t kMaxLayerFloats = int64_t{1} << 26;

}  // namespace

PatternsFile read_patterns_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::NotFound, "patterns file '" + path + "' cannot be opened");
  const std::string where = "patterns file '" + path + "': ";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    fail(ErrorKind::Format, where + "not valid JSON: " + e.what());
  }
  PatternsFile out;
  if (!j.is_object() || !j.contains("tokens") || !j["tokens"].is_array() || !j.contains("patterns") ||
      !j["patterns"].is_object())
    fail(ErrorKind::Format, where + "expected an object with \"tokens\" and \"patterns\"");
  for (const auto& t : j["tokens"]) {
    if (!t.is_string()) fail(ErrorKind::Format, where + "every token must be a string");
    out.tokens.push_back(t.get<std::string>());
  }
  for (const auto& item : j["patterns"].items()) {
    const std::string key = item.key();  // a plain variable: lambdas may capture it (clang 14)
    const nlohmann::json& value = item.value();
    int layer = 0;
    try {
      size_t used = 0;
      layer = std::stoi(key, &used);
      if (used != key.size() || layer < 0) throw std::invalid_argument(key);
    } catch (const std::exception&) {
      fail(ErrorKind::Format, where + "layer key '" + key + "' is not a layer number");
    }
    // [H][Q][K] or [B][H][Q][K]: the depth and lengths come from the first elements; the walk
    // then checks that every array has exactly those lengths. Nothing is reserved from the
    // claimed shape, so memory follows what the file really holds.
    Shape shape;
    const nlohmann::json* cur = &value;
    while (cur->is_array() && shape.size() < 5) {
      shape.push_back(static_cast<int64_t>(cur->size()));
      if (cur->empty()) break;
      cur = &(*cur)[0];
    }
    const size_t depth = shape.size();
    if ((depth != 3 && depth != 4) || shape_numel(shape) == 0)
      fail(ErrorKind::Format, where + "layer " + key + " must be a non-empty [H][Q][K] array");
    std::vector<float> flat;
    std::function<void(const nlohmann::json&, size_t)> walk = [&](const nlohmann::json& a, size_t d) {
      if (d == depth) {
        if (a.is_null())
          flat.push_back(NAN);
        else if (a.is_number())
          flat.push_back(a.get<float>());
        else
          fail(ErrorKind::Format, where + "layer " + key + " holds a non-number");
        return;
      }
      if (!a.is_array() || a.size() != static_cast<size_t>(shape[d]))
        fail(ErrorKind::Format, where + "layer " + key + " is not a regular (rectangular) array");
      if (static_cast<int64_t>(flat.size()) > kMaxLayerFloats)
        fail(ErrorKind::Format, where + "layer " + key + " is too large");
      for (const auto& e : a) walk(e, d + 1);
    };
    walk(value, 0);
    if (depth == 3) shape.insert(shape.begin(), 1);
    out.patterns.emplace(layer, Tensor(shape, std::move(flat)));
  }
  if (out.patterns.empty()) fail(ErrorKind::Format, where + "no layers in \"patterns\"");
  return out;
}

}  // namespace attnscope
