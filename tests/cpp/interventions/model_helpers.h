// Test helpers: the shared test model, and a copy of a GGUF file with some weights changed
// (written with the project's GgufWriter), for checking interventions against edited weights.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "common/test_files.h"

namespace ivtest {

inline std::string stories_path() { return std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf"; }

// Copies `src` to `dst`, passing every tensor through `edit(name, tensor)` (which may change it).
inline void write_edited_gguf(const std::string& src, const std::string& dst,
                              const std::function<void(const std::string&, attnscope::Tensor&)>& edit) {
  attnscope::test::copy_gguf(src, dst, {nullptr, edit, nullptr});
}

inline std::string temp_file(const std::string& name) { return attnscope::test::temp_path(name); }

// Largest absolute difference of two equal-shaped tensors (fails the test on a shape mismatch).
inline float max_abs_diff(const attnscope::Tensor& a, const attnscope::Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return 1e30f;
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

inline bool bitwise_equal(const attnscope::Tensor& a, const attnscope::Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.numel())) == 0;
}

}  // namespace ivtest
