// Long-context reports as a table, JSON (nlohmann; NaN as null) or CSV, and their figures.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/long_context.h"
#include "attnscope/viz.h"

namespace attnscope {

using nlohmann::json;

namespace {

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// [L][H] with null for unmeasured layers.
json head_table(const Tensor& t) {
  json rows = json::array();
  for (int64_t l = 0; l < t.dim(0); ++l) {
    json row = json::array();
    for (int64_t h = 0; h < t.dim(1); ++h) row.push_back(num(t.data()[l * t.dim(1) + h]));
    rows.push_back(row);
  }
  return rows;
}

json numbers(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}

std::string fmt(double v, const char* f = "%.4f") {
  if (std::isnan(v)) return "nan";
  char b[32];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string head_name(int l, int h) { return "L" + std::to_string(l) + "H" + std::to_string(h); }

}  // namespace

std::string format_report(const SinkReport& r, ReportFormat format) {
  const int64_t H = r.mean_mass.dim(1);
  if (format == ReportFormat::Json) {
    json j;
    j["sink_tokens"] = r.options.sink_tokens;
    j["epsilon"] = r.options.epsilon;
    j["layers"] = r.layers;
    j["mean_mass"] = head_table(r.mean_mass);
    j["layer_rate"] = numbers(r.layer_rate);
    j["rate"] = r.rate;
    json lengths = json::array();
    for (const SinkLength& s : r.by_length)
      lengths.push_back({{"length", s.length},
                         {"mass", head_table(s.mass)},
                         {"layer_rate", numbers(s.layer_rate)},
                         {"rate", s.rate}});
    j["by_length"] = lengths;
    return j.dump(2) + "\n";
  }
  std::ostringstream o;
  if (format == ReportFormat::Csv) {
    o << "length,layer,head,mass,sink\n";
    for (const SinkLength& s : r.by_length)
      for (int l : r.layers)
        for (int64_t h = 0; h < H; ++h) {
          const double m = s.mass.data()[l * H + h];
          o << s.length << "," << l << "," << h << "," << fmt(m, "%.9g") << "," << (m > r.options.epsilon ? 1 : 0)
            << "\n";
        }
    return o.str();
  }
  o << "attention sinks: mean attention on the first " << r.options.sink_tokens << " token(s), sink rate = share of "
    << "heads above " << fmt(r.options.epsilon, "%.2f") << "\n";
  o << "length  sink_rate\n";
  for (const SinkLength& s : r.by_length) o << s.length << "  " << fmt(s.rate) << "\n";
  o << "mean over lengths: sink rate " << fmt(r.rate) << "\n";
  for (int l : r.layers) {
    o << "L" << l << " (rate " << fmt(r.layer_rate[static_cast<size_t>(l)], "%.2f") << "):";
    for (int64_t h = 0; h < H; ++h) o << " " << fmt(r.mean_mass.data()[l * H + h], "%.3f");
    o << "\n";
  }
  return o.str();
}

std::string format_report(const RetrievalReport& r, ReportFormat format) {
  const int64_t H = r.score.dim(1);
  if (format == ReportFormat::Json) {
    json j;
    j["lengths"] = r.options.lengths;
    j["depths"] = r.options.depths;
    j["needle"] = r.options.needle;
    j["cue_tokens"] = r.options.cue_tokens;
    j["answer"] = r.options.generate ? "greedy" : "teacher_forced";
    j["random_haystack"] = r.random_haystack;
    j["threshold"] = r.options.threshold;
    j["layers"] = r.layers;
    j["score"] = head_table(r.score);
    j["accuracy"] = r.accuracy;
    auto heads = [](const std::vector<RetrievalHead>& v) {
      json a = json::array();
      for (const RetrievalHead& h : v) a.push_back({{"layer", h.layer}, {"head", h.head}, {"score", num(h.score)}});
      return a;
    };
    j["heads"] = heads(r.heads);
    j["all"] = heads(r.all);
    json trials = json::array();
    for (const RetrievalTrial& t : r.trials)
      trials.push_back({{"length", t.length},
                        {"depth", t.depth},
                        {"needle_start", t.needle_start},
                        {"answer_tokens", t.answer_tokens},
                        {"accuracy", t.accuracy},
                        {"score", head_table(t.score)}});
    j["trials"] = trials;
    return j.dump(2) + "\n";
  }
  std::ostringstream o;
  if (format == ReportFormat::Csv) {
    o << "length,depth,layer,head,score,accuracy\n";
    for (const RetrievalTrial& t : r.trials)
      for (int l : r.layers)
        for (int64_t h = 0; h < H; ++h)
          o << t.length << "," << fmt(t.depth, "%.6g") << "," << l << "," << h << ","
            << fmt(t.score.data()[l * H + h], "%.9g") << "," << fmt(t.accuracy, "%.9g") << "\n";
    return o.str();
  }
  o << "retrieval heads (Wu et al. 2024): share of needle tokens each head copy-pastes, "
    << (r.options.generate ? "greedy answers" : "teacher-forced answers") << ", " << r.trials.size()
    << " trials (lengths x depths), needle " << r.options.needle.size() << " tokens ("
    << (r.random_haystack ? "random" : "given") << " haystack)\n";
  o << "needle accuracy (model's greedy token = needle token): " << fmt(r.accuracy) << "\n";
  o << "heads above " << fmt(r.options.threshold, "%.2f") << ":";
  if (r.heads.empty()) o << " none";
  for (const RetrievalHead& h : r.heads) o << " " << head_name(h.layer, h.head) << "=" << fmt(h.score, "%.3f");
  o << "\n";
  const size_t top = std::min<size_t>(r.all.size(), 10);
  o << "top " << top << ":";
  for (size_t i = 0; i < top; ++i)
    o << " " << head_name(r.all[i].layer, r.all[i].head) << "=" << fmt(r.all[i].score, "%.3f");
  o << "\n";
  return o.str();
}

std::string format_report(const LongInductionReport& r, ReportFormat format) {
  const int64_t L = r.score.dim(1), H = r.score.dim(2);
  const auto& n = r.options.lengths;
  auto at = [&](size_t i, int l, int64_t h) { return static_cast<double>(r.score.data()[(i * L + l) * H + h]); };
  if (format == ReportFormat::Json) {
    json j;
    j["lengths"] = n;
    j["layers"] = r.layers;
    j["chance_corrected"] = r.options.score.chance_corrected;
    json s = json::array();
    for (size_t i = 0; i < n.size(); ++i) {
      Tensor t({L, H});
      std::copy(r.score.data() + i * L * H, r.score.data() + (i + 1) * L * H, t.data());
      s.push_back(head_table(t));
    }
    j["score"] = s;
    return j.dump(2) + "\n";
  }
  std::ostringstream o;
  if (format == ReportFormat::Csv) {
    o << "length,layer,head,score\n";
    for (size_t i = 0; i < n.size(); ++i)
      for (int l : r.layers)
        for (int64_t h = 0; h < H; ++h) o << n[i] << "," << l << "," << h << "," << fmt(at(i, l, h), "%.9g") << "\n";
    return o.str();
  }
  o << "induction score by repeat distance (BOS + n random tokens twice"
    << (r.options.score.chance_corrected ? ", chance-corrected" : "") << ")\nhead";
  for (int x : n) o << "  n=" << x;
  o << "\n";
  for (int l : r.layers)
    for (int64_t h = 0; h < H; ++h) {
      o << head_name(l, static_cast<int>(h));
      for (size_t i = 0; i < n.size(); ++i) o << "  " << fmt(at(i, l, h), "%.3f");
      o << "\n";
    }
  return o.str();
}

void save_sink_figure(const std::string& path, const SinkReport& r) {
  FigureOptions fo;
  fo.title = "Attention sinks: mean mass on the first " + std::to_string(r.options.sink_tokens) + " token(s)";
  fo.vmin = 0.0;
  fo.vmax = 1.0;
  save_head_panels(
      path, {{"mass", r.mean_mass}},
      "sink rate (heads above " + fmt(r.options.epsilon, "%.2f") + "): " + fmt(r.rate, "%.3f") + ", mean over lengths",
      fo);
}

void save_sink_length_figure(const std::string& path, const SinkReport& r) {
  std::vector<double> x;
  LineSeries all{"all heads", {}};
  std::vector<LineSeries> series;
  for (int l : r.layers) series.push_back({"L" + std::to_string(l), {}});
  for (const SinkLength& s : r.by_length) {
    x.push_back(s.length);
    all.y.push_back(s.rate);
    for (size_t i = 0; i < r.layers.size(); ++i) series[i].y.push_back(s.layer_rate[static_cast<size_t>(r.layers[i])]);
  }
  if (series.size() > 11) series.clear();  // too many layers to tell apart: the overall rate only
  series.insert(series.begin(), all);
  LinePlotOptions lo;
  lo.title = "Sink rate by context length (mass on the first " + std::to_string(r.options.sink_tokens) +
             " token(s) > " + fmt(r.options.epsilon, "%.2f") + ")";
  lo.x_label = "context length (tokens)";
  lo.y_label = "share of heads";
  lo.log_x = true;
  lo.y_min = 0.0;
  lo.y_max = 1.0;
  save_line_plot(path, x, series, lo);
}

void save_retrieval_figure(const std::string& path, const RetrievalReport& r) {
  FigureOptions fo;
  fo.title = "Retrieval scores (Wu et al. 2024)";
  fo.vmin = 0.0;
  fo.vmax = 1.0;
  save_head_panels(path, {{"retrieval score", r.score}},
                   std::to_string(r.trials.size()) + " trials, needle accuracy " + fmt(r.accuracy, "%.3f"), fo);
}

void save_induction_length_figure(const std::string& path, const LongInductionReport& r, double min_score) {
  const int64_t L = r.score.dim(1), H = r.score.dim(2);
  const auto& n = r.options.lengths;
  std::vector<std::pair<double, LineSeries>> best;
  for (int l : r.layers)
    for (int64_t h = 0; h < H; ++h) {
      LineSeries s{head_name(l, static_cast<int>(h)), {}};
      double peak = -1e300;
      for (size_t i = 0; i < n.size(); ++i) {
        s.y.push_back(r.score.data()[(i * L + l) * H + h]);
        if (std::isfinite(s.y.back())) peak = std::max(peak, s.y.back());
      }
      if (peak >= min_score) best.emplace_back(peak, std::move(s));
    }
  std::stable_sort(best.begin(), best.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  if (best.size() > 12) best.resize(12);
  std::vector<LineSeries> series;
  for (auto& b : best) series.push_back(std::move(b.second));
  std::vector<double> x(n.begin(), n.end());
  LinePlotOptions lo;
  lo.title = "Induction score by repeat distance";
  lo.x_label = "repeat distance n (tokens)";
  lo.y_label = "induction score";
  lo.log_x = true;
  lo.threshold = min_score;
  lo.y_max = 1.0;  // scores are at most 1: heads compare across figures
  save_line_plot(path, x, series, lo);
}

}  // namespace attnscope
