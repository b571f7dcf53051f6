// Results as a readable table, JSON (nlohmann) or CSV.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "attnscope/analysis.h"

namespace attnscope {

namespace {

using nlohmann::json;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}
std::string opt(const std::optional<double>& v) { return v ? fmt(*v) : std::string("-"); }
std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}
// "L0H1 L0H3" for the given heads.
std::string head_names(const std::vector<std::pair<int, int>>& heads) {
  std::string out;
  for (const auto& [l, h] : heads) {
    if (!out.empty()) out += ' ';
    out += 'L';  // built with += : GCC 12 warns (-Wrestrict) on the chained operator+
    out += std::to_string(l);
    out += 'H';
    out += std::to_string(h);
  }
  return out;
}
// The line every table starts with when some heads' patterns hold NaN/inf (their scores are NaN).
std::string non_finite_warning(const std::vector<std::pair<int, int>>& heads) {
  if (heads.empty()) return {};
  return "warning: " + std::to_string(heads.size()) + (heads.size() == 1 ? " head holds" : " heads hold") +
         " non-finite attention (NaN/inf), scored NaN and typed non_finite: " + head_names(heads) + "\n";
}
json rows_json(const ScoreRows& n) {
  return {{kPreviousToken, n.previous_token},
          {kFirstToken, n.first_token},
          {kCurrentToken, n.current_token},
          {kInduction, n.induction ? json(*n.induction) : json(nullptr)},
          {kDuplicateToken, n.duplicate_token ? json(*n.duplicate_token) : json(nullptr)}};
}
// "previous 11, first 12, current 12, induction 2, duplicate 2" (the scores that were computed).
std::string rows_text(const ScoreRows& n) {
  std::string out = "previous " + std::to_string(n.previous_token) + ", first " + std::to_string(n.first_token) +
                    ", current " + std::to_string(n.current_token);
  if (n.induction) out += ", induction " + std::to_string(*n.induction);
  if (n.duplicate_token) out += ", duplicate " + std::to_string(*n.duplicate_token);
  return out;
}
// The warning a report starts with when a score rests on fewer than kMinScoreRows query rows:
// its types are anecdotes (a short prompt's induction score may rest on two rows).
std::string few_rows_warning(const HeadTypeReport& r) {
  const std::vector<std::string> few = r.few_row_scores();
  if (few.empty()) return {};
  std::string out = "warning: " + join(few, ", ") + (few.size() == 1 ? " rests" : " rest") + " on fewer than " +
                    std::to_string(kMinScoreRows) + " query rows (" + rows_text(r.rows) +
                    "): types from so few rows are anecdotes, not findings";
  if (std::find(few.begin(), few.end(), kInduction) != few.end())
    out += "; for induction heads run `attnscope induction` (random repeated tokens, one row per token)";
  return out + "\n";
}
std::string pad(const std::string& s, size_t w) { return s.size() >= w ? s : std::string(w - s.size(), ' ') + s; }
json opt_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
// CSV field: quoted when it holds a comma, quote or newline.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string format_report(const HeadTypeReport& r, ReportFormat format) {
  std::ostringstream os;
  const auto& d = r.detector;
  if (format == ReportFormat::Json) {
    json j;
    j["tokens"] = r.tokens;
    j["str_tokens"] = r.str_tokens;
    j["has_repeats"] = r.has_repeats;
    j["score_rows"] = rows_json(r.rows);  // the query rows each score is the mean of
    j["min_score_rows"] = kMinScoreRows;
    j["few_rows"] = r.few_row_scores();  // scores resting on fewer rows: anecdotes
    j["chance_corrected"] = d.options.chance_corrected;
    j["exclude_bos"] = d.options.exclude_bos;
    j["weighting"] = weighting_name(d.weighting);
    j["thresholds"] = {{kPreviousToken, d.previous_token_threshold()},
                       {kFirstToken, d.first_token_threshold()},
                       {kCurrentToken, d.current_token_threshold()},
                       {kInduction, d.induction_threshold()},
                       {kDuplicateToken, d.duplicate_token_threshold()}};
    json heads = json::array();
    for (const auto& h : r.heads)
      heads.push_back({{"layer", h.layer},
                       {"head", h.head},
                       {"types", h.types},
                       {"entropy", h.entropy},
                       {"scores",
                        {{kPreviousToken, h.scores.previous_token},
                         {kFirstToken, h.scores.first_token},
                         {kCurrentToken, h.scores.current_token},
                         {kInduction, opt_json(h.scores.induction)},
                         {kDuplicateToken, opt_json(h.scores.duplicate_token)}}},
                       {"value_first_token", opt_json(h.value_first_token)},
                       {"sink", h.sink}});
    j["heads"] = heads;
    json by = json::object();
    for (const auto& [type, list] : r.by_type()) {
      json a = json::array();
      for (const auto& [l, h] : list) a.push_back({l, h});
      by[type] = a;
    }
    j["by_type"] = by;
    return j.dump(2) + "\n";
  }
  if (format == ReportFormat::Csv) {
    os << "layer,head,previous_token,first_token,current_token,induction,duplicate_token,entropy,types,"
          "value_first_token,sink\n";
    for (const auto& h : r.heads)
      os << h.layer << ',' << h.head << ',' << fmt(h.scores.previous_token) << ',' << fmt(h.scores.first_token) << ','
         << fmt(h.scores.current_token) << ',' << (h.scores.induction ? fmt(*h.scores.induction) : "") << ','
         << (h.scores.duplicate_token ? fmt(*h.scores.duplicate_token) : "") << ',' << fmt(h.entropy) << ','
         << csv_field(join(h.types, ";")) << ',' << (h.value_first_token ? fmt(*h.value_first_token) : "") << ','
         << (h.sink ? "1" : "0") << '\n';
    return os.str();
  }
  os << non_finite_warning(r.heads_of(kNonFinite));
  os << few_rows_warning(r);
  os << r.tokens.size() << " tokens; " << (d.weighting == AttentionWeighting::Value ? "value-weighted " : "")
     << "scores " << (d.options.chance_corrected ? "chance-corrected" : "raw")
     << (d.options.exclude_bos ? ", BOS excluded" : "") << "; induction/duplicate "
     << (r.has_repeats ? "scored on the text's repeated tokens" : "not scored (no repeated token)")
     << "\nthresholds: previous " << fmt(d.previous_token_threshold()) << ", first " << fmt(d.first_token_threshold())
     << ", current " << fmt(d.current_token_threshold()) << ", induction " << fmt(d.induction_threshold())
     << ", duplicate " << fmt(d.duplicate_token_threshold()) << "\nquery rows per score: " << rows_text(r.rows)
     << "\n\n";
  os << "layer head  previous  first  current  induction  duplicate  entropy  vw_first  types\n";
  for (const auto& h : r.heads)
    os << pad(std::to_string(h.layer), 5) << pad(std::to_string(h.head), 5) << pad(fmt(h.scores.previous_token), 10)
       << pad(fmt(h.scores.first_token), 7) << pad(fmt(h.scores.current_token), 9) << pad(opt(h.scores.induction), 11)
       << pad(opt(h.scores.duplicate_token), 11) << pad(fmt(h.entropy), 9) << pad(opt(h.value_first_token), 10) << "  "
       << join(h.types, ", ") << (h.sink ? " (sink: weight without contribution)" : "") << '\n';
  os << '\n';
  for (const auto& [type, list] : r.by_type()) {
    if (type == kUnknown) continue;
    os << type << ": " << head_names(list) << '\n';
  }
  return os.str();
}

