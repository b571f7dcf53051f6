// The scan journal: output_dir/journal.jsonl, a header line naming the plan's fingerprint, then
// one line per finished batch ({"batch": k, "rows": [{"unit": u, "values": [...]}]}, NaN as
// null; doubles printed so that they read back to the same bits). Each line is written with one
// write() and fsync'd before the next batch starts, so a crash or kill -9 loses at most the batch
// in flight; a torn last line is cut off when the journal is reopened. Private to the library.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "attnscope/scan.h"

namespace attnscope::detail {

class ScanJournal {
 public:
  // Opens (creating if needed) the journal at `path` for `plan`. Existing batches are read into
  // done(); a journal of another plan is InvalidArgument; a torn final line is truncated away; a
  // bad line before the last is a Format error.
  ScanJournal(const std::string& path, const ScanPlan& plan);
  ~ScanJournal();
  ScanJournal(const ScanJournal&) = delete;
  ScanJournal& operator=(const ScanJournal&) = delete;

  const std::map<int64_t, std::vector<ScanRow>>& done() const { return done_; }  // batch -> rows
  // Appends one batch durably (write + fsync).
  void append(int64_t batch, const std::vector<ScanRow>& rows);

 private:
  void write_all(const std::string& text);
  std::string path_;
  int fd_ = -1;
  std::map<int64_t, std::vector<ScanRow>> done_;
};

// Writes `data` to path via path.tmp + fsync + rename, so a reader never sees half a file.
void write_file_atomic(const std::string& path, const std::string& data);
// fsync of a directory, so that a created or renamed entry survives a power cut.
void sync_directory(const std::string& dir);

}  // namespace attnscope::detail
