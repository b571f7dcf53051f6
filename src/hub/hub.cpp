// Hub client: resolve a repo revision, download the files a model needs into the HF cache.
#include "attnscope/hub.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "attnscope/error.h"
#include "hub/cache.h"
#include "hub/http.h"

namespace attnscope::hub {
namespace fs = std::filesystem;
using json = nlohmann::json;
using detail::FileLock;
using detail::HttpRequest;
using detail::HttpResponse;
using detail::RepoCache;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool env_true(const char* name) {
  std::string v = env(name);
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

bool valid_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool valid_segment(const std::string& s) {
  if (s.empty() || s.size() > 96 || s == "." || s == ".." || s.find("--") != std::string::npos) return false;
  for (char c : s)
    if (!valid_name_char(c)) return false;
  return true;
}

std::string url_escape(const std::string& s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (valid_name_char(static_cast<char>(c)) || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string resolve_url(const HubOptions& o, const RepoRef& ref, const std::string& rev, const std::string& file) {
  return o.endpoint + "/" + ref.repo_id + "/resolve/" + url_escape(rev, false) + "/" + url_escape(file, true);
}

std::string normalize_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

bool is_sha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A non-2xx answer to an error that says what failed and what to do.
[[noreturn]] void fail_status(const HttpResponse& r, const HubOptions& o, const RepoRef& ref, const std::string& what) {
  const std::string code = r.header("x-error-code");
  const std::string msg = r.header("x-error-message");
  const std::string tail = msg.empty() ? "" : " (hub says: " + msg + ")";
  const std::string repo = ref.repo_id + "@" + ref.revision;
  if (code == "GatedRepo" || ((r.status == 401 || r.status == 403) && code.empty())) {
    if (o.token.empty())
      fail(ErrorKind::Network, "HTTP " + std::to_string(r.status) + " for " + what + " of " + repo +
                                   ": the model is gated or private; accept its terms on the hub and set HF_TOKEN" +
                                   tail);
    fail(ErrorKind::Network, "HTTP " + std::to_string(r.status) + " for " + what + " of " + repo +
                                 ": the token in HF_TOKEN was refused or has no access to this gated/private model" +
                                 tail);
  }
  if (code == "RepoNotFound")
    fail(ErrorKind::NotFound, "repository '" + ref.repo_id + "' not found on " + o.endpoint +
                                  (o.token.empty() ? " (if it is private or gated, set HF_TOKEN)" : "") + tail);
  if (code == "RevisionNotFound")
    fail(ErrorKind::NotFound, "revision '" + ref.revision + "' not found in " + ref.repo_id + tail);
  if (code == "EntryNotFound" || r.status == 404)
    fail(ErrorKind::NotFound,
         "HTTP 404 for " + what + " of " + repo + ": no such repository, revision or file on " + o.endpoint + tail);
  fail(ErrorKind::Network,
       "HTTP " + std::to_string(r.status) + " for " + what + " of " + repo + " from " + o.endpoint + tail);
}

[[noreturn]] void fail_transport(const HttpResponse& r, const HubOptions& o, const RepoRef& ref,
                                 const std::string& what) {
  fail(ErrorKind::Network, std::string(r.unreachable ? "cannot reach " : "transfer from ") + o.endpoint +
                               (r.unreachable ? "" : " failed") + " while fetching " + what + " of " + ref.repo_id +
                               "@" + ref.revision + ": " + r.error +
                               (r.unreachable ? " (no network? HF_HUB_OFFLINE=1 uses only the cache)" : ""));
}

uint64_t file_size_or_zero(const std::string& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

bool show_progress(const HubOptions& o) { return o.progress && ::isatty(STDERR_FILENO); }

// Where a revision's file lives on the hub: etag (blob name), size, commit.
struct FileMeta {
  std::string etag, commit, url;
  uint64_t size = 0;
  bool lfs = false;
};

FileMeta head_file(const HubOptions& o, const RepoRef& ref, const std::string& rev, const std::string& filename) {
  HttpRequest req;
  req.url = resolve_url(o, ref, rev, filename);
  req.token = o.token;
  req.head = true;
  req.follow_redirects = false;  // the hub's LFS redirect carries X-Linked-Etag; the CDN's answer does not
  HttpResponse r;
  for (int hop = 0; hop < 6; ++hop) {
    r = detail::http_fetch(req);
    if (r.transport_error) fail_transport(r, o, ref, filename);
    if (r.status >= 300 && r.status < 400) {
      std::string loc = r.header("location");
      // Same-host (relative) redirects, e.g. a renamed repo, are followed; a redirect to another
      // host is the LFS/CDN one, whose headers already say everything.
      if (!loc.empty() && loc.front() == '/' && r.header("x-linked-etag").empty()) {
        req.url = o.endpoint + loc;
        continue;
      }
    }
    break;
  }
  if (r.status >= 400) fail_status(r, o, ref, "'" + filename + "'");
  FileMeta m;
  m.url = req.url;
  m.lfs = !r.header("x-linked-etag").empty();
  m.etag = normalize_etag(m.lfs ? r.header("x-linked-etag") : r.header("etag"));
  m.commit = r.header("x-repo-commit");
  std::string size = m.lfs ? r.header("x-linked-size") : r.header("content-length");
  if (!size.empty()) m.size = std::strtoull(size.c_str(), nullptr, 10);
  if (m.etag.empty() || m.etag.find('/') != std::string::npos || m.etag.find("..") != std::string::npos)
    fail(ErrorKind::Network,
         "the hub gave no usable ETag for '" + filename + "' of " + ref.repo_id + " (" + m.etag + "): cannot cache it");
  return m;
}

// Downloads into blobs/<etag>.incomplete (resuming what is there), checks size and, for LFS,
// the sha256, then renames it to blobs/<etag>. Nothing half-written ever has the final name, and
// the blob's lock keeps a second process (or thread) from writing the same .incomplete: it waits,
// then finds the finished blob.
void fetch_blob(const HubOptions& o, const RepoRef& ref, const RepoCache& cache, const FileMeta& m,
                const std::string& filename) {
  const std::string blob = cache.blob_path(m.etag);
  if (fs::exists(blob)) return;
  const FileLock lock(cache.lock_path(m.etag));
  if (fs::exists(blob)) return;  // another process finished it while we waited
  fs::create_directories(fs::path(blob).parent_path());
  const std::string part = blob + ".incomplete";
  HttpResponse last;
  for (int attempt = 0; attempt < std::max(1, o.max_retries); ++attempt) {
    uint64_t have = file_size_or_zero(part);
    if (m.size > 0 && have == m.size) break;
    if (m.size > 0 && have > m.size) {
      fs::remove(part);
      have = 0;
    }
    HttpRequest req;
    req.url = m.url;
    req.token = o.token;
    req.range_from = have;
    last = detail::http_download(req, part, show_progress(o) ? filename : "", m.size);
    if (last.status == 416) {  // our partial file is not a prefix the server recognises
      fs::remove(part);
      continue;
    }
    if (last.transport_error) {
      if (last.unreachable) fail_transport(last, o, ref, "'" + filename + "'");
      continue;  // broke off midway: the next attempt resumes from what arrived
    }
    if (last.status != 200 && last.status != 206) fail_status(last, o, ref, "'" + filename + "'");
    if (m.size == 0 || file_size_or_zero(part) == m.size) break;
  }
  const uint64_t got = file_size_or_zero(part);
  if (m.size > 0 && got != m.size)
    fail(ErrorKind::Network, "download of '" + filename + "' from " + ref.repo_id + " broke off at " +
                                 std::to_string(got) + " of " + std::to_string(m.size) + " bytes" +
                                 (last.error.empty() ? "" : " (" + last.error + ")") +
                                 "; the part is kept and the next attempt resumes it");
  if (m.lfs && is_sha256(m.etag)) {
    const std::string sha = sha256_file(part);
    if (sha != m.etag) {
      fs::remove(part);
      fail(ErrorKind::Network, "sha256 mismatch for '" + filename + "' of " + ref.repo_id + ": the hub says " + m.etag +
                                   ", the download has " + sha + "; the file was discarded");
    }
  }
  std::error_code ec;
  fs::rename(part, blob, ec);
  if (ec) fail(ErrorKind::Io, "cannot move " + part + " to " + blob + ": " + ec.message());
}

std::string fetch_into_snapshot(const HubOptions& o, const RepoRef& ref, const RepoCache& cache,
                                const std::string& commit, const std::string& filename) {
  detail::check_repo_filename(filename);
  const std::string dst = cache.snapshot_file(commit, filename);
  if (fs::exists(dst)) return dst;
  FileMeta m = head_file(o, ref, commit, filename);
  fetch_blob(o, ref, cache, m, filename);
  cache.link(commit, filename, m.etag);
  return dst;
}

// A complete cached snapshot of the revision, or an error saying why there is none.
std::string cached_snapshot(const HubOptions& o, const RepoRef& ref, const std::string& why) {
  RepoCache cache(repo_cache_dir(ref, o));
  auto commit = cache.commit_for(ref.revision);
  if (commit && cache.snapshot_complete(*commit)) return cache.snapshot_dir(*commit);
  fail(ErrorKind::NotFound, why + ", and " + ref.repo_id + "@" + ref.revision +
                                (commit ? " is only partly in the cache " : " is not in the cache ") + cache.dir());
}

// The revision's commit and file list from the hub's model API.
std::pair<std::string, std::vector<std::string>> repo_info(const HubOptions& o, const RepoRef& ref, HttpResponse& r) {
  HttpRequest req;
  req.url = o.endpoint + "/api/models/" + ref.repo_id + "/revision/" + url_escape(ref.revision, false);
  req.token = o.token;
  r = detail::http_fetch(req, 32ull << 20);
  if (r.transport_error) return {};
  if (r.status >= 400) fail_status(r, o, ref, "the repository information");
  json j;
  try {
    j = json::parse(r.body);
  } catch (const json::exception&) {
    fail(ErrorKind::Network, "the hub's answer for " + ref.repo_id + "@" + ref.revision + " is not JSON");
  }
  std::string sha = j.value("sha", "");
  if (!detail::is_commit_hash(sha))
    fail(ErrorKind::Network, "the hub gave no commit hash for " + ref.repo_id + "@" + ref.revision);
  std::vector<std::string> files;
  if (j.contains("siblings") && j["siblings"].is_array())
    for (const auto& s : j["siblings"])
      if (s.is_object() && s.contains("rfilename") && s["rfilename"].is_string())
        files.push_back(s["rfilename"].get<std::string>());
  return {sha, files};
}

}  // namespace

HubOptions HubOptions::from_env() {
  HubOptions o;
  o.endpoint = env("HF_ENDPOINT");
  if (o.endpoint.empty()) o.endpoint = "https://huggingface.co";
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  o.token = env("HF_TOKEN");
  if (o.token.empty()) o.token = env("HUGGING_FACE_HUB_TOKEN");
  o.cache_dir = env("HF_HUB_CACHE");
  if (o.cache_dir.empty()) {
    std::string home = env("HF_HOME");
    if (home.empty()) {
      std::string xdg = env("XDG_CACHE_HOME");
      home = xdg.empty() ? env("HOME") + "/.cache/huggingface" : xdg + "/huggingface";
    }
    o.cache_dir = home + "/hub";
  }
  o.offline = env_true("HF_HUB_OFFLINE");
  return o;
}

RepoRef RepoRef::parse(const std::string& spec) {
  RepoRef r;
  std::string id = spec;
  auto at = spec.find('@');
  if (at != std::string::npos) {
    id = spec.substr(0, at);
    r.revision = spec.substr(at + 1);
  }
  auto slash = id.find('/');
  if (slash == std::string::npos || !valid_segment(id.substr(0, slash)) || !valid_segment(id.substr(slash + 1)))
    fail(ErrorKind::InvalidArgument, "'" + spec + "' is not a hub model id (expected org/name or org/name@revision)");
  bool rev_ok = !r.revision.empty() && r.revision.size() < 256 && r.revision.front() != '/' && r.revision.back() != '/';
  for (char c : r.revision)
    if (!valid_name_char(c) && c != '/') rev_ok = false;
  if (r.revision.find("..") != std::string::npos || r.revision.find("//") != std::string::npos) rev_ok = false;
  if (!rev_ok) fail(ErrorKind::InvalidArgument, "'" + r.revision + "' is not a valid revision in '" + spec + "'");
  r.repo_id = id;
  return r;
}

bool looks_like_repo_id(const std::string& spec) {
  try {
    RepoRef::parse(spec);
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::string repo_cache_dir(const RepoRef& ref, const HubOptions& o) {
  std::string flat = ref.repo_id;
  auto slash = flat.find('/');
  flat = flat.substr(0, slash) + "--" + flat.substr(slash + 1);
  return (fs::path(o.cache_dir) / ("models--" + flat)).string();
}

std::string download_file(const RepoRef& ref, const std::string& filename, const HubOptions& o) {
  detail::check_repo_filename(filename);
  RepoCache cache(repo_cache_dir(ref, o));
  auto cached = cache.commit_for(ref.revision);
  if (o.offline) {
    if (cached && fs::exists(cache.snapshot_file(*cached, filename))) return cache.snapshot_file(*cached, filename);
    fail(ErrorKind::NotFound, "HF_HUB_OFFLINE=1, and '" + filename + "' of " + ref.repo_id + "@" + ref.revision +
                                  " is not in the cache " + cache.dir());
  }
  std::string commit = ref.revision;
  if (!detail::is_commit_hash(commit)) {
    HttpResponse r;
    auto info = repo_info(o, ref, r);
    if (r.transport_error) {
      if (cached && fs::exists(cache.snapshot_file(*cached, filename))) return cache.snapshot_file(*cached, filename);
      fail_transport(r, o, ref, "'" + filename + "'");
    }
    commit = info.first;
    cache.write_ref(ref.revision, commit);
  }
  return fetch_into_snapshot(o, ref, cache, commit, filename);
}

std::string download_model(const std::string& spec, const HubOptions& o) {
  const RepoRef ref = RepoRef::parse(spec);
  if (o.offline) return cached_snapshot(o, ref, "HF_HUB_OFFLINE=1");
  RepoCache cache(repo_cache_dir(ref, o));
  HttpResponse r;
  auto [commit, files] = repo_info(o, ref, r);
  if (r.transport_error) {
    try {
      return cached_snapshot(o, ref, "cannot reach " + o.endpoint + " (" + r.error + ")");
    } catch (const Error& e) {
      fail(ErrorKind::Network, e.what());
    }
  }
  cache.write_ref(ref.revision, commit);
  const std::set<std::string> have(files.begin(), files.end());
  if (!have.count("config.json"))
    fail(ErrorKind::NotFound, ref.repo_id + "@" + ref.revision +
                                  " has no config.json: not a transformers-style checkpoint attnscope can load");
  fetch_into_snapshot(o, ref, cache, commit, "config.json");
  if (have.count("model.safetensors.index.json")) {
    std::string index = fetch_into_snapshot(o, ref, cache, commit, "model.safetensors.index.json");
    json j;
    try {
      std::ifstream in(index);
      j = json::parse(in);
    } catch (const json::exception& e) {
      fail(ErrorKind::Format, index + " is not valid JSON (" + e.what() + ")");
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail(ErrorKind::Format, index + " has no 'weight_map' object");
    std::set<std::string> shards;
    for (auto& [name, shard] : j["weight_map"].items()) {
      if (!shard.is_string()) fail(ErrorKind::Format, index + ": weight_map entry '" + name + "' is not a file name");
      shards.insert(shard.get<std::string>());
    }
    for (const auto& s : shards) fetch_into_snapshot(o, ref, cache, commit, s);
  } else if (have.count("model.safetensors")) {
    fetch_into_snapshot(o, ref, cache, commit, "model.safetensors");
  } else {
    fail(ErrorKind::NotFound, ref.repo_id + "@" + ref.revision +
                                  " has no model.safetensors or model.safetensors.index.json (attnscope reads "
                                  "safetensors weights; for GGUF files download the .gguf and load it by path)");
  }
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                        "vocab.json", "merges.txt", "generation_config.json"})
    if (have.count(f)) fetch_into_snapshot(o, ref, cache, commit, f);
  return cache.snapshot_dir(commit);
}

}  // namespace attnscope::hub
