// Named colormaps: linear interpolation between the generated control points.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz/colormap_data.h"

namespace attnscope {

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::vector<std::string> Colormap::names() {
  std::vector<std::string> out;
  for (const auto& d : detail::colormap_table()) out.emplace_back(d.name);
  return out;
}

Colormap Colormap::by_name(const std::string& name) {
  const detail::ColormapData* found = nullptr;
  for (const auto& d : detail::colormap_table())
    if (name == d.name) found = &d;
  if (!found)
    for (const auto& d : detail::colormap_table())
      if (lower(name) == lower(d.name)) found = &d;
  if (!found) {
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    fail(ErrorKind::InvalidArgument, "unknown colormap '" + name + "'; known colormaps: " + known);
  }
  Colormap cm;
  cm.name_ = found->name;
  cm.diverging_ = found->diverging;
  for (int i = 0; i < found->n; ++i) cm.points_.push_back({found->rgb[i][0], found->rgb[i][1], found->rgb[i][2]});
  return cm;
}

Rgb Colormap::at(double t) const {
  if (points_.empty()) return {};
  if (!(t >= 0)) t = 0;  // also catches NaN
  if (t > 1) t = 1;
  const double x = t * static_cast<double>(points_.size() - 1);
  const size_t i = std::min(static_cast<size_t>(x), points_.size() - 2);
  const double f = x - static_cast<double>(i);
  const Rgb& a = points_[i];
  const Rgb& b = points_[i + 1];
  return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f};
}

std::string Colormap::hex(double t) const {
  const Rgb c = at(t);
  auto byte = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", byte(c.r), byte(c.g), byte(c.b));
  return buf;
}

std::vector<std::string> Colormap::sample_hex(int n) const {
  std::vector<std::string> out;
  if (n < 2) n = 2;
  for (int i = 0; i < n; ++i) out.push_back(hex(static_cast<double>(i) / (n - 1)));
  return out;
}

std::string head_label(int layer, int head, HeadNotation notation) {
  // Appending (rather than "L" + std::to_string(...)) avoids a GCC 12 -Wrestrict false positive.
  std::string s;
  if (notation == HeadNotation::LH) s += 'L';
  s += std::to_string(layer);
  s += notation == HeadNotation::LH ? 'H' : '.';
  s += std::to_string(head);
  return s;
}

}  // namespace attnscope
