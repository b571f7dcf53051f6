// Files the C++ tests share: the shared models, per-process temporary paths, raw bytes for
// hand-built files, and GGUF copies with metadata or tensors changed (written with the project's
// GgufWriter). One place, so that tests in every area build their inputs the same way.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/tensor.h"

namespace attnscope::test {

// A file or folder under ../shared/models.
inline std::string model_path(const std::string& relative) {
  return std::string(ATTNSCOPE_MODELS_DIR) + "/" + relative;
}

// A path in the temporary folder, unique to this process and test: "attnscope_<test>_<pid>_<name>".
inline std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "global";
  return (std::filesystem::temp_directory_path() /
          ("attnscope_" + test + "_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Appends v's little-endian bytes (the machines attnscope runs on are little-endian).
template <class T>
void put_le(std::vector<uint8_t>& b, T v) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  b.insert(b.end(), raw, raw + sizeof(T));
}
// A GGUF string: u64 length, then the bytes.
inline void put_gguf_string(std::vector<uint8_t>& b, const std::string& s) {
  put_le<uint64_t>(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

// Copies the GGUF `src` to `dst`. `rename_key(key)` gives each metadata key's new name, or nullopt
// to drop it (default: keep all); `edit_tensor(name, tensor)` may change a tensor (a float32 copy)
// in place. `extra(writer)` may add or overwrite metadata last.
struct GgufEdits {
  std::function<std::optional<std::string>(const std::string&)> rename_key;
  std::function<void(const std::string&, Tensor&)> edit_tensor;
  std::function<void(GgufWriter&)> extra;
};
inline void copy_gguf(const std::string& src, const std::string& dst, const GgufEdits& edits) {
  const GgufFile f = GgufFile::open(src);
  GgufWriter w;
  for (const auto& key : f.metadata_keys()) {
    const std::optional<std::string> to = edits.rename_key ? edits.rename_key(key) : key;
    if (to) w.set(*to, f.get(key));
  }
  if (edits.extra) edits.extra(w);
  for (const auto& info : f.tensors()) {
    Tensor t = f.load_tensor(info.name).clone();
    if (edits.edit_tensor) edits.edit_tensor(info.name, t);
    w.add_tensor(info.name, t, GgmlType::F32);
  }
  w.write(dst);
}

// [shape] filled with start, start + 1, ... (row-major): every element distinct and predictable.
inline Tensor ramp(Shape shape, float start = 1.0f) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = start + static_cast<float>(i);
  return t;
}

}  // namespace attnscope::test
