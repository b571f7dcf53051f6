// safetensors reader: map the file, validate the header completely, then hand out views.
#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "formats/mapped_file.h"

namespace attnscope {
namespace {

using json = nlohmann::json;

bool parse_dtype(const std::string& s, StDtype& out) {
  static const std::pair<const char*, StDtype> known[] = {{"F32", StDtype::F32},   {"F16", StDtype::F16},
                                                          {"BF16", StDtype::BF16}, {"I32", StDtype::I32},
                                                          {"U32", StDtype::U32},   {"U8", StDtype::U8}};
  for (const auto& [name, d] : known)
    if (s == name) {
      out = d;
      return true;
    }
  return false;
}

// Deep nesting is legal JSON but nothing a header needs; refuse it before parsing.
void check_nesting(const char* p, uint64_t n, const std::string& where) {
  int depth = 0;
  bool in_string = false;
  for (uint64_t i = 0; i < n; ++i) {
    char c = p[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > 16) fail(ErrorKind::Format, where + ": header JSON nested deeper than 16 levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

}  // namespace

std::string st_dtype_name(StDtype dtype) {
  switch (dtype) {
    case StDtype::F32:
      return "F32";
    case StDtype::F16:
      return "F16";
    case StDtype::BF16:
      return "BF16";
    case StDtype::I32:
      return "I32";
    case StDtype::U32:
      return "U32";
    case StDtype::U8:
      return "U8";
  }
  return "?";
}

size_t st_dtype_size(StDtype dtype) {
  switch (dtype) {
    case StDtype::F32:
    case StDtype::I32:
    case StDtype::U32:
      return 4;
    case StDtype::F16:
    case StDtype::BF16:
      return 2;
    case StDtype::U8:
      return 1;
  }
  return 1;
}

float st_f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        mant <<= 1;
        ++e;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float st_bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t st_f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

uint16_t st_f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (ax < 0x38800000u) {                                               // subnormal or zero in half precision
    float a;
    std::memcpy(&a, &ax, 4);
    // Scaled so that one half subnormal step is 1; nearbyint rounds to even.
    float scaled = a * 16777216.0f;  // 2^24
    uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t e = ((ax >> 23) - 112) << 10;
  uint32_t m = (ax >> 13) & 0x3ffu;
  uint32_t rest = ax & 0x1fffu;
  uint32_t h = e | m;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: fine
  return static_cast<uint16_t>(sign | h);
}

void st_to_float(const SafetensorsTensorInfo& info, float* dst) {
  const uint8_t* p = info.data;
  int64_t n = info.numel();
  switch (info.dtype) {
    case StDtype::F32:
      std::memcpy(dst, p, static_cast<size_t>(n) * 4);
      break;
    case StDtype::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = st_f16_to_f32(h);
      }
      break;
    case StDtype::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = st_bf16_to_f32(h);
      }
      break;
    case StDtype::I32:
      for (int64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        dst[i] = static_cast<float>(v);
      }
      break;
    case StDtype::U32:
      for (int64_t i = 0; i < n; ++i) {
        uint32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        dst[i] = static_cast<float>(v);
      }
      break;
    case StDtype::U8:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(p[i]);
      break;
  }
}

Tensor st_to_tensor(const SafetensorsTensorInfo& info, const std::shared_ptr<const void>& keepalive) {
  if (info.dtype == StDtype::F32 && reinterpret_cast<uintptr_t>(info.data) % alignof(float) == 0)
    return Tensor::view(info.shape, reinterpret_cast<const float*>(info.data), keepalive);
  Tensor t(info.shape);
  st_to_float(info, t.data());
  return t;
}

SafetensorsFile SafetensorsFile::open(const std::string& path, FileBacking backing) {
  SafetensorsFile f;
  f.path_ = path;
  const auto file = detail::MappedFile::open(path, backing);
  f.size_ = file->size();
  if (f.size_ < 8)
    fail(ErrorKind::Format, "safetensors file " + path + " is " + std::to_string(f.size_) +
                                " bytes: too short for the 8-byte header length");
  f.mapping_ = std::shared_ptr<const void>(file, file->data());
  const uint8_t* base = file->data();

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base[i];
  if (header_len > kSafetensorsMaxHeader)
    fail(ErrorKind::Format, path + ": header length " + std::to_string(header_len) + " bytes exceeds the " +
                                std::to_string(kSafetensorsMaxHeader) + "-byte limit");
  if (header_len > f.size_ - 8)
    fail(ErrorKind::Format, path + ": header length " + std::to_string(header_len) +
                                " runs past the end of the file (" + std::to_string(f.size_) + " bytes)");
  if (header_len < 2)
    fail(ErrorKind::Format, path + ": header of " + std::to_string(header_len) + " bytes cannot hold a JSON object");
  const char* hp = reinterpret_cast<const char*>(base + 8);
  check_nesting(hp, header_len, path);

  json header;
  try {
    header = json::parse(hp, hp + header_len);
  } catch (const json::exception& e) {
    fail(ErrorKind::Format, path + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) fail(ErrorKind::Format, path + ": header is not a JSON object");

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = f.size_ - data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    const std::string where = path + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      if (!v.is_object()) fail(ErrorKind::Format, path + ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail(ErrorKind::Format, path + ": __metadata__ value '" + m.key() + "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail(ErrorKind::Format, where + " is not a JSON object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) fail(ErrorKind::Format, where + " has no string 'dtype'");
    if (sh == v.end() || !sh->is_array()) fail(ErrorKind::Format, where + " has no array 'shape'");
    if (off == v.end() || !off->is_array() || off->size() != 2)
      fail(ErrorKind::Format, where + " has no two-element 'data_offsets'");

    SafetensorsTensorInfo info;
    info.name = name;
    const std::string dts = dt->get<std::string>();
    if (!parse_dtype(dts, info.dtype)) {
      static const char* known_unsupported[] = {"F64",     "I64",     "U64",     "I16", "U16",     "I8",     "BOOL",
                                                "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2"};
      for (const char* k : known_unsupported)
        if (dts == k)
          fail(ErrorKind::Unsupported,
               where + ": dtype " + dts + " is not supported (F32, F16, BF16, I32, U32, U8 are)");
      fail(ErrorKind::Format, where + ": unknown dtype '" + dts + "'");
    }
    // Element count with overflow checks: a hostile shape must not wrap around.
    uint64_t count = 1;
    for (const json& d : *sh) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        fail(ErrorKind::Format, where + ": shape entries must be non-negative integers");
      uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / dim))
        fail(ErrorKind::Format, where + ": shape is absurdly large");
      count *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const json& o : *off)
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<int64_t>() >= 0))
        fail(ErrorKind::Format, where + ": data_offsets must be non-negative integers");
    info.begin = (*off)[0].get<uint64_t>();
    info.end = (*off)[1].get<uint64_t>();
    if (info.end < info.begin)
      fail(ErrorKind::Format,
           where + ": data_offsets end " + std::to_string(info.end) + " is before begin " + std::to_string(info.begin));
    if (info.end > data_size)
      fail(ErrorKind::Format, where + ": data_offsets [" + std::to_string(info.begin) + ", " +
                                  std::to_string(info.end) + ") run past the data section (" +
                                  std::to_string(data_size) + " bytes)");
    uint64_t expect = count * st_dtype_size(info.dtype);
    if (expect != info.nbytes())
      fail(ErrorKind::Format, where + ": shape " + Tensor::view(info.shape, nullptr, nullptr).shape_str() + " of " +
                                  dts + " needs " + std::to_string(expect) + " bytes but data_offsets give " +
                                  std::to_string(info.nbytes()));
    info.data = base + data_start + info.begin;
    f.tensors_.push_back(std::move(info));
  }

  // No two tensors may share bytes.
  std::vector<const SafetensorsTensorInfo*> by_offset;
  for (const auto& t : f.tensors_)
    if (t.nbytes() > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail(ErrorKind::Format, path + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
                                  "' have overlapping data ranges");
  // nlohmann's object keeps keys sorted, so tensors_ is sorted by name: find() can bisect.
  return f;
}

const SafetensorsTensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const SafetensorsTensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

const SafetensorsTensorInfo& SafetensorsFile::at(const std::string& name) const {
  const auto* t = find(name);
  if (!t) fail(ErrorKind::NotFound, "tensor '" + name + "' not found in " + path_);
  return *t;
}

Tensor SafetensorsFile::load_tensor(const std::string& name) const { return st_to_tensor(at(name), mapping_); }

}  // namespace attnscope
