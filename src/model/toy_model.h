// The built-in toy model "attnscope:toy": a small byte-level Llama whose weights are constructed
// (not trained) so that its heads do known jobs. See README "The toy model".
#pragma once
#include <string>

namespace attnscope::detail {

inline constexpr const char* kToyModelName = "attnscope:toy";

// Writes the toy model as a GGUF file (with the project's own GgufWriter) to `path`.
void write_toy_model(const std::string& path);
// Path of the toy model's GGUF in the user's cache (written on first use, rewritten if stale);
// Model::load("attnscope:toy") loads this file through the ordinary GGUF loader.
std::string toy_model_path();

}  // namespace attnscope::detail
