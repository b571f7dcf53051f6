// The explorer's --patterns JSON file, read and drawn (explorer data) when it loads.

#include "attnscope/viz.h"
#include "harness.h"

namespace attnscope::fuzz {

int patterns_json(const uint8_t* data, size_t size) {
  const std::string path = scratch_file("patterns.json", {reinterpret_cast<const char*>(data), size});
  expect_clean([&] {
    const auto p = read_patterns_json(path);
    (void)explorer_html(p.patterns, p.tokens, {});
  });
  return 0;
}

}  // namespace attnscope::fuzz
