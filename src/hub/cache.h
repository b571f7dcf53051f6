// The Hugging Face cache layout (shared with huggingface_hub):
//   <cache>/models--org--name/refs/<revision>            the commit a branch/tag pointed to
//   <cache>/models--org--name/blobs/<etag>               file contents, named by etag (sha256 for LFS)
//   <cache>/models--org--name/blobs/<etag>.incomplete    a download in progress (resumable)
//   <cache>/models--org--name/snapshots/<commit>/<file>  relative symlink to ../../blobs/<etag>
#pragma once
#include <optional>
#include <string>

namespace attnscope::hub::detail {

bool is_commit_hash(const std::string& s);
// A file name from the hub: relative, no "..", no empty segments. InvalidArgument otherwise.
void check_repo_filename(const std::string& name);

// An exclusive lock on a file (flock), released when destroyed. Blocks until it is free.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

class RepoCache {
 public:
  explicit RepoCache(std::string repo_dir) : dir_(std::move(repo_dir)) {}
  const std::string& dir() const { return dir_; }
  std::string blob_path(const std::string& etag) const;
  std::string snapshot_dir(const std::string& commit) const;
  std::string snapshot_file(const std::string& commit, const std::string& filename) const;
  // Commit for a revision: the revision itself if it is a commit hash with a snapshot, otherwise
  // refs/<revision>.
  std::optional<std::string> commit_for(const std::string& revision) const;
  void write_ref(const std::string& revision, const std::string& commit) const;
  // Points snapshots/<commit>/<filename> at blobs/<etag> (atomically: temp symlink + rename).
  void link(const std::string& commit, const std::string& filename, const std::string& etag) const;
  // <cache>/.locks/<repo dir name>/<etag>.lock, as the Hugging Face cache keeps its locks: held
  // (flock) while blobs/<etag> is downloaded, so two processes never write the same blob.
  std::string lock_path(const std::string& etag) const;
  // A snapshot holding config.json and all its safetensors weights.
  bool snapshot_complete(const std::string& commit) const;

 private:
  std::string dir_;
};

}  // namespace attnscope::hub::detail
