// POSIX implementation of MappedFile (see mapped_file.h).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "attnscope/error.h"
#include "formats/mapped_file.h"

namespace attnscope::detail {

namespace {
// Closes the descriptor on every exit path; the mapping itself does not need it open.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) fail(ErrorKind::NotFound, "no such file: " + path);
    fail(ErrorKind::Io, "cannot open " + path + ": " + std::strerror(err));
  }
  FdGuard guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    fail(ErrorKind::Io, "cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(ErrorKind::Io, path + " is not a regular file");

  std::shared_ptr<MappedFile> mf(new MappedFile());
  mf->path_ = path;
  mf->size_ = static_cast<uint64_t>(st.st_size);
  if (mf->size_ == 0) return mf;  // mmap of zero bytes is an error; an empty view is not
  void* p = ::mmap(nullptr, static_cast<size_t>(mf->size_), PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) fail(ErrorKind::Io, "cannot mmap " + path + ": " + std::strerror(errno));
  mf->data_ = static_cast<const uint8_t*>(p);
  mf->mapped_ = true;
  return mf;
}

std::shared_ptr<const MappedFile> MappedFile::from_bytes(std::vector<uint8_t> bytes,
                                                         std::string name) {
  std::shared_ptr<MappedFile> mf(new MappedFile());
  mf->path_ = std::move(name);
  mf->owned_ = std::move(bytes);
  mf->size_ = mf->owned_.size();
  mf->data_ = mf->owned_.empty() ? nullptr : mf->owned_.data();
  return mf;
}

MappedFile::~MappedFile() {
  if (mapped_ && data_ != nullptr)
    ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
}

}  // namespace attnscope::detail
