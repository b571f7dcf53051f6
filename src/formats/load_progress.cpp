#include "formats/load_progress.h"

#include <unistd.h>

#include <cstdio>

namespace attnscope::detail {

LoadProgress::LoadProgress(std::string what, uint64_t total_bytes)
    : what_(std::move(what)),
      total_(total_bytes),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_),
      tty_(::isatty(STDERR_FILENO) == 1) {}

LoadProgress::~LoadProgress() {
  if (printed_)
    std::fprintf(stderr, "\rloading %s: done (%.1f GB)      \n", what_.c_str(), static_cast<double>(done_) / 1e9);
}

void LoadProgress::advance(uint64_t bytes) {
  done_ += bytes;
  if (!tty_ || total_ == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1) || now - last_print_ < std::chrono::milliseconds(200)) return;
  last_print_ = now;
  printed_ = true;
  std::fprintf(stderr, "\rloading %s: %3.0f%% (%.1f / %.1f GB)", what_.c_str(),
               100.0 * static_cast<double>(done_) / static_cast<double>(total_), static_cast<double>(done_) / 1e9,
               static_cast<double>(total_) / 1e9);
  std::fflush(stderr);
}

}  // namespace attnscope::detail
