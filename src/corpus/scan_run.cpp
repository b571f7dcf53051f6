// A whole scan: batches not yet journaled are run in plan order and journaled one by one; the
// rows (journaled and new) are then reduced in unit order and the output files written.
#include <chrono>
#include <filesystem>

#include "attnscope/error.h"
#include "attnscope/scan.h"
#include "corpus/scan_files.h"
#include "corpus/scan_journal.h"

namespace attnscope {

namespace {

namespace fs = std::filesystem;

const char* const kScanFiles[] = {"journal.jsonl", "summary.csv", "summary.json", "prompts.csv", "prompts.npz"};

// Prepares output_dir for `mode`: refuses to touch an earlier scan's files under New, removes
// them (only them) under Force.
void prepare_directory(const std::string& dir, OutputMode mode) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    fail(ErrorKind::InvalidArgument,
         dir + " exists and is not a directory (a scan writes several files into a directory)");
  fs::create_directories(dir, ec);
  if (ec) fail(ErrorKind::Io, dir + ": cannot create the output directory: " + ec.message());
  std::vector<std::string> present;
  for (const char* f : kScanFiles)
    if (fs::exists(fs::path(dir) / f, ec)) present.push_back(f);
  if (present.empty()) return;
  if (mode == OutputMode::New) {
    std::string list;
    for (const auto& f : present) list += (list.empty() ? "" : ", ") + f;
    fail(ErrorKind::InvalidArgument, dir + " already holds a scan (" + list +
                                         "): continue it with --resume (resume=True) or replace it with --force "
                                         "(force=True)");
  }
  if (mode == OutputMode::Force)
    for (const auto& f : present) fs::remove(fs::path(dir) / f, ec);
}

}  // namespace

ScanResult run_scan(const Model& model, const ScanPlan& plan, const ScanOptions& options, const std::string& output_dir,
                    OutputMode mode, const std::function<void(const ScanProgress&)>& progress,
                    const std::function<bool()>& stop) {
  const auto t0 = std::chrono::steady_clock::now();
  ScanResult result;
  result.plan = plan;
  std::unique_ptr<detail::ScanJournal> journal;
  std::map<int64_t, std::vector<ScanRow>> done;
  if (!output_dir.empty()) {
    prepare_directory(output_dir, mode);
    journal = std::make_unique<detail::ScanJournal>((fs::path(output_dir) / "journal.jsonl").string(), plan);
    done = journal->done();
  }
  ScanProgress pr;
  pr.total = static_cast<int64_t>(plan.units.size());
  for (const auto& [b, rows] : done) pr.resumed += static_cast<int64_t>(rows.size());
  pr.done = pr.resumed;
  result.resumed_units = pr.resumed;
  if (progress) progress(pr);
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    if (done.count(static_cast<int64_t>(b))) continue;
    if (stop && stop()) {
      result.interrupted = true;
      break;
    }
    std::vector<ScanRow> rows = scan_batch(model, plan, plan.batches[b], options);
    if (journal) journal->append(static_cast<int64_t>(b), rows);
    pr.done += static_cast<int64_t>(rows.size());
    done.emplace(static_cast<int64_t>(b), std::move(rows));
    pr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress) progress(pr);
  }

  // Rows in unit order (the journal holds them by batch), then the exact per-head reduction.
  result.rows.resize(plan.units.size());
  std::vector<bool> have(plan.units.size(), false);
  for (auto& [b, rows] : done)
    for (auto& r : rows) {
      have[static_cast<size_t>(r.unit)] = true;
      result.rows[static_cast<size_t>(r.unit)] = std::move(r);
    }
  if (result.interrupted) {
    std::vector<ScanRow> partial;
    for (size_t i = 0; i < have.size(); ++i)
      if (have[i]) partial.push_back(std::move(result.rows[i]));
    result.rows = std::move(partial);
  }
  ScanStats stats(plan);
  for (const auto& r : result.rows) stats.add(r);
  result.summary = stats.summary();
  if (!output_dir.empty() && !result.interrupted) {
    const fs::path dir(output_dir);
    detail::write_file_atomic((dir / "summary.csv").string(), scan_summary_csv(result));
    detail::write_file_atomic((dir / "prompts.csv").string(), detail::scan_prompts_csv(result));
    detail::write_scan_npz(result, (dir / "prompts.npz").string());
    for (const char* f : kScanFiles) result.files.push_back((dir / f).string());
    detail::write_file_atomic((dir / "summary.json").string(), scan_summary_json(result));
    detail::sync_directory(output_dir);
  }
  return result;
}

}  // namespace attnscope
