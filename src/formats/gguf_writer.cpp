// GGUF v3 writer. Metadata and tensor table are serialised into memory, tensor data is encoded and
// streamed row block by row block, and the file is written to "<path>.tmp" then renamed.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "attnscope/error.h"
#include "attnscope/gguf.h"

namespace attnscope {

namespace {
constexpr uint32_t kVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;

struct Buf {
  std::vector<uint8_t> b;
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
};

[[noreturn]] void bad_value(const std::string& key, const std::string& why) {
  fail(ErrorKind::InvalidArgument, "GGUF metadata '" + key + "': " + why);
}

uint64_t get_u(const std::string& key, const GgufValue& v, uint64_t max) {
  const auto* u = std::get_if<uint64_t>(&v.value);
  if (!u) bad_value(key, gguf_value_type_name(v.type) + " value does not hold an unsigned integer");
  if (*u > max) bad_value(key, std::to_string(*u) + " does not fit in " + gguf_value_type_name(v.type));
  return *u;
}

int64_t get_i(const std::string& key, const GgufValue& v, int64_t lo, int64_t hi) {
  const auto* i = std::get_if<int64_t>(&v.value);
  if (!i) bad_value(key, gguf_value_type_name(v.type) + " value does not hold a signed integer");
  if (*i < lo || *i > hi) bad_value(key, std::to_string(*i) + " does not fit in " + gguf_value_type_name(v.type));
  return *i;
}

double get_f(const std::string& key, const GgufValue& v) {
  const auto* d = std::get_if<double>(&v.value);
  if (!d) bad_value(key, gguf_value_type_name(v.type) + " value does not hold a float");
  return *d;
}

// Serialises the payload of `v` (not its type tag), checking the variant matches the type.
void put_value(Buf& out, const std::string& key, const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::U8:
      out.put<uint8_t>(static_cast<uint8_t>(get_u(key, v, 0xFF)));
      break;
    case GgufValueType::U16:
      out.put<uint16_t>(static_cast<uint16_t>(get_u(key, v, 0xFFFF)));
      break;
    case GgufValueType::U32:
      out.put<uint32_t>(static_cast<uint32_t>(get_u(key, v, 0xFFFFFFFFu)));
      break;
    case GgufValueType::U64:
      out.put<uint64_t>(get_u(key, v, std::numeric_limits<uint64_t>::max()));
      break;
    case GgufValueType::I8:
      out.put<int8_t>(static_cast<int8_t>(get_i(key, v, -128, 127)));
      break;
    case GgufValueType::I16:
      out.put<int16_t>(static_cast<int16_t>(get_i(key, v, -32768, 32767)));
      break;
    case GgufValueType::I32:
      out.put<int32_t>(static_cast<int32_t>(
          get_i(key, v, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())));
      break;
    case GgufValueType::I64:
      out.put<int64_t>(get_i(key, v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
      break;
    case GgufValueType::F32:
      out.put<float>(static_cast<float>(get_f(key, v)));
      break;
    case GgufValueType::F64:
      out.put<double>(get_f(key, v));
      break;
    case GgufValueType::BOOL: {
      const auto* b = std::get_if<bool>(&v.value);
      if (!b) bad_value(key, "bool value does not hold a bool");
      out.put<uint8_t>(*b ? 1 : 0);
      break;
    }
    case GgufValueType::STRING: {
      const auto* s = std::get_if<std::string>(&v.value);
      if (!s) bad_value(key, "string value does not hold a string");
      out.put_string(*s);
      break;
    }
    case GgufValueType::ARRAY: {
      if (!std::holds_alternative<std::shared_ptr<GgufArray>>(v.value))
        bad_value(key, "array value does not hold an array");
      const GgufArray& a = v.as_array();
      out.put<uint32_t>(static_cast<uint32_t>(v.array_type));
      out.put<uint64_t>(a.size());
      for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].type != v.array_type)
          bad_value(key, "element " + std::to_string(i) + " is " + gguf_value_type_name(a[i].type) +
                             " in an array of " + gguf_value_type_name(v.array_type));
        // Nested arrays carry their own element type and count, exactly as a top-level one.
        put_value(out, key, a[i]);
      }
      break;
    }
    default:
      bad_value(key, "unknown value type id " + std::to_string(static_cast<uint32_t>(v.type)));
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return x + (a - x % a) % a; }

// Closes and removes the temporary file unless released.
struct TmpFile {
  std::FILE* f = nullptr;
  std::string path;
  bool keep = false;
  ~TmpFile() {
    if (f) std::fclose(f);
    if (!keep) std::remove(path.c_str());
  }
  void write(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, f) != n) fail(ErrorKind::Io, "writing " + path + " failed (disk full?)");
  }
  void zeros(uint64_t n) {
    static const uint8_t z[256] = {};
    while (n > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof z));
      write(z, k);
      n -= k;
    }
  }
};
}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  if (key.empty()) fail(ErrorKind::InvalidArgument, "GGUF metadata key must not be empty");
  for (auto& kv : kv_)
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::set_string(const std::string& key, const std::string& v) { set(key, GgufValue::of_string(v)); }
void GgufWriter::set_u32(const std::string& key, uint32_t v) { set(key, GgufValue::of_uint(GgufValueType::U32, v)); }
void GgufWriter::set_i32(const std::string& key, int32_t v) { set(key, GgufValue::of_int(GgufValueType::I32, v)); }
void GgufWriter::set_f32(const std::string& key, float v) { set(key, GgufValue::of_float(GgufValueType::F32, v)); }
void GgufWriter::set_bool(const std::string& key, bool v) { set(key, GgufValue::of_bool(v)); }

