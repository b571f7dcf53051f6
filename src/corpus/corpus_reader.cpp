// Reading corpora (see attnscope/corpus.h): every bad item goes through reject_input, so it is
// either refused with its file and line or recorded as skipped, never dropped silently.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/corpus.h"
#include "attnscope/error.h"
#include "tokenizer/utf8.h"

namespace attnscope {

namespace {

namespace fs = std::filesystem;

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, path.string() + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(ErrorKind::Io, path.string() + ": read error");
  return ss.str();
}

// Lines split on "\n" (a "\r" before it dropped); a final newline ends the last line rather
// than starting an empty one.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// A prompt's text, or the reason it is not one.
std::string check_text(std::string_view text) {
  if (!detail::utf8_valid(text)) return "not valid UTF-8";
  if (blank(text)) return "empty line";
  return {};
}

class Reader {
 public:
  explicit Reader(BadInputPolicy policy) : policy_(policy) {}

  void add(const std::string& source, int64_t line, std::string_view text, const std::string& empty_reason = "") {
    std::string reason = check_text(text);
    if (reason == "empty line" && !empty_reason.empty()) reason = empty_reason;
    if (!reason.empty()) return reject_input(corpus_, {source, line, reason}, policy_);
    CorpusPrompt p;
    p.index = static_cast<int64_t>(corpus_.prompts.size());
    p.source = source;
    p.line = line;
    p.text = std::string(text);
    corpus_.prompts.push_back(std::move(p));
  }

  void text_file(const fs::path& path) {
    const std::string data = read_file(path);
    const auto lines = split_lines(data);
    for (size_t i = 0; i < lines.size(); ++i) add(path.string(), static_cast<int64_t>(i + 1), lines[i]);
  }

  void jsonl_file(const fs::path& path) {
    const std::string data = read_file(path);
    const auto lines = split_lines(data);
    for (size_t i = 0; i < lines.size(); ++i) {
      const int64_t n = static_cast<int64_t>(i + 1);
      const std::string reason = check_text(lines[i]);
      if (!reason.empty()) {
        reject_input(corpus_, {path.string(), n, reason}, policy_);
        continue;
      }
      nlohmann::json j = nlohmann::json::parse(lines[i], nullptr, false);
      if (j.is_discarded()) {
        reject_input(corpus_, {path.string(), n, "not valid JSON"}, policy_);
      } else if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
        reject_input(corpus_, {path.string(), n, "no string \"text\" field"}, policy_);
      } else {
        add(path.string(), n, j["text"].get_ref<const std::string&>(), "empty text");
      }
    }
  }

  void directory(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) return reject_input(corpus_, {dir.string(), 0, "no .txt files in this folder"}, policy_);
    for (const auto& f : files) {
      std::string data = read_file(f);
      if (!data.empty() && data.back() == '\n') data.pop_back();
      if (!data.empty() && data.back() == '\r') data.pop_back();
      add(f.string(), 1, data, "empty file");
    }
  }

  void path(const std::string& p) {
    std::error_code ec;
    const fs::path path(p);
    if (fs::is_directory(path, ec)) return directory(path);
    if (!fs::exists(path, ec)) {
      if (policy_ == BadInputPolicy::Refuse) fail(ErrorKind::NotFound, p + ": no such file or directory");
      return reject_input(corpus_, {p, 0, "no such file or directory"}, policy_);
    }
    const std::string ext = path.extension().string();
    if (ext == ".jsonl" || ext == ".ndjson") return jsonl_file(path);
    text_file(path);
  }

  Corpus finish() {
    if (corpus_.prompts.empty())
      fail(ErrorKind::InvalidArgument,
           "the corpus holds no usable prompt" +
               (corpus_.skipped.empty() ? std::string()
                                        : " (" + std::to_string(corpus_.skipped.size()) +
                                              " skipped, the first: " + describe(corpus_.skipped[0]) + ")"));
    return std::move(corpus_);
  }

 private:
  BadInputPolicy policy_;
  Corpus corpus_;
};

}  // namespace

std::string describe(const CorpusIssue& issue) {
  return issue.source + (issue.line > 0 ? ":" + std::to_string(issue.line) : std::string()) + ": " + issue.reason;
}

void reject_input(Corpus& corpus, const CorpusIssue& issue, BadInputPolicy policy) {
  if (policy == BadInputPolicy::Refuse)
    fail(ErrorKind::InvalidArgument,
         describe(issue) + " (to skip bad input instead: --on-bad-input skip, or on_bad_input=\"skip\" in Python)");
  corpus.skipped.push_back(issue);
}

Corpus read_corpus(const std::vector<std::string>& paths, BadInputPolicy policy) {
  if (paths.empty()) fail(ErrorKind::InvalidArgument, "no corpus given");
  Reader r(policy);
  for (const auto& p : paths) r.path(p);
  return r.finish();
}

Corpus corpus_from_texts(const std::vector<std::string>& texts, BadInputPolicy policy) {
  Reader r(policy);
  for (size_t i = 0; i < texts.size(); ++i) r.add("<list>", static_cast<int64_t>(i + 1), texts[i]);
  return r.finish();
}

}  // namespace attnscope
