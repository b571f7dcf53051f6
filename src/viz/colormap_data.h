// The generated colormap control points (src/viz/colormap_data.cpp, from scripts/gen_colormaps.py).
#pragma once
#include <vector>

namespace attnscope::detail {

struct ColormapData {
  const char* name;
  bool diverging;
  int n;                  // number of evenly spaced control points (>= 2)
  const float (*rgb)[3];  // n entries, each channel in [0, 1]
};

const std::vector<ColormapData>& colormap_table();

}  // namespace attnscope::detail
