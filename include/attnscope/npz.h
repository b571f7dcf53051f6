// .npz writer: a zip archive (stored, or deflate-compressed like numpy.savez_compressed; zip64
// when large) of .npy arrays, the format numpy.load reads. Entries are streamed to the file as
// they are added (nothing is kept but the directory), so a trace can be written layer by layer
// while the forward pass runs. Traces are written with save_trace_npz (trace.h).
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope {

class NpzWriter {
 public:
  // Opens path + ".tmp" for writing; finish() renames it to `path`.
  explicit NpzWriter(const std::string& path, bool compress = false);
  ~NpzWriter();
  NpzWriter(const NpzWriter&) = delete;
  NpzWriter& operator=(const NpzWriter&) = delete;

  void add_f32(const std::string& name, const Shape& shape, const float* data);
  // float32 data stored as float16 ('<f2', round to nearest even).
  void add_f16(const std::string& name, const Shape& shape, const float* data);
  void add_f64(const std::string& name, const Shape& shape, const double* data);
  void add_i32(const std::string& name, const Shape& shape, const int32_t* data);
  // A numpy unicode array ('<U n', UTF-32) of UTF-8 strings; invalid UTF-8 becomes U+FFFD.
  void add_strings(const std::string& name, const Shape& shape, const std::vector<std::string>& values);
  void finish();

 private:
  // Writes an entry of `nbytes` payload bytes that `produce(emit)` hands over in pieces.
  using Emit = std::function<void(const void*, size_t)>;
  void add_entry(const std::string& name, const std::string& descr, const Shape& shape, uint64_t nbytes,
                 const std::function<void(const Emit&)>& produce);
  void put(const void* p, size_t n);
  struct Entry {
    std::string name;
    uint32_t crc = 0;
    uint64_t size = 0, csize = 0, offset = 0;
    bool z64 = false;
  };
  std::string path_;
  bool compress_ = false;
  std::FILE* file_ = nullptr;
  uint64_t pos_ = 0;
  std::vector<Entry> entries_;
  bool finished_ = false;
};

namespace detail {
// The .npy header (magic, version, dict) for an array; exposed for tests.
std::string npy_header(const std::string& descr, const Shape& shape);
}  // namespace detail

}  // namespace attnscope
