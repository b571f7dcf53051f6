// What a scan leaves in its output directory besides the journal: summary.csv / summary.json
// (per head), prompts.csv (per unit, layer and head, one column per metric) and prompts.npz
// (one float64 [units, layers, heads] array per metric, NaN where a metric does not apply).
#include "corpus/scan_files.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "attnscope/npz.h"
#include "attnscope/scan.h"

namespace attnscope {

namespace {

// Shortest text that reads back to the same double ("" for NaN).
std::string num(double x) {
  if (std::isnan(x)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

nlohmann::json jnum(double x) { return std::isnan(x) ? nlohmann::json() : nlohmann::json(x); }

const char* kind_name(ScanUnit::Kind k) { return k == ScanUnit::Kind::Prompt ? "prompt" : "random_induction"; }

}  // namespace

std::string scan_summary_csv(const ScanResult& r) {
  std::string out = "metric,layer,head,count,mean,std,ci_low,ci_high\n";
  for (const auto& s : r.summary)
    out += s.metric + "," + std::to_string(s.layer) + "," + std::to_string(s.head) + "," + std::to_string(s.count) +
           "," + num(s.mean) + "," + num(s.std) + "," + num(s.ci_low) + "," + num(s.ci_high) + "\n";
  return out;
}

std::string scan_summary_json(const ScanResult& r) {
  nlohmann::json j;
  int64_t prompts = 0, seeds = 0;
  for (const auto& u : r.plan.units) (u.kind == ScanUnit::Kind::Prompt ? prompts : seeds)++;
  j["prompts"] = prompts;
  j["random_induction_seeds"] = seeds;
  j["batches"] = r.plan.batches.size();
  j["resumed_units"] = r.resumed_units;
  j["interrupted"] = r.interrupted;
  j["fingerprint"] = r.plan.fingerprint;
  j["layers"] = r.plan.layers;
  j["n_head"] = r.plan.n_head;
  j["metrics"] = r.plan.metrics;
  // Which end of each metric marks the heads that matter most (the ablation deltas: the lowest).
  j["ranking"] = nlohmann::json::object();
  for (const auto& m : r.plan.metrics) j["ranking"][m] = metric_rank_name(metric_rank(m));
  j["skipped"] = nlohmann::json::array();
  for (const auto& s : r.plan.corpus.skipped)
    j["skipped"].push_back({{"source", s.source}, {"line", s.line}, {"reason", s.reason}});
  j["heads"] = nlohmann::json::array();
  for (const auto& s : r.summary)
    j["heads"].push_back({{"metric", s.metric},
                          {"layer", s.layer},
                          {"head", s.head},
                          {"count", s.count},
                          {"mean", jnum(s.mean)},
                          {"std", jnum(s.std)},
                          {"ci_low", jnum(s.ci_low)},
                          {"ci_high", jnum(s.ci_high)}});
  j["files"] = r.files;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);  // a path need not be UTF-8
}

namespace detail {

std::string scan_prompts_csv(const ScanResult& r) {
  const ScanPlan& p = r.plan;
  std::string out = "unit,kind,prompt,source,line,seed,n_tokens,layer,head";
  for (const auto& m : p.metrics) out += "," + m;
  out += "\n";
  std::map<int64_t, const CorpusPrompt*> prompt_of;
  for (const auto& cp : p.corpus.prompts) prompt_of[cp.index] = &cp;
  const size_t L = p.layers.size(), H = static_cast<size_t>(p.n_head);
  for (const ScanRow& row : r.rows) {
    const ScanUnit& u = p.units[static_cast<size_t>(row.unit)];
    const CorpusPrompt* cp = u.kind == ScanUnit::Kind::Prompt ? prompt_of.at(u.prompt) : nullptr;
    std::string head = std::to_string(u.index) + "," + kind_name(u.kind) + ",";
    if (cp)
      head += std::to_string(cp->index) + "," + csv_field(cp->source) + "," + std::to_string(cp->line) + ",";
    else
      head += ",,," + std::to_string(u.seed);
    head += "," + std::to_string(u.ids.size());
    for (size_t li = 0; li < L; ++li)
      for (size_t h = 0; h < H; ++h) {
        out += head + "," + std::to_string(p.layers[li]) + "," + std::to_string(h);
        for (size_t m = 0; m < p.metrics.size(); ++m) out += "," + num(row.values[(m * L + li) * H + h]);
        out += "\n";
      }
  }
  return out;
}

void write_scan_npz(const ScanResult& r, const std::string& path) {
  const ScanPlan& p = r.plan;
  const int64_t N = static_cast<int64_t>(r.rows.size()), L = static_cast<int64_t>(p.layers.size()), H = p.n_head;
  NpzWriter w(path);
  for (size_t m = 0; m < p.metrics.size(); ++m) {
    std::vector<double> a(static_cast<size_t>(N * L * H));
    for (int64_t i = 0; i < N; ++i)
      std::copy_n(r.rows[static_cast<size_t>(i)].values.begin() + static_cast<std::ptrdiff_t>(m * L * H), L * H,
                  a.begin() + i * L * H);
    w.add_f64(p.metrics[m], {N, L, H}, a.data());
  }
  std::vector<int32_t> unit, kind, prompt, line, n_tokens, seed, layers(p.layers.begin(), p.layers.end());
  std::vector<std::string> source;
  std::map<int64_t, const CorpusPrompt*> prompt_of;
  for (const auto& cp : p.corpus.prompts) prompt_of[cp.index] = &cp;
  for (const ScanRow& row : r.rows) {
    const ScanUnit& u = p.units[static_cast<size_t>(row.unit)];
    const CorpusPrompt* cp = u.kind == ScanUnit::Kind::Prompt ? prompt_of.at(u.prompt) : nullptr;
    unit.push_back(static_cast<int32_t>(u.index));
    kind.push_back(u.kind == ScanUnit::Kind::Prompt ? 0 : 1);
    prompt.push_back(cp ? static_cast<int32_t>(cp->index) : -1);
    line.push_back(cp ? static_cast<int32_t>(cp->line) : 0);
    seed.push_back(cp ? -1 : static_cast<int32_t>(u.seed));
    n_tokens.push_back(static_cast<int32_t>(u.ids.size()));
    source.push_back(cp ? cp->source : "");
  }
  w.add_i32("unit", {N}, unit.data());
  w.add_i32("kind", {N}, kind.data());  // 0 prompt, 1 random induction
  w.add_i32("prompt", {N}, prompt.data());
  w.add_i32("line", {N}, line.data());
  w.add_i32("seed", {N}, seed.data());
  w.add_i32("n_tokens", {N}, n_tokens.data());
  w.add_i32("layers", {L}, layers.data());
  w.add_strings("source", {N}, source);
  w.finish();
}

}  // namespace detail
}  // namespace attnscope
