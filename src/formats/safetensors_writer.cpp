// safetensors writer: used by tests and to produce MLX-style quantised checkpoints.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "formats/safetensors.h"

namespace attnscope {
using json = nlohmann::json;

void SafetensorsWriter::add(const std::string& name, StDtype dtype, const Shape& shape, std::vector<uint8_t> bytes) {
  if (static_cast<uint64_t>(shape_numel(shape)) * st_dtype_size(dtype) != bytes.size())
    fail(ErrorKind::InvalidArgument,
         "safetensors writer: '" + name + "' has " + std::to_string(bytes.size()) + " bytes for its shape");
  entries_.push_back({name, dtype, shape, std::move(bytes)});
}

void SafetensorsWriter::add_f32(const std::string& name, const Tensor& t) {
  std::vector<uint8_t> b(static_cast<size_t>(t.numel()) * 4);
  if (!b.empty()) std::memcpy(b.data(), t.data(), b.size());
  add(name, StDtype::F32, t.shape(), std::move(b));
}

void SafetensorsWriter::add_f16(const std::string& name, const Tensor& t) {
  std::vector<uint8_t> b(static_cast<size_t>(t.numel()) * 2);
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint16_t h = st_f32_to_f16(t.data()[i]);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
  add(name, StDtype::F16, t.shape(), std::move(b));
}

void SafetensorsWriter::add_bf16(const std::string& name, const Tensor& t) {
  std::vector<uint8_t> b(static_cast<size_t>(t.numel()) * 2);
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint16_t h = st_f32_to_bf16(t.data()[i]);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
  add(name, StDtype::BF16, t.shape(), std::move(b));
}

void SafetensorsWriter::add_u32(const std::string& name, const Shape& shape, const std::vector<uint32_t>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  add(name, StDtype::U32, shape, std::move(b));
}

void SafetensorsWriter::write(const std::string& path) const {
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t off = 0;
  for (const auto& e : entries_) {
    header[e.name] = {
        {"dtype", st_dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
    off += e.bytes.size();
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // keeps the data section 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(ErrorKind::Io, "cannot write " + tmp);
    uint8_t len[8];
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& e : entries_)
      out.write(reinterpret_cast<const char*>(e.bytes.data()), static_cast<std::streamsize>(e.bytes.size()));
    out.flush();
    if (!out) fail(ErrorKind::Io, "short write to " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(ErrorKind::Io, "cannot rename " + tmp + " to " + path + ": " + ec.message());
}

}  // namespace attnscope