void GgufWriter::set_strings(const std::string& key, const std::vector<std::string>& values) {
  GgufArray a;
  a.reserve(values.size());
  for (const auto& s : values) a.push_back(GgufValue::of_string(s));
  set(key, GgufValue::of_array(GgufValueType::STRING, std::move(a)));
}
void GgufWriter::set_f32s(const std::string& key, const std::vector<float>& values) {
  GgufArray a;
  a.reserve(values.size());
  for (float v : values) a.push_back(GgufValue::of_float(GgufValueType::F32, v));
  set(key, GgufValue::of_array(GgufValueType::F32, std::move(a)));
}
void GgufWriter::set_i32s(const std::string& key, const std::vector<int32_t>& values) {
  GgufArray a;
  a.reserve(values.size());
  for (int32_t v : values) a.push_back(GgufValue::of_int(GgufValueType::I32, v));
  set(key, GgufValue::of_array(GgufValueType::I32, std::move(a)));
}

void GgufWriter::check_new_tensor(const std::string& name, const Shape& shape, GgmlType type) const {
  if (name.empty()) fail(ErrorKind::InvalidArgument, "GGUF tensor name must not be empty");
  for (const auto& t : tensors_)
    if (t.name == name) fail(ErrorKind::InvalidArgument, "GGUF tensor '" + name + "' added twice");
  if (shape.empty() || shape.size() > 4)
    fail(ErrorKind::InvalidArgument,
         "GGUF tensor '" + name + "' must have 1 to 4 dimensions, not " + std::to_string(shape.size()));
  (void)shape_numel(shape);  // rejects negative dimensions
  const int64_t be = ggml_block_elems(type);
  if (shape.back() % be != 0)
    fail(ErrorKind::InvalidArgument, "GGUF tensor '" + name + "': row length " + std::to_string(shape.back()) +
                                         " is not a multiple of the " + ggml_type_name(type) + " block size " +
                                         std::to_string(be));
  if (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::BF16 && type != GgmlType::Q8_0 &&
      type != GgmlType::Q4_0 && type != GgmlType::Q4_1 && type != GgmlType::Q5_0 && type != GgmlType::Q5_1 &&
      type != GgmlType::Q4_K && type != GgmlType::Q6_K)
    fail(ErrorKind::Unsupported, "GGUF writer cannot encode " + ggml_type_name(type));
}

void GgufWriter::add_tensor(const std::string& name, const Tensor& tensor, GgmlType type) {
  check_new_tensor(name, tensor.shape(), type);
  if (tensor.numel() > 0 && tensor.data() == nullptr)
    fail(ErrorKind::InvalidArgument, "GGUF tensor '" + name + "' has no data");
  Pending p{name, tensor.shape(), type, {}, tensor, {}};
  tensors_.push_back(std::move(p));
}

