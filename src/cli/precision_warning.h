// The lossy-path warning of heads, induction and scan (fidelity.h lossy_path_warning): one line on
// stderr for people, a "precision_warning" field (null when the path is exact) for --json.
#pragma once
#include <optional>
#include <string>

#include "attnscope/model.h"

namespace attnscope::cli {

// Prints the warning to stderr unless `json`; returns it (nullopt when the path is not lossy).
std::optional<std::string> warn_lossy_path(const Model& model, bool json);
// `json_text` (one JSON object) with "precision_warning" added: the warning or null.
std::string with_precision_warning(const std::string& json_text, const std::optional<std::string>& warning);

}  // namespace attnscope::cli
