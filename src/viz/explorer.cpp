// The interactive explorer: one HTML file = template + CSS + JS (embedded assets) + a JSON block
// with the tokens, options and the encoded patterns (explorer_data.h).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "attnscope/tokenizer.h"
#include "attnscope/viz.h"
#include "viz/assets.h"
#include "viz/canvas.h"
#include "viz/explorer_analysis.h"
#include "viz/explorer_data.h"
#include "viz/text.h"

namespace attnscope {

namespace {

std::string_view asset(const std::string& name) {
  const auto& assets = detail::embedded_assets();
  auto it = assets.find(name);
  if (it == assets.end())
    fail(ErrorKind::NotFound, "explorer: embedded asset '" + name + "' is missing from the build");
  return it->second;
}

// JSON that is safe inside <script type="application/json">: no '<' (so no "</script>" or
// "<!--") can appear; '<' only occurs inside strings, where \u003c means the same.
std::string script_safe_json(const nlohmann::json& j) {
  const std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else
      out += c;
  }
  return out;
}

// Replaces {{NAME}} placeholders in one pass, so substituted text is never scanned again.
std::string fill_template(std::string_view tpl, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t i = 0;
  while (i < tpl.size()) {
    const size_t open = tpl.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(tpl.substr(i));
      break;
    }
    const size_t close = tpl.find("}}", open);
    if (close == std::string_view::npos) {
      out.append(tpl.substr(i));
      break;
    }
    const std::string key(tpl.substr(open + 2, close - open - 2));
    auto it = values.find(key);
    out.append(tpl.substr(i, open - i));
    if (it != values.end())
      out += it->second;
    else
      out.append(tpl.substr(open, close + 2 - open));
    i = close + 2;
  }
  return out;
}

}  // namespace

std::string explorer_html(const std::map<int, Tensor>& patterns, const std::vector<std::string>& tokens,
                          const ExplorerOptions& options) {
  const Colormap cmap = Colormap::by_name(options.colormap);
  const detail::EncodedPatterns enc = detail::encode_patterns(patterns, options.batch, options.bits);
  if (static_cast<int64_t>(tokens.size()) != enc.keys)
    fail(ErrorKind::InvalidArgument, "explorer: " + std::to_string(tokens.size()) + " tokens for patterns with " +
                                         std::to_string(enc.keys) + " key positions");
  nlohmann::json j;
  j["version"] = 1;
  j["title"] = valid_utf8(options.title);
  j["subtitle"] = valid_utf8(options.subtitle);
  nlohmann::json toks = nlohmann::json::array();
  for (const auto& t : tokens) toks.push_back(valid_utf8(t));
  j["tokens"] = toks;
  j["layers"] = enc.layers;
  j["heads"] = enc.heads;
  j["queries"] = enc.queries;
  j["keys"] = enc.keys;
  j["triangle"] = enc.triangle;
  j["bits"] = enc.bits;
  j["encoding"] = "zlib+base64";
  j["colormap"] = cmap.name();
  j["lut"] = cmap.sample_hex(256);
  j["heatmapSize"] = options.heatmap_size > 0 ? options.heatmap_size : 560;
  // Head types compactly: label names once, then [layer, head, label index, score to 3 decimals].
  std::vector<std::string> labels;
  nlohmann::json types = nlohmann::json::array();
  for (const auto& m : options.head_types) {
    const std::string label = valid_utf8(m.label);
    auto it = std::find(labels.begin(), labels.end(), label);
    if (it == labels.end()) it = labels.insert(labels.end(), label);
    // A non-finite score stays non-finite: null in JSON, shown as NaN, never as 0.
    const nlohmann::json score =
        std::isfinite(m.score) ? nlohmann::json(std::round(m.score * 1000) / 1000) : nlohmann::json(nullptr);
    types.push_back({m.layer, m.head, it - labels.begin(), score});
  }
  j["typeLabels"] = labels;
  j["headTypes"] = types;
  j["data"] = enc.base64;
  if (options.analysis)
    j["analysis"] = detail::explorer_analysis_json(*options.analysis, patterns, options.batch, enc.bits);

  return fill_template(
      asset("explorer.html"),
      {
          {"TITLE", detail::xml_escape(valid_utf8(options.title))},
          {"CSS", std::string(asset("explorer.css")) + "\n" + std::string(asset("explorer_analysis.css"))},
          {"JS", std::string(asset("explorer.js")) + "\n" + std::string(asset("explorer_analysis.js"))},
          {"DATA", script_safe_json(j)},
      });
}

void save_explorer(const std::string& path, const std::map<int, Tensor>& patterns,
                   const std::vector<std::string>& tokens, const ExplorerOptions& options) {
  detail::write_file_atomically(path, explorer_html(patterns, tokens, options));
}

}  // namespace attnscope