void GgufWriter::add_tensor_generated(const std::string& name, const Shape& shape, GgmlType type, RowFill fill) {
  check_new_tensor(name, shape, type);
  if (!fill) fail(ErrorKind::InvalidArgument, "GGUF tensor '" + name + "': no fill function");
  Pending p{name, shape, type, {}, Tensor(), std::move(fill)};
  tensors_.push_back(std::move(p));
}

void GgufWriter::write(const std::string& path, uint32_t alignment) const {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    fail(ErrorKind::InvalidArgument, "GGUF alignment " + std::to_string(alignment) + " is not a power of two");

  // Metadata, with general.alignment recorded whenever it is not the default.
  std::vector<std::pair<std::string, GgufValue>> kv;
  for (const auto& e : kv_)
    if (e.first != "general.alignment") kv.push_back(e);
  if (alignment != kDefaultAlignment)
    kv.emplace_back("general.alignment", GgufValue::of_uint(GgufValueType::U32, alignment));

  Buf h;
  h.b.insert(h.b.end(), {'G', 'G', 'U', 'F'});
  h.put<uint32_t>(kVersion);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(kv.size());
  for (const auto& [key, value] : kv) {
    h.put_string(key);
    h.put<uint32_t>(static_cast<uint32_t>(value.type));
    put_value(h, key, value);
  }
  std::vector<uint64_t> offsets, sizes;
  uint64_t off = 0;
  for (const auto& t : tensors_) {
    const uint64_t n = ggml_row_bytes(t.type, shape_numel(t.shape));
    off = align_up(off, alignment);
    offsets.push_back(off);
    sizes.push_back(n);
    off += n;
    h.put_string(t.name);
    h.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) h.put<uint64_t>(static_cast<uint64_t>(*it));
    h.put<uint32_t>(static_cast<uint32_t>(t.type));
    h.put<uint64_t>(offsets.back());
  }

  TmpFile tmp;
  tmp.path = path + ".tmp";
  tmp.f = std::fopen(tmp.path.c_str(), "wb");
  if (!tmp.f) fail(ErrorKind::Io, "cannot create " + tmp.path + ": " + std::strerror(errno));
  tmp.write(h.b.data(), h.b.size());
  uint64_t pos = h.b.size();
  tmp.zeros(align_up(pos, alignment) - pos);
  pos = 0;  // now relative to the data section

  std::vector<float> chunk;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Pending& t = tensors_[i];
    tmp.zeros(offsets[i] - pos);
    pos = offsets[i];
    const int64_t row = t.shape.back();
    const int64_t rows = row == 0 ? 0 : shape_numel(t.shape) / row;
    // About 4 MB of floats per encode call.
    const int64_t step = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(row, 1));
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
      const int64_t nr = std::min(step, rows - r0);
      const float* src;
      if (t.fill) {
        chunk.assign(static_cast<size_t>(nr * row), 0.0f);
        t.fill(chunk.data(), r0, nr);
        src = chunk.data();
      } else {
        src = t.source.data() + r0 * row;
      }
      std::vector<uint8_t> bytes = quantize(t.type, src, nr * row);
      tmp.write(bytes.data(), bytes.size());
      pos += bytes.size();
    }
    if (pos != offsets[i] + sizes[i])
      fail(ErrorKind::Io, "GGUF writer: tensor '" + t.name + "' wrote an unexpected number of bytes");
  }
  if (std::fflush(tmp.f) != 0) fail(ErrorKind::Io, "writing " + tmp.path + " failed: " + std::strerror(errno));
  const int rc = std::fclose(tmp.f);
  tmp.f = nullptr;
  if (rc != 0) fail(ErrorKind::Io, "closing " + tmp.path + " failed: " + std::strerror(errno));
  if (std::rename(tmp.path.c_str(), path.c_str()) != 0)
    fail(ErrorKind::Io, "cannot rename " + tmp.path + " to " + path + ": " + std::strerror(errno));
  tmp.keep = true;
}

}  // namespace attnscope
