// Replays every fuzz target (fuzz/targets/*.cpp) over its committed seeds (fuzz/corpus/<target>)
// and the inputs that once crashed or hung it (fuzz/regressions/<target>), in the ordinary
// build: each must end in a clean attnscope::Error or a result, never another exception. Under
// the ASan/UBSan preset the memory errors the fuzzer found are caught here as well.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "harness.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FuzzReplay : public testing::TestWithParam<attnscope::fuzz::Target> {};

TEST_P(FuzzReplay, SeedsAndCrashInputsRunClean) {
  const auto target = GetParam();
  int files = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(ATTNSCOPE_SOURCE_DIR) / "fuzz" / kind / target.name;
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
      const auto bytes = read_bytes(e.path());
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_NO_THROW(target.entry(bytes.data(), bytes.size())) << e.path();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      RecordProperty(e.path().filename().string(), std::to_string(s));
      ++files;
    }
  }
  EXPECT_GT(files, 0) << "no seeds for fuzz target " << target.name;
}

INSTANTIATE_TEST_SUITE_P(AllTargets, FuzzReplay, testing::ValuesIn(attnscope::fuzz::targets()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
