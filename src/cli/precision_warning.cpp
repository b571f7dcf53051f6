#include "cli/precision_warning.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "attnscope/fidelity.h"
#include "cli/model_common.h"

namespace attnscope::cli {

std::optional<std::string> warn_lossy_path(const Model& model, bool json) {
  std::optional<std::string> w = lossy_path_warning(model);
  if (w && !json) std::cerr << "attnscope: warning: " << *w << "\n";
  return w;
}

std::string with_precision_warning(const std::string& json_text, const std::optional<std::string>& warning) {
  nlohmann::json j = nlohmann::json::parse(json_text);
  j["precision_warning"] = warning ? nlohmann::json(*warning) : nlohmann::json(nullptr);
  return dump_json(j, 2) + "\n";
}

}  // namespace attnscope::cli
