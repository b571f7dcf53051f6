// "did you mean" for a mistyped command or flag, printed after CLI11's own usage error.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace attnscope::cli {

// The nearest command to an unknown first word, or the nearest of the command's flags to an
// unknown --flag: "attnscope: did you mean 'heads'?" (empty when nothing is close).
std::string suggest_for(const CLI::App& app, int argc, const char* const* argv);

}  // namespace attnscope::cli
