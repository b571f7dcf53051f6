// MappedFile: a read-only view of a whole file's bytes, kept alive by shared ownership.
//
// Model loaders (GGUF, safetensors) parse headers straight out of the mapping and hand out
// zero-copy tensor views that hold a shared_ptr to it, so the file stays mapped for as long as
// any view lives. The same class can also wrap an in-memory buffer, which lets tests feed
// hostile or truncated byte strings to a parser without touching the file system.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnscope::detail {

class MappedFile {
 public:
  // Maps `path` read-only (private, whole file). Errors: NotFound if the file does not exist,
  // Io if it cannot be opened, stat'ed or mapped (or is not a regular file).
  // An empty file is valid and yields size() == 0 and data() == nullptr.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  // Wraps a copy-free, owned buffer; `name` stands in for the path in error messages.
  static std::shared_ptr<const MappedFile> from_bytes(std::vector<uint8_t> bytes,
                                                      std::string name = "<memory>");

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // True if the bytes come from mmap (false for from_bytes).
  bool is_mapped() const { return mapped_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> owned_;  // from_bytes storage
};

}  // namespace attnscope::detail
