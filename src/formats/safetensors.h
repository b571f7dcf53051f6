// safetensors: Hugging Face's weight format. An 8-byte little-endian header length, a JSON header
// (name -> dtype, shape, [begin, end) byte range in the data section), then the raw data.
// The reader maps the file and validates the whole header before any tensor is touched; the
// writer exists for tests and for producing MLX-style checkpoints.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope {

enum class StDtype { F32, F16, BF16, I32, U32, U8 };
std::string st_dtype_name(StDtype dtype);
size_t st_dtype_size(StDtype dtype);

// A header claiming more than this is refused (the reference implementation's limit too).
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

struct SafetensorsTensorInfo {
  std::string name;
  StDtype dtype = StDtype::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;    // within the data section
  const uint8_t* data = nullptr;  // into the mapping
  uint64_t nbytes() const { return end - begin; }
  int64_t numel() const { return shape_numel(shape); }
};

class SafetensorsFile {
 public:
  // Maps (or reads into memory, see FileBacking) and validates. Errors: NotFound (no such file),
  // Io, Format (malformed or hostile header), Unsupported (a dtype this project does not read,
  // e.g. F64 or F8).
  static SafetensorsFile open(const std::string& path, FileBacking backing = FileBacking::Mapped);

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }  // by name
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsTensorInfo* find(const std::string& name) const;
  // NotFound naming the file if absent.
  const SafetensorsTensorInfo& at(const std::string& name) const;

  // As float32, row-major: a zero-copy view for aligned F32, otherwise converted (F16, BF16 and
  // the integer types by value).
  Tensor load_tensor(const std::string& name) const;
  // Keeps the mapping alive (for views and raw data pointers handed out).
  std::shared_ptr<const void> keepalive() const { return mapping_; }

 private:
  std::string path_;
  uint64_t size_ = 0;
  std::shared_ptr<const void> mapping_;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Decodes `info`'s elements into float (any supported dtype).
void st_to_float(const SafetensorsTensorInfo& info, float* dst);
Tensor st_to_tensor(const SafetensorsTensorInfo& info, const std::shared_ptr<const void>& keepalive);

// A checkpoint directory's weights: model.safetensors, or the shards listed in
// model.safetensors.index.json (weight_map: tensor name -> shard file), or any single *.safetensors.
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open_dir(const std::string& dir, FileBacking backing = FileBacking::Mapped);
  std::vector<std::string> names() const;  // sorted
  const SafetensorsTensorInfo* find(const std::string& name) const;
  const SafetensorsTensorInfo& at(const std::string& name) const;
  Tensor load_tensor(const std::string& name) const;
  // The file that holds `name` (for keepalive and error messages).
  const SafetensorsFile& file_of(const std::string& name) const;
  const std::vector<SafetensorsFile>& files() const { return files_; }

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> index_;  // tensor name -> files_ index
  std::string dir_;
};

// Writes a safetensors file (header padded to 8 bytes, tensors in insertion order), via a
// temporary file renamed into place.
class SafetensorsWriter {
 public:
  void add(const std::string& name, StDtype dtype, const Shape& shape, std::vector<uint8_t> bytes);
  void add_f32(const std::string& name, const Tensor& tensor);
  void add_f16(const std::string& name, const Tensor& tensor);
  void add_bf16(const std::string& name, const Tensor& tensor);
  void add_u32(const std::string& name, const Shape& shape, const std::vector<uint32_t>& values);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    StDtype dtype;
    Shape shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Half-precision conversions (IEEE binary16 and bfloat16), round-to-nearest-even when encoding.
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);
uint16_t st_f32_to_f16(float f);
uint16_t st_f32_to_bf16(float f);

}  // namespace attnscope
