// Building blocks shared by the figures: one head's matrix, value ranges, the labelled heatmap
// panel (its geometry is public to the tests so they can sample pixels at known cells).
#pragma once
#include <string>
#include <vector>

#include "attnscope/tensor.h"
#include "attnscope/viz.h"
#include "viz/canvas.h"

namespace attnscope::detail {

// A dense row-major matrix (query rows, key columns).
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<float> v;
  float at(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * cols + c)]; }
};

// One head of a [B, H, Q, K] pattern, or a [Q, K] matrix as is. InvalidArgument (naming `what`,
// the shape and the index) for other ranks or out-of-range batch/head, or an empty matrix.
Mat head_matrix(const Tensor& pattern, int batch, int head, const std::string& what);

struct Range {
  double lo = 0, hi = 1;
};
// Fixed parts from options; the rest from the data: [0, max] for non-negative data, [min, max]
// otherwise, or symmetric [-m, m] when `symmetric`. Never empty (hi > lo). NaN cells are ignored.
Range value_range(const std::vector<const Mat*>& mats, const FigureOptions& options, bool symmetric, bool mask_upper);
// Query and key labels for a rows x cols pattern: keys are `tokens` (one per key position), queries
// the last `rows` of them. Empty tokens give empty labels. InvalidArgument on a count mismatch.
void token_axes(const std::vector<std::string>& tokens, int64_t rows, int64_t cols, const std::string& what,
                std::vector<std::string>& q, std::vector<std::string>& k);

// Where a value falls in the range, clamped to [0, 1].
double normalise(double value, const Range& range);

// Geometry of a labelled heatmap panel, in points relative to the panel's top-left corner.
struct PanelLayout {
  double cell = 10;               // cell side
  double font = 10;               // label size
  double label_left = 0;          // width reserved for query labels
  double label_bottom = 0;        // height reserved for key labels
  double title_h = 0;             // height reserved for the title
  bool rotate_keys = false;       // key labels at 45 degrees
  int stride = 1;                 // label every stride-th token (tiny cells only)
  double grid_x = 0, grid_y = 0;  // top-left of cell (0, 0)
  double width = 0, height = 0;   // whole panel
};
// `cell` <= 0 picks a size from the token count. Tokens may be empty (no labels).
PanelLayout layout_panel(int64_t rows, int64_t cols, const std::vector<std::string>& q_tokens,
                         const std::vector<std::string>& k_tokens, double cell, bool with_title);

// Draws the panel with its top-left at (x, y).
void draw_panel(Canvas& canvas, double x, double y, const PanelLayout& layout, const Mat& mat,
                const std::vector<std::string>& q_tokens, const std::vector<std::string>& k_tokens,
                const std::string& title, const Range& range, const Colormap& cmap, bool mask_upper);

// Cells only: `mat` painted into the rectangle (x, y, cols*cw, rows*ch), one image pixel per cell.
void draw_cells(cairo_t* cr, double x, double y, double cw, double ch, const Mat& mat, const Range& range,
                const Colormap& cmap, bool mask_upper);

inline constexpr double kColorbarWidth = 70;  // points a colorbar (with its ticks) takes
void draw_colorbar(Canvas& canvas, double x, double y, double height, const Range& range, const Colormap& cmap);

// The layout save_head_heatmap uses for this input (figure margins included): tests sample
// pixels at (kPngScale * (margin + grid + (k + 0.5) * cell)).
struct HeatmapFigureLayout {
  PanelLayout panel;
  double margin = 0;  // panel top-left is (margin, margin)
  double width = 0, height = 0;
};
HeatmapFigureLayout head_heatmap_layout(int64_t rows, int64_t cols, const std::vector<std::string>& tokens,
                                        const FigureOptions& options);

}  // namespace attnscope::detail
