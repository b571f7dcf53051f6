// Recognising files attnscope wrote (PNG tEXt chunk, SVG comment, PDF Creator, explorer meta tag),
// so front ends overwrite their own output but never a file they did not write.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "attnscope/viz.h"

namespace attnscope {

namespace {
std::string read_span(std::ifstream& in, std::streamoff at, std::streamsize n) {
  std::string s(static_cast<size_t>(n), '\0');
  in.seekg(at);
  in.read(s.data(), n);
  s.resize(static_cast<size_t>(in.gcount()));
  in.clear();
  return s;
}
}  // namespace

bool is_attnscope_output(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  const auto size = static_cast<std::streamoff>(std::filesystem::file_size(path, ec));
  if (ec) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  constexpr std::streamsize kSpan = 64 * 1024;
  const std::string head = read_span(in, 0, kSpan);
  if (head.rfind("\x89PNG\r\n\x1a\n", 0) == 0)
    return head.find(std::string("tEXtSoftware") + '\0' + "attnscope") != std::string::npos;
  if (head.rfind("%PDF", 0) == 0) {
    // The Info dictionary is written near the end.
    const std::string tail = read_span(in, std::max<std::streamoff>(0, size - kSpan), kSpan);
    return tail.find("/Creator (attnscope)") != std::string::npos;
  }
  if (head.find("<svg") != std::string::npos) return head.find("<!-- generator: attnscope -->") != std::string::npos;
  return head.find("<meta name=\"generator\" content=\"attnscope\">") != std::string::npos;
}

}  // namespace attnscope
