// GGUF reader: maps the file, parses header, metadata and tensor table, and validates every
// count, length, offset and size against the file before any tensor byte is touched.
//
// File layout (v2/v3, little-endian):
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x  { string key | u32 value_type | value }
//   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32) | data section (tensor offsets are relative to it)
// string = u64 length + bytes; array value = u32 element type | u64 count | elements.
#include <algorithm>
#include <limits>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "formats/byte_cursor.h"
#include "formats/mapped_file.h"

namespace attnscope {

namespace {
constexpr int kMaxDims = 4;         // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;  // nested arrays deeper than this are refused (stack safety)
constexpr uint32_t kDefaultAlignment = 32;
// A parsed value takes ~48 bytes of memory however small it is on disk, so the number of metadata
// values is capped too (real files hold well under a million: vocab, scores, types, merges).
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 23;

// Smallest encoded size of one value of `type`, used to bound element counts by the bytes left.
uint64_t min_value_bytes(GgufValueType type) {
  switch (type) {
    case GgufValueType::U8:
    case GgufValueType::I8:
    case GgufValueType::BOOL:
      return 1;
    case GgufValueType::U16:
    case GgufValueType::I16:
      return 2;
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::F32:
      return 4;
    case GgufValueType::U64:
    case GgufValueType::I64:
    case GgufValueType::F64:
      return 8;
    case GgufValueType::STRING:
      return 8;
    case GgufValueType::ARRAY:
      return 4 + 8;
  }
  return 0;  // unknown type
}

bool is_known_ggml_type(uint32_t id) {
  try {
    ggml_block_elems(static_cast<GgmlType>(id));
    return true;
  } catch (const Error&) {
    return false;
  }
}
}  // namespace

struct GgufParser {
  detail::ByteCursor& c;
  uint64_t values = 0;  // metadata values parsed so far (see kMaxMetadataValues)

  GgufValue value(GgufValueType type, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufValueType::U8:
        v.value = uint64_t{c.read<uint8_t>("u8 value")};
        break;
      case GgufValueType::I8:
        v.value = int64_t{c.read<int8_t>("i8 value")};
        break;
      case GgufValueType::U16:
        v.value = uint64_t{c.read<uint16_t>("u16 value")};
        break;
      case GgufValueType::I16:
        v.value = int64_t{c.read<int16_t>("i16 value")};
        break;
      case GgufValueType::U32:
        v.value = uint64_t{c.read<uint32_t>("u32 value")};
        break;
      case GgufValueType::I32:
        v.value = int64_t{c.read<int32_t>("i32 value")};
        break;
      case GgufValueType::U64:
        v.value = c.read<uint64_t>("u64 value");
        break;
      case GgufValueType::I64:
        v.value = c.read<int64_t>("i64 value");
        break;
      case GgufValueType::F32:
        v.value = double{c.read<float>("f32 value")};
        break;
      case GgufValueType::F64:
        v.value = c.read<double>("f64 value");
        break;
      case GgufValueType::BOOL:
        v.value = c.read<uint8_t>("bool value") != 0;
        break;
      case GgufValueType::STRING:
        v.value = c.read_string("string value");
        break;
      case GgufValueType::ARRAY: {
        if (depth >= kMaxArrayDepth)
          c.error("metadata arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
        const uint32_t et = c.read<uint32_t>("array element type");
        const uint64_t per = min_value_bytes(static_cast<GgufValueType>(et));
        if (per == 0) c.error("unknown metadata array element type id " + std::to_string(et));
        const uint64_t count = c.read<uint64_t>("array length");
        if (count > c.remaining() / per)
          c.error("array length " + std::to_string(count) + " of " +
                  gguf_value_type_name(static_cast<GgufValueType>(et)) + " cannot fit in the " +
                  std::to_string(c.remaining()) + " bytes left in the file");
        if (count > kMaxMetadataValues - values)
          c.error("array length " + std::to_string(count) + " exceeds the limit of " +
                  std::to_string(kMaxMetadataValues) + " metadata values per file");
        values += count;
        v.array_type = static_cast<GgufValueType>(et);
        auto items = std::make_shared<GgufArray>();
        items->reserve(static_cast<size_t>(count));
        for (uint64_t i = 0; i < count; ++i) items->push_back(value(v.array_type, depth + 1));
        v.value = std::move(items);
        break;
      }
      default:
        c.error("unknown metadata value type id " + std::to_string(static_cast<uint32_t>(type)));
    }
    return v;
  }

