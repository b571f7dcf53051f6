// The fidelity report as a table (worst heads first, direction stated), JSON, CSV and a
// layers x heads figure (fidelity.h).
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/fidelity.h"
#include "attnscope/viz.h"

namespace attnscope {

namespace {

using nlohmann::json;

const char* const kScoreNames[] = {kPreviousToken, kFirstToken, kCurrentToken, kInduction, kDuplicateToken};

std::string fmt(double v, const char* f = "%.4f") {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "+" : "") + v[i];
  return out;
}
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
std::string head_name(const HeadFidelity& h) { return "L" + std::to_string(h.layer) + "H" + std::to_string(h.head); }

// The score whose single-prompt change is largest (NaN first), or nullptr when none is defined.
const std::pair<const std::string, ScoreChange>* largest_score_change(const HeadFidelity& h) {
  const std::pair<const std::string, ScoreChange>* best = nullptr;
  for (const auto& s : h.scores) {
    const double v = s.second.max_abs_delta;
    if (!best || std::isnan(v) || (!std::isnan(best->second.max_abs_delta) && v > best->second.max_abs_delta))
      best = &s;
  }
  return best;
}

json head_json(const HeadFidelity& h) {
  json scores = json::object();
  for (const auto& [name, c] : h.scores)
    scores[name] = {
        {"reference", c.reference}, {"model", c.model}, {"delta", c.delta}, {"max_abs_delta", c.max_abs_delta}};
  return {{"layer", h.layer},
          {"head", h.head},
          {"max_abs_delta", h.max_abs_delta},
          {"mean_abs_delta", h.mean_abs_delta},
          {"js_mean", h.js_mean},
          {"js_max", h.js_max},
          {"scores", scores},
          {"reference_types", h.reference_types},
          {"model_types", h.model_types},
          {"type_changed", h.type_changed()},
          {"type_changed_prompts", h.type_changed_prompts}};
}

std::string json_report(const FidelityReport& r) {
  json j;
  j["model"] = {{"source", r.model_source}, {"dtype", r.model_dtype}, {"path", r.model_path_note}};
  j["reference"] = {{"source", r.reference_source}, {"dtype", r.reference_dtype}, {"path", r.reference_path_note}};
  j["delta"] = "model - reference";
  j["js_unit"] = "nats";
  j["n_layers"] = r.n_layers;
  j["n_heads"] = r.n_heads;
  j["layers"] = r.layers;
  j["prompts"] = json::array();
  for (const PromptFidelity& p : r.prompts)
    j["prompts"].push_back({{"tokens", p.tokens},
                            {"str_tokens", p.str_tokens},
                            {"argmax_agreement", p.argmax_agreement},
                            {"max_abs_logit_delta", p.max_abs_logit_delta},
                            {"max_logit_position", p.max_logit_position},
                            {"max_logit_token", p.max_logit_token},
                            {"max_abs_pattern_delta", p.max_abs_pattern_delta}});
  j["heads"] = json::array();
  for (const HeadFidelity& h : r.heads) j["heads"].push_back(head_json(h));
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string csv_report(const FidelityReport& r) {
  std::ostringstream os;
  os << "layer,head,max_abs_delta,mean_abs_delta,js_mean_nats,js_max_nats";
  for (const char* s : kScoreNames) os << "," << s << "_reference," << s << "_model," << s << "_delta";
  os << ",reference_types,model_types,type_changed_prompts\n";
  auto num = [](double v) { return std::isnan(v) ? std::string("nan") : fmt(v, "%.9g"); };
  for (const HeadFidelity& h : r.heads) {
    os << h.layer << "," << h.head << "," << num(h.max_abs_delta) << "," << num(h.mean_abs_delta) << ","
       << num(h.js_mean) << "," << num(h.js_max);
    for (const char* s : kScoreNames) {
      auto it = h.scores.find(s);
      if (it == h.scores.end())
        os << ",,,";
      else
        os << "," << num(it->second.reference) << "," << num(it->second.model) << "," << num(it->second.delta);
    }
    os << "," << csv_field(join(h.reference_types)) << "," << csv_field(join(h.model_types)) << ","
       << h.type_changed_prompts << "\n";
  }
  return os.str();
}

std::string table_report(const FidelityReport& r, const std::string& sort_key, int top) {
  std::ostringstream os;
  os << "model:     " << r.model_source << " (" << r.model_path_note << ")\n";
  os << "reference: " << r.reference_source << " (" << r.reference_path_note << ")\n";
  os << "differences are model - reference; Jensen-Shannon divergence of each pattern row in nats (natural log, at "
        "most ln 2 = 0.693)\n\n";
  for (size_t i = 0; i < r.prompts.size(); ++i) {
    const PromptFidelity& p = r.prompts[i];
    const int64_t T = static_cast<int64_t>(p.tokens.size());
    const int64_t agree = static_cast<int64_t>(std::lround(p.argmax_agreement * static_cast<double>(T)));
    os << "prompt " << i << " (" << T << " tokens): argmax of the logits agrees at " << agree << "/" << T
       << " positions; largest |dlogit| " << fmt(p.max_abs_logit_delta, "%.4g") << " (position " << p.max_logit_position
       << ", token " << p.max_logit_token << "); largest |dpattern| " << fmt(p.max_abs_pattern_delta, "%.4g") << "\n";
  }
  const std::vector<HeadFidelity> worst = r.worst_heads(sort_key);
  const size_t n = top > 0 ? std::min(worst.size(), static_cast<size_t>(top)) : worst.size();
  int changed = 0;
  for (const HeadFidelity& h : r.heads) changed += h.type_changed();
  os << "\n"
     << n << " of " << worst.size() << " heads, worst first by " << sort_key << "; " << changed
     << (changed == 1 ? " head changes" : " heads change") << " type\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %10s %10s %10s %10s  %-38s %s\n", "head", "max|dp|", "mean|dp|", "JS mean",
                "JS max", "largest score change (reference -> model)", "type (reference -> model)");
  os << line;
  for (size_t i = 0; i < n; ++i) {
    const HeadFidelity& h = worst[i];
    std::string score = "-";
    if (const auto* s = largest_score_change(h))
      score = s->first + " " + fmt(s->second.reference, "%.3f") + " -> " + fmt(s->second.model, "%.3f") + " (" +
              fmt(s->second.delta, "%+.3f") + ")";
    const std::string types =
        h.type_changed() ? join(h.reference_types) + " -> " + join(h.model_types) : join(h.reference_types) + " (same)";
    std::snprintf(line, sizeof line, "%-8s %10.4g %10.4g %10.4g %10.4g  %-38s %s\n", head_name(h).c_str(),
                  h.max_abs_delta, h.mean_abs_delta, h.js_mean, h.js_max, score.c_str(), types.c_str());
    os << line;
  }
  return os.str();
}

}  // namespace

