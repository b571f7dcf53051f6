// The Hugging Face cache folders: refs, blobs and snapshot symlinks.
#include "hub/cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/error.h"

namespace attnscope::hub::detail {
namespace fs = std::filesystem;

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void check_repo_filename(const std::string& name) {
  bool ok = !name.empty() && name.front() != '/' && name.find('\\') == std::string::npos &&
            name.find('\0') == std::string::npos;
  std::stringstream ss(name);
  std::string seg;
  while (ok && std::getline(ss, seg, '/'))
    if (seg.empty() || seg == "." || seg == "..") ok = false;
  if (!ok || name.back() == '/') fail(ErrorKind::InvalidArgument, "unsafe file name from the hub: '" + name + "'");
}

FileLock::FileLock(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(ErrorKind::Io, "cannot open the lock file " + path + ": " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    fail(ErrorKind::Io, "cannot lock " + path + ": " + std::strerror(err));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

std::string RepoCache::lock_path(const std::string& etag) const {
  const fs::path repo(dir_);
  return (repo.parent_path() / ".locks" / repo.filename() / (etag + ".lock")).string();
}

std::string RepoCache::blob_path(const std::string& etag) const { return (fs::path(dir_) / "blobs" / etag).string(); }

std::string RepoCache::snapshot_dir(const std::string& commit) const {
  return (fs::path(dir_) / "snapshots" / commit).string();
}

std::string RepoCache::snapshot_file(const std::string& commit, const std::string& filename) const {
  return (fs::path(snapshot_dir(commit)) / filename).string();
}

std::optional<std::string> RepoCache::commit_for(const std::string& revision) const {
  std::error_code ec;
  if (is_commit_hash(revision) && fs::is_directory(snapshot_dir(revision), ec)) return revision;
  std::ifstream in(fs::path(dir_) / "refs" / revision);
  std::string commit;
  if (in && std::getline(in, commit)) {
    while (!commit.empty() && (commit.back() == '\n' || commit.back() == '\r' || commit.back() == ' '))
      commit.pop_back();
    if (is_commit_hash(commit)) return commit;
  }
  return std::nullopt;
}

void RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit) return;
  fs::path p = fs::path(dir_) / "refs" / revision;
  fs::create_directories(p.parent_path());
  fs::path tmp = p.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << commit;
    if (!out) fail(ErrorKind::Io, "cannot write " + tmp.string());
  }
  fs::rename(tmp, p);
}

void RepoCache::link(const std::string& commit, const std::string& filename, const std::string& etag) const {
  fs::path dst = snapshot_file(commit, filename);
  fs::create_directories(dst.parent_path());
  // Relative, like huggingface_hub: ../../blobs/<etag> plus one ".." per folder in filename.
  fs::path rel = "..";
  rel /= "..";
  for (char c : filename)
    if (c == '/') rel /= "..";
  rel /= "blobs";
  rel /= etag;
  fs::path tmp = dst.string() + ".tmp" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(rel, tmp, ec);
  if (ec) {  // file systems without symlinks: a copy is what huggingface_hub falls back to too
    fs::copy_file(blob_path(etag), tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) fail(ErrorKind::Io, "cannot place " + dst.string() + ": " + ec.message());
  }
  fs::rename(tmp, dst, ec);
  if (ec) fail(ErrorKind::Io, "cannot place " + dst.string() + ": " + ec.message());
}

bool RepoCache::snapshot_complete(const std::string& commit) const {
  std::error_code ec;
  fs::path snap = snapshot_dir(commit);
  // fs::exists follows the symlink: a dangling link (blob deleted) counts as missing.
  if (!fs::exists(snap / "config.json", ec)) return false;
  if (fs::exists(snap / "model.safetensors", ec)) return true;
  fs::path index = snap / "model.safetensors.index.json";
  if (!fs::exists(index, ec)) return false;
  try {
    std::ifstream in(index);
    auto j = nlohmann::json::parse(in);
    for (auto& [name, shard] : j.at("weight_map").items()) {
      (void)name;
      if (!shard.is_string() || !fs::exists(snap / shard.get<std::string>(), ec)) return false;
    }
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace attnscope::hub::detail