std::string format_report(const InductionScan& s, ReportFormat format) {
  std::ostringstream os;
  const auto& o = s.options;
  if (format == ReportFormat::Json) {
    json j;
    j["n_random_tokens"] = o.n_random_tokens;
    j["n_repeats"] = o.n_repeats;
    j["threshold"] = o.threshold;
    j["seed"] = o.seed;
    j["n_seeds"] = o.n_seeds;
    j["chance_corrected"] = o.score.chance_corrected;
    j["sequences"] = s.sequences;
    auto heads = [](const std::vector<InductionHead>& v) {
      json a = json::array();
      for (const auto& h : v)
        a.push_back({{"layer", h.layer},
                     {"head", h.head},
                     {"score", h.score},
                     {"stddev", h.stddev},
                     {"min", h.min},
                     {"max", h.max}});
      return a;
    };
    j["induction_heads"] = heads(s.heads);
    j["all"] = heads(s.all);  // a head whose pattern held NaN/inf has score null
    json bad = json::array();
    for (const auto& h : s.all)
      if (std::isnan(h.score)) bad.push_back({h.layer, h.head});
    j["non_finite"] = bad;
    return j.dump(2) + "\n";
  }
  if (format == ReportFormat::Csv) {
    os << "layer,head,score,stddev,min,max,induction_head\n";
    for (const auto& h : s.all)
      os << h.layer << ',' << h.head << ',' << fmt(h.score) << ',' << fmt(h.stddev) << ',' << fmt(h.min) << ','
         << fmt(h.max) << ',' << (h.score >= o.threshold ? 1 : 0) << '\n';
    return os.str();
  }
  std::vector<std::pair<int, int>> non_finite;
  for (const auto& h : s.all)
    if (std::isnan(h.score)) non_finite.emplace_back(h.layer, h.head);
  os << non_finite_warning(non_finite);
  os << "random-repeat induction scan: " << o.n_random_tokens << " random tokens x " << o.n_repeats << ", seed "
     << o.seed << (o.n_seeds > 1 ? " (+" + std::to_string(o.n_seeds - 1) + " more seeds)" : std::string())
     << ", threshold " << fmt(o.threshold) << (o.score.chance_corrected ? ", chance-corrected" : ", raw") << "\n";
  os << s.heads.size() << " induction head" << (s.heads.size() == 1 ? "" : "s") << " of " << s.all.size()
     << " heads\n\n";
  os << " rank layer head  score" << (o.n_seeds > 1 ? "  stddev    min    max" : "") << '\n';
  size_t rank = 0;
  for (const auto& h : s.all) {
    ++rank;
    if (rank > s.heads.size() && rank > 10) break;  // every hit, and at least the top 10
    os << pad(std::to_string(rank), 5) << pad(std::to_string(h.layer), 6) << pad(std::to_string(h.head), 5)
       << pad(fmt(h.score), 7);
    if (o.n_seeds > 1) os << pad(fmt(h.stddev), 8) << pad(fmt(h.min), 7) << pad(fmt(h.max), 7);
    os << (h.score >= o.threshold ? "  *" : "") << '\n';
  }
  return os.str();
}

