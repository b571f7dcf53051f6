#include "attnscope/npz.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "attnscope/error.h"
#include "tensor/half.h"

namespace attnscope {

namespace {

constexpr uint64_t k32 = 0xFFFFFFFFull;

void le16(std::string& s, uint16_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>(v >> 8);
}
void le32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void le64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// UTF-8 -> code points; malformed sequences become U+FFFD (one per bad byte).
std::vector<uint32_t> utf32(const std::string& s) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) ok = false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (ok && (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
               (len == 4 && cp < 0x10000)))
      ok = false;
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
    } else {
      out.push_back(cp);
      i += static_cast<size_t>(len);
    }
  }
  return out;
}

}  // namespace

std::string detail::npy_header(const std::string& descr, const Shape& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dict += ",";  // a Python 1-tuple
  dict += "), }";
  // Version 1.0: 2-byte header length; the whole header is padded to a multiple of 64 bytes.
  const size_t fixed = 10;
  size_t total = fixed + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  dict.append(total - fixed - dict.size() - 1, ' ');
  dict += '\n';
  if (dict.size() > 65535) fail(ErrorKind::InvalidArgument, "npy header too long");
  std::string h = "\x93NUMPY";
  h += static_cast<char>(1);
  h += static_cast<char>(0);
  le16(h, static_cast<uint16_t>(dict.size()));
  return h + dict;
}

NpzWriter::NpzWriter(const std::string& path, bool compress) : path_(path), compress_(compress) {
  file_ = std::fopen((path + ".tmp").c_str(), "wb");
  if (!file_) fail(ErrorKind::Io, "cannot write '" + path + ".tmp': " + std::strerror(errno));
}

NpzWriter::~NpzWriter() {
  if (file_) {
    std::fclose(file_);
    if (!finished_) std::remove((path_ + ".tmp").c_str());
  }
}

void NpzWriter::put(const void* p, size_t n) {
  if (n && std::fwrite(p, 1, n, file_) != n) fail(ErrorKind::Io, "write to '" + path_ + ".tmp' failed");
  pos_ += n;
}

namespace {

// Local file header; sizes and crc are patched in once the data is written.
std::string local_header(const std::string& name, bool z64, bool deflate, uint32_t crc, uint64_t size, uint64_t csize) {
  std::string lh;
  le32(lh, 0x04034b50);
  le16(lh, z64 ? 45 : 20);
  le16(lh, 0);                // flags
  le16(lh, deflate ? 8 : 0);  // method: deflate / stored
  le16(lh, 0);                // time
  le16(lh, 0x21);             // date: 1980-01-01
  le32(lh, crc);
  le32(lh, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(csize));
  le32(lh, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(size));
  le16(lh, static_cast<uint16_t>(name.size()));
  le16(lh, z64 ? 20 : 0);
  lh += name;
  if (z64) {
    le16(lh, 0x0001);
    le16(lh, 16);
    le64(lh, size);
    le64(lh, csize);
  }
  return lh;
}

}  // namespace

void NpzWriter::add_entry(const std::string& name_in, const std::string& descr, const Shape& shape, uint64_t nbytes,
                          const std::function<void(const Emit&)>& produce) {
  if (finished_) fail(ErrorKind::InvalidArgument, "npz writer already finished");
  const std::string name = name_in + ".npy";
  const std::string header = detail::npy_header(descr, shape);
  Entry e{name, 0, header.size() + nbytes, 0, pos_, false};
  // Deflate never grows data by more than ~0.1 %: keep a margin so the choice made before
  // writing holds for the compressed size too.
  e.z64 = e.size + e.size / 256 + 4096 >= k32 || e.offset >= k32;
  const std::string lh0 = local_header(name, e.z64, compress_, 0, 0, 0);
  put(lh0.data(), lh0.size());
  const uint64_t data_start = pos_;
  uLong crc = crc32(0L, Z_NULL, 0);
  z_stream zs{};
  std::vector<unsigned char> zbuf;
  if (compress_) {
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      fail(ErrorKind::Io, "zlib deflateInit failed");
    zbuf.resize(1 << 16);
  }
  auto feed = [&](const void* p, size_t n, bool last) {
    const auto* b = static_cast<const Bytef*>(p);
    for (size_t off = 0; off < n || (last && off == n);) {  // zlib takes 32-bit lengths
      const uInt chunk = static_cast<uInt>(std::min<size_t>(n - off, 1u << 30));
      if (chunk) crc = crc32(crc, b + off, chunk);  // (a null buffer would reset the crc)
      if (!compress_) {
        put(b + off, chunk);
      } else {
        zs.next_in = const_cast<Bytef*>(b + off);
        zs.avail_in = chunk;
        const int flush = last && off + chunk == n ? Z_FINISH : Z_NO_FLUSH;
        int rc;
        do {
          zs.next_out = zbuf.data();
          zs.avail_out = static_cast<uInt>(zbuf.size());
          rc = deflate(&zs, flush);
          put(zbuf.data(), zbuf.size() - zs.avail_out);
        } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
      }
      off += chunk;
      if (chunk == 0) break;
    }
  };
  try {
    feed(header.data(), header.size(), false);
    uint64_t given = 0;
    produce([&](const void* p, size_t n) {
      given += n;
      feed(p, n, false);
    });
    if (given != nbytes) fail(ErrorKind::InvalidArgument, "npz '" + name_in + "': data size does not match its shape");
    feed(nullptr, 0, true);
  } catch (...) {
    if (compress_) deflateEnd(&zs);
    throw;
  }
  if (compress_) deflateEnd(&zs);
  e.crc = static_cast<uint32_t>(crc);
  e.csize = pos_ - data_start;
  // Patch the local header with the real crc and sizes.
  const std::string lh = local_header(name, e.z64, compress_, e.crc, e.size, e.csize);
  if (std::fseek(file_, static_cast<long>(e.offset), SEEK_SET) != 0 ||
      std::fwrite(lh.data(), 1, lh.size(), file_) != lh.size() || std::fseek(file_, 0, SEEK_END) != 0)
    fail(ErrorKind::Io, "write to '" + path_ + ".tmp' failed");
  entries_.push_back(e);
}

