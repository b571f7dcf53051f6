// The Hugging Face hub: resolve "org/name[@revision]", download a model's files into the standard
// Hugging Face cache ($HF_HUB_CACHE or $HF_HOME/hub or ~/.cache/huggingface/hub, laid out as
// models--org--name/{blobs,snapshots/<commit>,refs/<revision>}), so files already fetched by
// Python tools are reused and the other way round.
#pragma once
#include <string>
#include <vector>

namespace attnscope::hub {

struct HubOptions {
  std::string endpoint;   // HF_ENDPOINT, else https://huggingface.co
  std::string token;      // HF_TOKEN (sent as a bearer token to the endpoint's host only)
  std::string cache_dir;  // HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
  bool offline = false;   // HF_HUB_OFFLINE=1: only the cache is used
  bool progress = true;   // a progress bar on stderr when stderr is a terminal
  int max_retries = 3;    // attempts per file when a transfer breaks off (each resumes)

  // Defaults filled from the environment variables above.
  static HubOptions from_env();
};

struct RepoRef {
  std::string repo_id;            // "org/name"
  std::string revision = "main";  // branch, tag or commit
  // "org/name" or "org/name@revision"; InvalidArgument for anything else.
  static RepoRef parse(const std::string& spec);
};

// True if `spec` has the shape of a hub model id ("org/name[@rev]") rather than a local path.
bool looks_like_repo_id(const std::string& spec);

// The cache folder of one repo: <cache>/models--org--name.
std::string repo_cache_dir(const RepoRef& ref, const HubOptions& options);

// Makes sure config.json, the safetensors weights (single file, or index + every shard) and the
// tokenizer files the repo has are in the cache, downloading what is missing, and returns the
// snapshot directory (<cache>/models--org--name/snapshots/<commit>). Offline, or when the hub
// cannot be reached, a complete cached snapshot of the revision is used. Errors say what failed:
// Network (no connection, broken transfer, sha256 mismatch, 401 with advice to set HF_TOKEN),
// NotFound (no such repo, revision or file; offline and not cached).
std::string download_model(const std::string& spec, const HubOptions& options = HubOptions::from_env());

// One file of a repo; returns its path in the snapshot. Same caching and errors as above.
std::string download_file(const RepoRef& ref, const std::string& filename,
                          const HubOptions& options = HubOptions::from_env());

// Lowercase hex SHA-256 of a file (used to check LFS downloads).
std::string sha256_file(const std::string& path);
std::string sha256_hex(const void* data, size_t n);

}  // namespace attnscope::hub