std::string format_report(const std::map<std::string, std::vector<PatternMatch>>& matches, ReportFormat format) {
  std::ostringstream os;
  if (format == ReportFormat::Json) {
    json j = json::object();
    for (const auto& [name, list] : matches) {
      json a = json::array();
      for (const auto& m : list) a.push_back({{"layer", m.layer}, {"head", m.head}, {"score", m.score}});
      j[name] = a;
    }
    return j.dump(2) + "\n";
  }
  if (format == ReportFormat::Csv) {
    os << "pattern,layer,head,score\n";
    for (const auto& [name, list] : matches)
      for (const auto& m : list)
        os << csv_field(name) << ',' << m.layer << ',' << m.head << ',' << fmt(m.score) << '\n';
    return os.str();
  }
  for (const auto& [name, list] : matches) {
    os << name << ": " << list.size() << " head" << (list.size() == 1 ? "" : "s") << '\n';
    for (const auto& m : list) os << "  L" << m.layer << "H" << m.head << "  " << fmt(m.score) << '\n';
  }
  return os.str();
}

std::string format_report(const std::vector<LayerSummary>& summaries, ReportFormat format) {
  std::ostringstream os;
  if (format == ReportFormat::Json) {
    json j = json::array();
    for (const auto& s : summaries)
      j.push_back({{"layer", s.layer}, {"entropy", s.entropy}, {"normalized_entropy", s.norm_entropy}});
    return j.dump(2) + "\n";
  }
  if (format == ReportFormat::Csv)
    os << "layer,head,entropy,normalized_entropy\n";
  else
    os << "layer head  entropy  normalized\n";
  for (const auto& s : summaries)
    for (size_t h = 0; h < s.entropy.size(); ++h) {
      if (format == ReportFormat::Csv)
        os << s.layer << ',' << h << ',' << fmt(s.entropy[h]) << ',' << fmt(s.norm_entropy[h]) << '\n';
      else
        os << pad(std::to_string(s.layer), 5) << pad(std::to_string(h), 5) << pad(fmt(s.entropy[h]), 9)
           << pad(fmt(s.norm_entropy[h]), 12) << '\n';
    }
  return os.str();
}

}  // namespace attnscope
