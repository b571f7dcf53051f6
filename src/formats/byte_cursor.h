// ByteCursor: bounds-checked little-endian reads from an untrusted byte range.
//
// Every read checks the remaining length first and throws ErrorKind::Format naming the field
// and the offset, so a truncated or hostile file can never make a parser read out of bounds.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "attnscope/error.h"

namespace attnscope::detail {

static_assert(std::endian::native == std::endian::little, "the file parsers read little-endian data by memcpy");

class ByteCursor {
 public:
  // `what` names the source in error messages (usually the file path).
  ByteCursor(const uint8_t* data, uint64_t size, std::string what) : data_(data), size_(size), what_(std::move(what)) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }
  const std::string& what() const { return what_; }
  const uint8_t* ptr() const { return data_ + pos_; }

  [[noreturn]] void error(const std::string& message) const {
    fail(ErrorKind::Format, what_ + ": " + message + " (at byte offset " + std::to_string(pos_) + ")");
  }

  // Ensures `n` more bytes exist; `field` names what was being read.
  void need(uint64_t n, const char* field) const {
    if (n > remaining())
      error(std::string("truncated: ") + field + " needs " + std::to_string(n) + " bytes, only " +
            std::to_string(remaining()) + " left in a file of " + std::to_string(size_));
  }

  template <class T>
  T read(const char* field) {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // A u64 length followed by that many bytes. The length is checked against the remaining
  // bytes before anything is allocated.
  std::string read_string(const char* field) {
    uint64_t len = read<uint64_t>(field);
    if (len > remaining())
      error(std::string("string length ") + std::to_string(len) + " of " + field + " exceeds the " +
            std::to_string(remaining()) + " bytes left in the file");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  void skip(uint64_t n, const char* field) {
    need(n, field);
    pos_ += n;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string what_;
};

}  // namespace attnscope::detail
