// Progress of a model load on a terminal: nothing for loads under a second (or when stderr is not
// a terminal), then one self-overwriting line "loading <what>: 45% (1.1 / 2.5 GB)" updated a few
// times a second, finished with a newline. Private to the library.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace attnscope::detail {

class LoadProgress {
 public:
  LoadProgress(std::string what, uint64_t total_bytes);
  ~LoadProgress();
  LoadProgress(const LoadProgress&) = delete;
  LoadProgress& operator=(const LoadProgress&) = delete;
  // `bytes` more of the total are done.
  void advance(uint64_t bytes);

 private:
  std::string what_;
  uint64_t total_ = 0, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool tty_ = false, printed_ = false;
};

}  // namespace attnscope::detail