void NpzWriter::add_f32(const std::string& name, const Shape& shape, const float* data) {
  const uint64_t n = static_cast<uint64_t>(shape_numel(shape)) * 4;
  add_entry(name, "<f4", shape, n, [&](const Emit& emit) { emit(data, static_cast<size_t>(n)); });
}

void NpzWriter::add_f16(const std::string& name, const Shape& shape, const float* data) {
  const int64_t n = shape_numel(shape);
  add_entry(name, "<f2", shape, static_cast<uint64_t>(n) * 2, [&](const Emit& emit) {
    std::vector<uint16_t> buf;
    for (int64_t i = 0; i < n; i += 1 << 20) {
      const int64_t m = std::min<int64_t>(n - i, 1 << 20);
      buf.resize(static_cast<size_t>(m));
      for (int64_t j = 0; j < m; ++j) buf[static_cast<size_t>(j)] = detail::f32_to_fp16(data[i + j]);
      emit(buf.data(), buf.size() * 2);
    }
  });
}

void NpzWriter::add_f64(const std::string& name, const Shape& shape, const double* data) {
  const uint64_t n = static_cast<uint64_t>(shape_numel(shape)) * 8;
  add_entry(name, "<f8", shape, n, [&](const Emit& emit) { emit(data, static_cast<size_t>(n)); });
}

void NpzWriter::add_i32(const std::string& name, const Shape& shape, const int32_t* data) {
  const uint64_t n = static_cast<uint64_t>(shape_numel(shape)) * 4;
  add_entry(name, "<i4", shape, n, [&](const Emit& emit) { emit(data, static_cast<size_t>(n)); });
}

void NpzWriter::add_strings(const std::string& name, const Shape& shape, const std::vector<std::string>& values) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    fail(ErrorKind::InvalidArgument, "npz '" + name + "': " + std::to_string(values.size()) + " strings for " +
                                         std::to_string(shape_numel(shape)) + " elements");
  std::vector<std::vector<uint32_t>> cps;
  size_t width = 1;
  for (const auto& v : values) {
    cps.push_back(utf32(v));
    width = std::max(width, cps.back().size());
  }
  std::vector<uint32_t> flat(values.size() * width, 0);  // little-endian on every supported host
  for (size_t i = 0; i < cps.size(); ++i) std::copy(cps[i].begin(), cps[i].end(), flat.begin() + i * width);
  add_entry(name, "<U" + std::to_string(width), shape, flat.size() * 4,
            [&](const Emit& emit) { emit(flat.data(), flat.size() * 4); });
}

void NpzWriter::finish() {
  if (finished_) return;
  const uint64_t cd_start = pos_;
  for (const Entry& e : entries_) {
    const bool z64 = e.z64;
    std::string ch;
    le32(ch, 0x02014b50);
    le16(ch, z64 ? 45 : 20);  // made by
    le16(ch, z64 ? 45 : 20);  // needed
    le16(ch, 0);
    le16(ch, compress_ ? 8 : 0);
    le16(ch, 0);
    le16(ch, 0x21);
    le32(ch, e.crc);
    le32(ch, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(e.csize));
    le32(ch, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(e.size));
    le16(ch, static_cast<uint16_t>(e.name.size()));
    le16(ch, z64 ? 28 : 0);  // extra
    le16(ch, 0);             // comment
    le16(ch, 0);             // disk
    le16(ch, 0);             // internal attrs
    le32(ch, 0);             // external attrs
    le32(ch, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(e.offset));
    ch += e.name;
    if (z64) {
      le16(ch, 0x0001);
      le16(ch, 24);
      le64(ch, e.size);
      le64(ch, e.csize);
      le64(ch, e.offset);
    }
    put(ch.data(), ch.size());
  }
  const uint64_t cd_size = pos_ - cd_start;
  const uint64_t n = entries_.size();
  const bool z64 = n >= 0xFFFF || cd_start >= k32 || cd_size >= k32;
  std::string end;
  if (z64) {
    const uint64_t z64_end = pos_;
    le32(end, 0x06064b50);
    le64(end, 44);
    le16(end, 45);
    le16(end, 45);
    le32(end, 0);
    le32(end, 0);
    le64(end, n);
    le64(end, n);
    le64(end, cd_size);
    le64(end, cd_start);
    le32(end, 0x07064b50);  // zip64 end locator
    le32(end, 0);
    le64(end, z64_end);
    le32(end, 1);
  }
  le32(end, 0x06054b50);
  le16(end, 0);
  le16(end, 0);
  le16(end, static_cast<uint16_t>(std::min<uint64_t>(n, 0xFFFF)));
  le16(end, static_cast<uint16_t>(std::min<uint64_t>(n, 0xFFFF)));
  le32(end, static_cast<uint32_t>(std::min<uint64_t>(cd_size, k32)));
  le32(end, static_cast<uint32_t>(std::min<uint64_t>(cd_start, k32)));
  le16(end, 0);
  put(end.data(), end.size());
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    fail(ErrorKind::Io, "closing '" + path_ + ".tmp' failed");
  }
  file_ = nullptr;
  if (std::rename((path_ + ".tmp").c_str(), path_.c_str()) != 0)
    fail(ErrorKind::Io, "cannot rename '" + path_ + ".tmp' to '" + path_ + "': " + std::strerror(errno));
  finished_ = true;
}

}  // namespace attnscope
