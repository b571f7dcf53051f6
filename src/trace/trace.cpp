#include "attnscope/trace.h"

#include "attnscope/error.h"
#include "model/hooks.h"

namespace attnscope {

std::optional<std::string> canonical_hook_name(const std::string& input) { return detail::canonical_hook(input); }

bool hook_glob_match(const std::string& pattern, const std::string& name) {
  // Iterative wildcard match with backtracking to the last '*': linear in practice, no regex.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool Trace::has(const std::string& name) const {
  auto canonical = canonical_hook_name(name);
  return captured_.count(canonical ? *canonical : name) != 0 ||
         (canonical && *canonical == "logits" && !logits.empty());
}

const Tensor& Trace::at(const std::string& name) const {
  auto canonical = canonical_hook_name(name);
  const std::string key = canonical ? *canonical : name;
  auto it = captured_.find(key);
  if (it != captured_.end()) return it->second;
  if (key == "logits" && !logits.empty()) return logits;
  std::string have;
  for (const auto& [k, v] : captured_) have += (have.empty() ? "" : ", ") + k;
  fail(ErrorKind::NotFound, "'" + name + "' was not captured in this trace (captured: " +
                                (have.empty() ? std::string("nothing") : have) + ")");
}

void Trace::set(const std::string& canonical_name, Tensor value) {
  captured_[canonical_name] = std::move(value);
}

std::map<int, Tensor> Trace::attention_patterns() const {
  std::map<int, Tensor> out;
  static const std::string suffix = ".attn.hook_pattern";
  for (const auto& [name, value] : captured_) {
    if (name.rfind("blocks.", 0) != 0 || name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    out[std::stoi(name.substr(7))] = value;
  }
  return out;
}

}  // namespace attnscope
