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
  try {
    return model.to_single_token(text);
  } catch (const Error& e) {
    fail(e.kind(), what + ": " + e.what() + " (" + what + "-id ID)");
  }
}

nlohmann::json captured_shapes_json(const Trace& trace) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : trace.captured()) j[name] = value.shape();
  return j;
}

}  // namespace attnscope::cli
