// .npz writer: a zip archive (stored, no compression; zip64 when large) of .npy arrays, the
// format numpy.load reads. Private to the library; the CLI and Python front ends use it.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/trace.h"

namespace attnscope::detail {

class NpzWriter {
 public:
  // Opens path + ".tmp" for writing; finish() renames it to `path`.
  explicit NpzWriter(const std::string& path);
  ~NpzWriter();
  NpzWriter(const NpzWriter&) = delete;
  NpzWriter& operator=(const NpzWriter&) = delete;

  void add_f32(const std::string& name, const Shape& shape, const float* data);
  void add_f64(const std::string& name, const Shape& shape, const double* data);
  void add_i32(const std::string& name, const Shape& shape, const int32_t* data);
  // A numpy unicode array ('<U n', UTF-32) of UTF-8 strings; invalid UTF-8 becomes U+FFFD.
  void add_strings(const std::string& name, const Shape& shape, const std::vector<std::string>& values);
  void finish();

 private:
  void add_entry(const std::string& name, const std::string& descr, const Shape& shape, const void* data,
                 uint64_t nbytes);
  void put(const void* p, size_t n);
  struct Entry {
    std::string name;
    uint32_t crc = 0;
    uint64_t size = 0, offset = 0;
  };
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t pos_ = 0;
  std::vector<Entry> entries_;
  bool finished_ = false;
};

// The .npy header (magic, version, dict) for an array; exposed for tests.
std::string npy_header(const std::string& descr, const Shape& shape);

// Writes a trace: every captured hook under its canonical name (float32), `logits` when
// include_logits and the trace has them, `tokens` (int32 [B, T]) and `str_tokens` ([B, T]).
void save_trace_npz(const Trace& trace, const std::string& path, bool include_logits = false);

}  // namespace attnscope::detail