std::string format_fidelity(const FidelityReport& report, ReportFormat format, const std::string& sort_key, int top) {
  if (format == ReportFormat::Json) return json_report(report);
  if (format == ReportFormat::Csv) return csv_report(report);
  return table_report(report, sort_key, top);
}

std::vector<std::string> save_fidelity_figure(const std::string& path, const FidelityReport& report) {
  const int64_t L = report.n_layers, H = report.n_heads;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Layers left out of the comparison stay blank rather than looking perfect.
  Tensor dmax({L, H}, std::vector<float>(static_cast<size_t>(L * H), nan));
  Tensor js = dmax.clone(), score = dmax.clone();
  for (const HeadFidelity& h : report.heads) {
    const int64_t i = h.layer * H + h.head;
    dmax.data()[i] = static_cast<float>(h.max_abs_delta);
    js.data()[i] = static_cast<float>(h.js_mean);
    const auto* s = largest_score_change(h);
    score.data()[i] = s ? static_cast<float>(s->second.max_abs_delta) : 0.0f;
  }
  FigureOptions fo;
  fo.colormap = "Reds";
  fo.title = "Fidelity: " + report.model_source + " vs " + report.reference_source;
  save_head_panels(path, {{"max |Δpattern|", dmax}, {"mean JS divergence (nats)", js}, {"largest |Δscore|", score}},
                   report.model_path_note + "  vs  " + report.reference_path_note + "  (" +
                       std::to_string(report.prompts.size()) + (report.prompts.size() == 1 ? " prompt)" : " prompts)"),
                   fo);
  return {path};
}

}  // namespace attnscope
