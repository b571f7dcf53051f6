// POSIX implementation of MappedFile (see mapped_file.h).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

constexpr uint64_t kHugePage = uint64_t{2} << 20;

// `len` bytes (a multiple of 2 MiB) of private anonymous memory starting on a 2 MiB boundary, so
// that the kernel can back all of it with transparent huge pages: one TLB entry per 2 MiB of
// weights instead of 512. Over-allocates by 2 MiB and returns the ends to the kernel.
void* aligned_anonymous(uint64_t len, const std::string& path) {
  void* p = ::mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    fail(ErrorKind::Io,
         "cannot allocate " + std::to_string(len >> 20) + " MiB to read " + path + " into: " + std::strerror(errno));
  auto* base = static_cast<uint8_t*>(p);
  auto* start = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) & ~(kHugePage - 1));
  if (start > base) ::munmap(base, static_cast<size_t>(start - base));
  if (uint8_t* end = start + len; end < base + len + kHugePage)
    ::munmap(end, static_cast<size_t>(base + len + kHugePage - end));
  ::madvise(start, static_cast<size_t>(len), MADV_HUGEPAGE);  // a hint: without THP, 4 KiB pages
  return start;
}

// Reads the whole file into dst (pread in 64 MiB pieces, retried on EINTR).
void read_all(int fd, uint8_t* dst, uint64_t size, const std::string& path) {
  for (uint64_t done = 0; done < size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(size - done, uint64_t{64} << 20));
    const ssize_t n = ::pread(fd, dst + done, want, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ErrorKind::Io, "cannot read " + path + ": " + std::strerror(errno));
    if (n == 0)
      fail(ErrorKind::Io, "cannot read " + path + ": it ended at byte " + std::to_string(done) + " of " +
                              std::to_string(size) + " (changed while being read?)");
    done += static_cast<uint64_t>(n);
  }
}
}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path, FileBacking backing) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) fail(ErrorKind::NotFound, "no such file: " + path);
    fail(ErrorKind::Io, "cannot open " + path + ": " + std::strerror(err));
  }
  FdGuard guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(ErrorKind::Io, "cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(ErrorKind::Io, path + " is not a regular file");

  std::shared_ptr<MappedFile> mf(new MappedFile());
  mf->path_ = path;
  mf->size_ = static_cast<uint64_t>(st.st_size);
  mf->backing_ = backing;
  if (mf->size_ == 0) return mf;  // mmap of zero bytes is an error; an empty view is not
  if (backing == FileBacking::Memory) {
    const uint64_t len = (mf->size_ + kHugePage - 1) / kHugePage * kHugePage;
    auto* p = static_cast<uint8_t*>(aligned_anonymous(len, path));
    mf->data_ = p;
    mf->map_len_ = len;  // from here on the destructor unmaps it, also if the read fails
    read_all(fd, p, mf->size_, path);
    ::mprotect(p, static_cast<size_t>(len), PROT_READ);  // read-only, as a mapping of the file is
    return mf;
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(mf->size_), PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) fail(ErrorKind::Io, "cannot mmap " + path + ": " + std::strerror(errno));
  mf->data_ = static_cast<const uint8_t*>(p);
  mf->map_len_ = mf->size_;
  return mf;
}

std::shared_ptr<const MappedFile> MappedFile::from_bytes(std::vector<uint8_t> bytes, std::string name) {
  std::shared_ptr<MappedFile> mf(new MappedFile());
  mf->path_ = std::move(name);
  mf->owned_ = std::move(bytes);
  mf->size_ = mf->owned_.size();
  mf->data_ = mf->owned_.empty() ? nullptr : mf->owned_.data();
  mf->backing_ = FileBacking::Memory;
  return mf;
}

MappedFile::~MappedFile() {
  if (map_len_ > 0) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(map_len_));
}

}  // namespace attnscope::detail
