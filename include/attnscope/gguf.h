// GGUF: the model file format of llama.cpp. Memory-mapped reader (v2, v3) and a writer.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "attnscope/ggml_types.h"
#include "attnscope/tensor.h"

namespace attnscope {

// The type llama.cpp's quantiser gives tensor `name` (row length row_len, in a model of n_layer
// blocks) in a file of type `ftype`: "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
// "Q4_K", "Q6_K", or the mix "Q4_K_M" (Q4_K; Q6_K for the output/embedding matrix and for
// attn_v / ffn_down of the first and last eighth of the layers and every third layer between).
// Norms, biases and other 1-d tensors stay F32; rows that are not whole blocks fall back to
// Q5_0/Q8_0, then F16. InvalidArgument for an unknown ftype.
GgmlType gguf_recipe_type(const std::string& ftype, const std::string& name, int n_layer, int64_t row_len);
// Writes `dst` (which must not exist) with the metadata of GGUF `src` and its tensors re-encoded
// by gguf_recipe_type (decoded and encoded row block by row block on all threads).
void quantize_gguf_file(const std::string& src, const std::string& dst, const std::string& ftype);

// One metadata value. Arrays hold a vector of values (which may themselves be arrays).
struct GgufValue;
using GgufArray = std::vector<GgufValue>;
// clang-format off
enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8,
  ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
// clang-format on
struct GgufValue {
  GgufValueType type = GgufValueType::U8;
  // Integers (signed and unsigned), bool: int_value / uint_value; floats: float_value.
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> value;
  GgufValueType array_type = GgufValueType::U8;  // element type when type == ARRAY

  // Convenience accessors; throw Format with the key-independent reason if the type does not fit.
  int64_t as_int() const;
  double as_float() const;
  bool as_bool() const;
  const std::string& as_string() const;
  const GgufArray& as_array() const;
  std::string to_display(size_t max_items = 8) const;  // for `attnscope info`

  // Constructors that keep `type` and the variant consistent (the writer checks ranges).
  static GgufValue of_uint(GgufValueType type, uint64_t v);  // U8, U16, U32, U64
  static GgufValue of_int(GgufValueType type, int64_t v);    // I8, I16, I32, I64
  static GgufValue of_float(GgufValueType type, double v);   // F32, F64
  static GgufValue of_bool(bool v);
  static GgufValue of_string(std::string v);
  // All elements must have type `element_type` (for nested arrays: ARRAY).
  static GgufValue of_array(GgufValueType element_type, GgufArray items);
};
std::string gguf_value_type_name(GgufValueType type);

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the innermost (contiguous) dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
  int64_t numel() const;
  // Shape in row-major (numpy) order: ne reversed.
  Shape shape() const;
};

class GgufFile {
 public:
  // Maps the file (or reads it into memory, see FileBacking) and validates header, metadata and
  // tensor table against the file size. Errors: NotFound (no such file), Io (unreadable),
  // Unsupported (v1, unknown tensor type), Format (anything else).
  static GgufFile open(const std::string& path, FileBacking backing = FileBacking::Mapped);
  // The same from bytes in memory (tests feed truncated / hostile files this way); `name`
  // stands in for the path in error messages.
  static GgufFile open_memory(std::vector<uint8_t> bytes, const std::string& name = "<memory>");
  // Alignment of the data section (general.alignment, default 32) and its offset in the file.
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::vector<std::string>& metadata_keys() const { return kv_order_; }  // file order
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  const GgufValue& get(const std::string& key) const;  // NotFound if absent
  std::optional<int64_t> get_int(const std::string& key) const;
  std::optional<double> get_float(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;

  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // The tensor as float32 in row-major order (a zero-copy view for F32 tensors, otherwise
  // dequantised). NotFound if absent.
  Tensor load_tensor(const std::string& name) const;

 private:
  std::string path_;
  uint32_t version_ = 0;
  uint64_t size_ = 0;
  std::shared_ptr<const void> mapping_;  // keeps the mmap alive for tensor views
  std::map<std::string, GgufValue> kv_;
  std::vector<std::string> kv_order_;
  std::vector<GgufTensorInfo> tensors_;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  friend struct GgufParser;
};

// Writes GGUF v3 files (metadata of every type, tensors stored as F32, F16, BF16 or Q8_0 ...).
class GgufWriter {
 public:
  void set(const std::string& key, GgufValue value);
  void set_string(const std::string& key, const std::string& value);
  void set_u32(const std::string& key, uint32_t value);
  void set_i32(const std::string& key, int32_t value);
  void set_f32(const std::string& key, float value);
  void set_bool(const std::string& key, bool value);
  void set_strings(const std::string& key, const std::vector<std::string>& values);
  void set_f32s(const std::string& key, const std::vector<float>& values);
  void set_i32s(const std::string& key, const std::vector<int32_t>& values);
  // `tensor` is in row-major order; it is stored with ne = reversed shape, encoded as `type`.
  // The tensor shares its data with the caller and is read when write() runs (not copied here).
  void add_tensor(const std::string& name, const Tensor& tensor, GgmlType type = GgmlType::F32);
  // A tensor produced row block by row block while writing, so huge synthetic models never exist
  // in memory as a whole: fill(dst, first_row, n_rows) writes n_rows rows (of shape.back()
  // floats each, row-major over all leading dimensions) starting at row first_row.
  using RowFill = std::function<void(float* dst, int64_t first_row, int64_t n_rows)>;
  void add_tensor_generated(const std::string& name, const Shape& shape, GgmlType type, RowFill fill);
  // Writes to path + ".tmp" then renames, so a failed write never leaves a partial file at `path`.
  void write(const std::string& path, uint32_t alignment = 32) const;

 private:
  std::vector<std::pair<std::string, GgufValue>> kv_;
  struct Pending {
    std::string name;
    Shape shape;
    GgmlType type;
    std::vector<uint8_t> bytes;  // unused: data is encoded while writing
    Tensor source;               // encoded while writing (keeps only one copy of the floats in memory)
    RowFill fill;                // or generated while writing
  };
  void check_new_tensor(const std::string& name, const Shape& shape, GgmlType type) const;
  std::vector<Pending> tensors_;
};

}  // namespace attnscope
