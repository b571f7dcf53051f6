// Exit codes of the attnscope command, one per error kind (listed by `attnscope --help` and in
// the README). Scripts can tell a typo from a broken download from a network failure.
#pragma once
#include "attnscope/error.h"

namespace attnscope::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;  // an unexpected failure (a bug: please report it)

inline int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument:
      return 2;  // also command-line usage errors
    case ErrorKind::NotFound:
      return 3;
    case ErrorKind::Format:
      return 4;
    case ErrorKind::Unsupported:
      return 5;
    case ErrorKind::Io:
      return 6;
    case ErrorKind::Network:
      return 7;
  }
  return kExitInternal;
}

inline constexpr const char* kExitCodeHelp =
    "Exit codes: 0 success, 1 internal error, 2 invalid argument or usage, 3 not found, 4 malformed file, "
    "5 unsupported, 6 I/O error, 7 network error.";

}  // namespace attnscope::cli