  static GgufFile parse(std::shared_ptr<const detail::MappedFile> mf) {
    GgufFile f;
    f.path_ = mf->path();
    f.size_ = mf->size();
    detail::ByteCursor c(mf->data(), mf->size(), mf->path());
    GgufParser p{c};

    if (mf->size() < 4) c.error("not a GGUF file: only " + std::to_string(mf->size()) + " bytes");
    const uint8_t* m = mf->data();
    if (!(m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F')) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "%02x %02x %02x %02x", m[0], m[1], m[2], m[3]);
      c.error(std::string("not a GGUF file: bad magic bytes ") + hex + " (expected \"GGUF\")");
    }
    c.skip(4, "magic");
    const uint32_t version = c.read<uint32_t>("version");
    if (version == 1)
      fail(ErrorKind::Unsupported, f.path_ +
                                       ": unsupported GGUF v1 (only versions 2 and 3 are read; "
                                       "re-convert the model with a current llama.cpp)");
    if (version != 2 && version != 3) {
      const uint32_t swapped = __builtin_bswap32(version);
      if (swapped == 2 || swapped == 3)
        fail(ErrorKind::Unsupported, f.path_ + ": big-endian GGUF files are not supported");
      fail(ErrorKind::Unsupported,
           f.path_ + ": unsupported GGUF version " + std::to_string(version) + " (only versions 2 and 3 are read)");
    }
    f.version_ = version;
    const uint64_t n_tensors = c.read<uint64_t>("tensor count");
    const uint64_t n_kv = c.read<uint64_t>("metadata count");
    // Each metadata entry takes at least 13 bytes (key length, type, 1-byte value) and each
    // tensor entry at least 24 (name length, n_dims, type, offset): bound the counts first.
    if (n_kv > c.remaining() / 13)
      c.error("metadata count " + std::to_string(n_kv) + " is impossible in a file of " + std::to_string(f.size_) +
              " bytes");
    if (n_tensors > c.remaining() / 24)
      c.error("tensor count " + std::to_string(n_tensors) + " is impossible in a file of " + std::to_string(f.size_) +
              " bytes");

    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key = c.read_string("metadata key");
      const uint32_t t = c.read<uint32_t>("metadata value type");
      if (min_value_bytes(static_cast<GgufValueType>(t)) == 0)
        c.error("metadata key '" + key + "' has unknown value type id " + std::to_string(t));
      GgufValue v = p.value(static_cast<GgufValueType>(t), 0);
      if (f.kv_.count(key)) c.error("duplicate metadata key '" + key + "'");
      f.kv_order_.push_back(key);
      f.kv_.emplace(std::move(key), std::move(v));
    }

    if (auto it = f.kv_.find("general.alignment"); it != f.kv_.end()) {
      const GgufValue& a = it->second;
      if (a.type != GgufValueType::U32)
        c.error("general.alignment has type " + gguf_value_type_name(a.type) + ", expected u32");
      const uint64_t al = std::get<uint64_t>(a.value);
      if (al == 0 || (al & (al - 1)) != 0)
        c.error("general.alignment " + std::to_string(al) + " is not a power of two");
      f.alignment_ = static_cast<uint32_t>(al);
    } else {
      f.alignment_ = kDefaultAlignment;
    }

    f.tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensorInfo t;
      t.name = c.read_string("tensor name");
      const std::string who = "tensor '" + t.name + "'";
      const uint32_t n_dims = c.read<uint32_t>("tensor n_dims");
      if (n_dims > kMaxDims)
        c.error(who + ": n_dims " + std::to_string(n_dims) + " exceeds the maximum of " + std::to_string(kMaxDims));
      uint64_t numel = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t ne = c.read<uint64_t>("tensor dimension");
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          c.error(who + ": dimension " + std::to_string(ne) + " is out of range");
        if (ne != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne)
          c.error(who + ": element count overflows");
        numel *= ne;
        t.ne.push_back(static_cast<int64_t>(ne));
      }
      const uint32_t type = c.read<uint32_t>("tensor type");
      if (!is_known_ggml_type(type))
        fail(ErrorKind::Unsupported, f.path_ + ": " + who + " has unsupported ggml type id " + std::to_string(type));
      t.type = static_cast<GgmlType>(type);
      const int64_t be = ggml_block_elems(t.type);
      const int64_t row = t.ne.empty() ? 1 : t.ne[0];
      if (row % be != 0)
        c.error(who + ": row length " + std::to_string(row) + " is not a multiple of the " + ggml_type_name(t.type) +
                " block size " + std::to_string(be));
      // numel <= INT64_MAX and block_bytes <= 292 bytes per >= 1 element... compute safely.
      const uint64_t blocks = numel / static_cast<uint64_t>(be);
      const uint64_t bb = static_cast<uint64_t>(ggml_block_bytes(t.type));
      if (blocks > std::numeric_limits<uint64_t>::max() / bb) c.error(who + ": byte size overflows");
      t.nbytes = blocks * bb;
      t.offset = c.read<uint64_t>("tensor offset");
      if (t.offset % f.alignment_ != 0)
        c.error(who + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                std::to_string(f.alignment_));
      for (const auto& other : f.tensors_)
        if (other.name == t.name && f.tensors_.size() < 100000) c.error("duplicate " + who);
      f.tensors_.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment.
    const uint64_t al = f.alignment_;
    uint64_t data_offset = c.pos() + (al - c.pos() % al) % al;
    f.data_offset_ = data_offset;
    const uint64_t data_size = data_offset <= f.size_ ? f.size_ - data_offset : 0;
    if (!f.tensors_.empty() && data_offset > f.size_)
      c.error("data section would start at byte " + std::to_string(data_offset) + ", past the end of the file");
    for (auto& t : f.tensors_) {
      if (t.offset > data_size || t.nbytes > data_size - t.offset)
        c.error("tensor '" + t.name + "' (offset " + std::to_string(t.offset) + ", " + std::to_string(t.nbytes) +
                " bytes) extends past the end of the file (data section is " + std::to_string(data_size) + " bytes)");
      t.data = mf->data() + data_offset + t.offset;
    }
    // Tensors must not overlap: sort a copy of (offset, size) and compare neighbours.
    std::vector<std::pair<uint64_t, const GgufTensorInfo*>> order;
    for (const auto& t : f.tensors_) order.emplace_back(t.offset, &t);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 1; i < order.size(); ++i) {
      const auto* prev = order[i - 1].second;
      if (prev->nbytes > 0 && prev->offset + prev->nbytes > order[i].first)
        c.error("tensors '" + prev->name + "' and '" + order[i].second->name + "' overlap");
    }
    f.mapping_ = std::move(mf);
    return f;
  }
};

