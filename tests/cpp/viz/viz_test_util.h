// Helpers shared by the viz tests: artifact paths, PNG decoding and running python for checks.
#pragma once
#include <cairo/cairo.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace viz_test {

// build/<dir>/artifacts/<name>: figures the tests write are kept for people to look at.
inline std::string artifact(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(ATTNSCOPE_BINARY_DIR) / "artifacts";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A decoded PNG (cairo's own decoder, independent of how the figure was drawn).
struct Png {
  cairo_surface_t* s = nullptr;
  explicit Png(const std::string& path) : s(cairo_image_surface_create_from_png(path.c_str())) {}
  ~Png() {
    if (s) cairo_surface_destroy(s);
  }
  bool ok() const { return cairo_surface_status(s) == CAIRO_STATUS_SUCCESS; }
  int width() const { return cairo_image_surface_get_width(s); }
  int height() const { return cairo_image_surface_get_height(s); }
  // RGB of the pixel (opaque images only, so no premultiplication to undo).
  std::array<int, 3> rgb(int x, int y) const {
    const unsigned char* d = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    const uint32_t p = *reinterpret_cast<const uint32_t*>(d + static_cast<ptrdiff_t>(y) * stride + 4 * x);
    return {static_cast<int>((p >> 16) & 0xFF), static_cast<int>((p >> 8) & 0xFF), static_cast<int>(p & 0xFF)};
  }
};

// Runs a command and returns its stdout ("" if it could not run).
inline std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int st = pclose(f);
  if (status) *status = st;
  return out;
}

inline bool have_python() { return std::filesystem::exists("/usr/bin/python3"); }

}  // namespace viz_test
