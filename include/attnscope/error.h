// The one exception type of the project: says what failed and where.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace attnscope {

// Broad category, so front ends can map it: the CLI to an exit code (cli/exit_codes.h: 2..7 in
// this order), Python to an exception class (attnscope.errors).
enum class ErrorKind {
  InvalidArgument,  // the caller asked for something that cannot be (bad layer, empty prompt,
                    // a hook name that names no hook point, ...)
  NotFound,         // a file, directory, tensor in a file, or hub repo/revision that does not exist
  Format,           // a file that is malformed, truncated or hostile
  Unsupported,      // well-formed but not handled (GGUF v1, unknown architecture, tensor type)
  Io,               // the operating system refused (open, mmap, write)
  Network,          // hub / HTTP failures
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) { throw Error(kind, message); }

// For "did you mean ...?" in messages: the choice nearest to `word` by Damerau-Levenshtein distance
// (optimal string alignment: insert, delete, substitute, swap two neighbours; ASCII case ignored),
// if it is within max(2, length / 3) edits of it, the first such on ties; "" otherwise.
std::string closest_match(const std::string& word, const std::vector<std::string>& choices);
// " (did you mean 'X'?)" for closest_match's X, or "" when there is none.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& choices);

}  // namespace attnscope