namespace {
// Parses, turning an allocation failure (possible only with a huge, hostile metadata section
// inside the value limits) into the project's error type.
GgufFile parse_or_fail(std::shared_ptr<const detail::MappedFile> mf) {
  const std::string path = mf->path();
  try {
    return GgufParser::parse(std::move(mf));
  } catch (const std::bad_alloc&) {
    fail(ErrorKind::Format, path + ": out of memory while reading the GGUF header");
  }
}
}  // namespace

GgufFile GgufFile::open(const std::string& path, FileBacking backing) {
  return parse_or_fail(detail::MappedFile::open(path, backing));
}

GgufFile GgufFile::open_memory(std::vector<uint8_t> bytes, const std::string& name) {
  return parse_or_fail(detail::MappedFile::from_bytes(std::move(bytes), name));
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

Shape GgufTensorInfo::shape() const { return Shape(ne.rbegin(), ne.rend()); }

const GgufValue& GgufFile::get(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) fail(ErrorKind::NotFound, path_ + ": metadata key '" + key + "' not found");
  return it->second;
}

namespace {
// Re-throws an accessor's type error with the key and file named.
template <class F>
auto with_key(const std::string& path, const std::string& key, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    fail(e.kind(), path + ": metadata key '" + key + "': " + e.what());
  }
}
}  // namespace

std::optional<int64_t> GgufFile::get_int(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::nullopt;
  return with_key(path_, key, [&] { return it->second.as_int(); });
}

std::optional<double> GgufFile::get_float(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::nullopt;
  return with_key(path_, key, [&] { return it->second.as_float(); });
}

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::nullopt;
  return with_key(path_, key, [&] { return it->second.as_string(); });
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

Tensor GgufFile::load_tensor(const std::string& name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (t == nullptr) fail(ErrorKind::NotFound, path_ + ": no tensor named '" + name + "'");
  Shape shape = t->shape();
  // F32 data that is suitably aligned (always, for alignment >= 4) is handed out as a view.
  if (t->type == GgmlType::F32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0)
    return Tensor::view(std::move(shape), reinterpret_cast<const float*>(t->data), mapping_);
  Tensor out(std::move(shape));
  if (out.numel() > 0) dequantize(t->type, t->data, out.data(), out.numel());
  return out;
}

}  // namespace attnscope
