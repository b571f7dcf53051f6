#include "corpus/scan_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/error.h"

namespace attnscope::detail {

namespace {

constexpr const char* kMagic = "attnscope-scan-journal";

[[noreturn]] void io_fail(const std::string& what, const std::string& path) {
  fail(ErrorKind::Io, path + ": " + what + " failed: " + std::strerror(errno));
}

// One batch line -> rows, checked against the plan; false when the line is not a whole record.
bool parse_batch(const std::string& line, const ScanPlan& plan, int64_t& batch, std::vector<ScanRow>& rows) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("batch") || !j.contains("rows")) return false;
  try {
    batch = j.at("batch").get<int64_t>();
    if (batch < 0 || batch >= static_cast<int64_t>(plan.batches.size())) return false;
    const auto& want = plan.batches[static_cast<size_t>(batch)];
    const auto& jr = j.at("rows");
    if (!jr.is_array() || jr.size() != want.size()) return false;
    const size_t n = static_cast<size_t>(plan.values_per_unit());
    for (size_t i = 0; i < jr.size(); ++i) {
      ScanRow r;
      r.unit = jr[i].at("unit").get<int64_t>();
      if (r.unit != want[i]) return false;
      const auto& v = jr[i].at("values");
      if (!v.is_array() || v.size() != n) return false;
      r.values.reserve(n);
      for (const auto& x : v)
        r.values.push_back(x.is_null() ? std::numeric_limits<double>::quiet_NaN() : x.get<double>());
      rows.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return true;
}

}  // namespace

ScanJournal::ScanJournal(const std::string& path, const ScanPlan& plan) : path_(path) {
  std::string data;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      data = ss.str();
    }
  }
  // Keep every complete, valid line; the first torn or invalid line must be the last one.
  size_t keep = 0, pos = 0;
  bool header = false;
  while (pos < data.size()) {
    const size_t end = data.find('\n', pos);
    if (end == std::string::npos) break;  // torn tail: no newline
    const std::string line = data.substr(pos, end - pos);
    if (!header) {
      const nlohmann::json h = nlohmann::json::parse(line, nullptr, false);
      if (h.is_discarded() || !h.is_object() || h.value("format", "") != kMagic)
        fail(ErrorKind::Format, path + ": not an attnscope scan journal");
      if (h.value("fingerprint", "") != plan.fingerprint)
        fail(ErrorKind::InvalidArgument,
             path + " was written by a different scan (model, corpus or options differ: fingerprint " +
                 h.value("fingerprint", "?") + ", this scan " + plan.fingerprint +
                 "); start over with --force / force=True, or use another output directory");
      header = true;
    } else {
      int64_t batch = 0;
      std::vector<ScanRow> rows;
      if (!parse_batch(line, plan, batch, rows)) {
        if (end + 1 < data.size())
          fail(ErrorKind::Format,
               path + ": line " +
                   std::to_string(std::count(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(pos), '\n') + 1) +
                   " is damaged and is not the last line; the journal cannot be trusted");
        break;
      }
      done_.emplace(batch, std::move(rows));  // a batch written twice keeps its first copy
    }
    pos = keep = end + 1;
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) io_fail("open", path);
  if (::ftruncate(fd_, static_cast<off_t>(keep)) != 0) io_fail("truncate", path);
  if (::lseek(fd_, 0, SEEK_END) < 0) io_fail("seek", path);
  if (!header) {
    nlohmann::json h;
    h["format"] = kMagic;
    h["version"] = 1;
    h["fingerprint"] = plan.fingerprint;
    write_all(h.dump() + "\n");
    sync_directory(std::filesystem::path(path).parent_path().string());
  }
}

ScanJournal::~ScanJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void ScanJournal::write_all(const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("write", path_);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) io_fail("fsync", path_);
}

void ScanJournal::append(int64_t batch, const std::vector<ScanRow>& rows) {
  nlohmann::json j;
  j["batch"] = batch;
  nlohmann::json jr = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json v = nlohmann::json::array();
    for (double x : r.values) v.push_back(std::isnan(x) ? nlohmann::json() : nlohmann::json(x));
    jr.push_back({{"unit", r.unit}, {"values", std::move(v)}});
  }
  j["rows"] = std::move(jr);
  write_all(j.dump() + "\n");
  done_.emplace(batch, rows);
}

void write_file_atomic(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_fail("open", tmp);
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      io_fail("write", tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    io_fail("fsync", tmp);
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) io_fail("rename", path);
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some file systems refuse directory fds
  ::fsync(fd);
  ::close(fd);
}

}  // namespace attnscope::detail
