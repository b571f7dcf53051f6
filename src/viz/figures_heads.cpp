// Layers x heads panels of per-head numbers (viz.h save_head_panels), drawn with the same panel
// blocks as the attribution figures; each panel keeps its own range because the quantities shown
// side by side (a probability difference, a divergence in nats, a score change) have different units.
#include <algorithm>
#include <cmath>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz/canvas.h"
#include "viz/panel.h"

namespace attnscope {

using namespace detail;

void save_head_panels(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& panels,
                      const std::string& subtitle, const FigureOptions& options) {
  if (panels.empty()) fail(ErrorKind::InvalidArgument, "head panels figure: no panels");
  const Shape shape = panels[0].second.shape();
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1)
    fail(ErrorKind::InvalidArgument,
         "head panels figure: each panel must be [layers, heads], got " + panels[0].second.shape_str());
  const int64_t L = shape[0], H = shape[1];
  std::vector<std::string> rows, cols;
  for (int64_t l = 0; l < L; ++l) rows.push_back((options.notation == HeadNotation::LH ? "L" : "") + std::to_string(l));
  for (int64_t h = 0; h < H; ++h) cols.push_back((options.notation == HeadNotation::LH ? "H" : "") + std::to_string(h));
  save_labelled_panels(path, panels, rows, cols, subtitle, options);
}

void save_labelled_panels(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& panels,
                          const std::vector<std::string>& rows, const std::vector<std::string>& cols,
                          const std::string& subtitle, const FigureOptions& options) {
  if (panels.empty()) fail(ErrorKind::InvalidArgument, "panels figure: no panels");
  const int64_t L = static_cast<int64_t>(rows.size()), H = static_cast<int64_t>(cols.size());
  const Shape shape{L, H};
  if (L < 1 || H < 1) fail(ErrorKind::InvalidArgument, "panels figure: no row or no column labels");
  std::vector<Mat> mats;
  for (const auto& [name, t] : panels) {
    if (t.shape() != shape)
      fail(ErrorKind::InvalidArgument, "panels figure: '" + name + "' is " + t.shape_str() + ", the labels give [" +
                                           std::to_string(L) + ", " + std::to_string(H) + "]");
    mats.push_back(Mat{L, H, std::vector<float>(t.data(), t.data() + L * H)});
  }
  const PanelLayout P = layout_panel(L, H, rows, cols, options.cell, true);
  const double margin = 16, gap = 20, sub_h = subtitle.empty() ? 0 : 18, title_h = 16;
  const double step = P.width + (options.colorbar ? kColorbarWidth + 10 : 0) + gap;
  Canvas canvas(path, std::max(margin * 2 + static_cast<double>(mats.size()) * step, 260.0),
                margin * 2 + title_h + sub_h + P.height);
  cairo_set_source_rgb(canvas.cr(), 0.1, 0.1, 0.1);
  if (!options.title.empty()) canvas.text(options.title, margin, margin, 12, 0, 0, "title", true);
  if (!subtitle.empty()) {
    cairo_set_source_rgb(canvas.cr(), 0.2, 0.2, 0.2);
    canvas.text(subtitle, margin, margin + title_h, 10, 0, 0, "subtitle");
  }
  const double top = margin + title_h + sub_h;
  for (size_t i = 0; i < mats.size(); ++i) {
    bool negative = false;
    for (float v : mats[i].v) negative = negative || v < 0;
    Colormap cmap = Colormap::by_name(options.colormap);
    if (negative && !cmap.diverging()) cmap = Colormap::by_name("RdBu");
    const Range range = value_range({&mats[i]}, options, negative, false);
    const double x = margin + static_cast<double>(i) * step;
    draw_panel(canvas, x, top, P, mats[i], rows, cols, panels[i].first, range, cmap, false);
    if (options.colorbar)
      draw_colorbar(canvas, x + P.width + 10, top + P.grid_y, std::max(60.0, static_cast<double>(L) * P.cell), range,
                    cmap);
  }
  canvas.finish();
}

}  // namespace attnscope
