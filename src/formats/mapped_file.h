// MappedFile: a read-only view of a whole file's bytes, kept alive by shared ownership: the file
// mapped, or read into the process's own memory (FileBacking, attnscope/tensor.h).
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

#include "attnscope/tensor.h"

namespace attnscope::detail {

class MappedFile {
 public:
  // The whole of `path`, read-only: mapped (private) or read into anonymous memory aligned to
  // 2 MiB and advised for huge pages (Memory). Errors: NotFound if the file does not exist, Io if
  // it cannot be opened, stat'ed, mapped, allocated or read in full (or is not a regular file).
  // An empty file is valid and yields size() == 0 and data() == nullptr.
  static std::shared_ptr<const MappedFile> open(const std::string& path, FileBacking backing = FileBacking::Mapped);
  // Wraps a copy-free, owned buffer; `name` stands in for the path in error messages.
  static std::shared_ptr<const MappedFile> from_bytes(std::vector<uint8_t> bytes, std::string name = "<memory>");

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // How the bytes are held (from_bytes: Memory).
  FileBacking backing() const { return backing_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  uint64_t map_len_ = 0;  // bytes to munmap (Memory rounds the size up to 2 MiB)
  FileBacking backing_ = FileBacking::Mapped;
  std::vector<uint8_t> owned_;  // from_bytes storage
};

}  // namespace attnscope::detail
