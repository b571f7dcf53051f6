// Figures of the attribution analyses (viz.h): direct logit attribution per head and the
// composition-score matrices, drawn with the same panel blocks as the pattern figures.
#include <algorithm>
#include <cmath>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz/canvas.h"
#include "viz/panel.h"

namespace attnscope {

using namespace detail;

namespace {

std::vector<std::string> numbered(const std::string& prefix, int64_t n, HeadNotation notation) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back((notation == HeadNotation::LH ? prefix : "") + std::to_string(i));
  return out;
}

}  // namespace

void save_logit_attribution(const std::string& path, const Tensor& heads, const std::vector<double>& mlp,
                            const std::string& subtitle, const FigureOptions& options) {
  if (heads.ndim() != 2 || heads.empty())
    fail(ErrorKind::InvalidArgument,
         "logit attribution figure: heads must be [layers, heads], got " + heads.shape_str());
  const int64_t L = heads.dim(0), H = heads.dim(1);
  if (!mlp.empty() && static_cast<int64_t>(mlp.size()) != L)
    fail(ErrorKind::InvalidArgument, "logit attribution figure: " + std::to_string(mlp.size()) + " MLP values for " +
                                         std::to_string(L) + " layers");
  Colormap cmap = Colormap::by_name(options.colormap);
  if (!cmap.diverging()) cmap = Colormap::by_name("RdBu");
  Mat m{L, H + (mlp.empty() ? 0 : 1), {}};
  for (int64_t l = 0; l < L; ++l) {
    for (int64_t h = 0; h < H; ++h) m.v.push_back(heads.data()[l * H + h]);
    if (!mlp.empty()) m.v.push_back(static_cast<float>(mlp[static_cast<size_t>(l)]));
  }
  std::vector<std::string> rows = numbered("L", L, options.notation), cols = numbered("H", H, options.notation);
  if (!mlp.empty()) cols.push_back("MLP");
  const Range range = value_range({&m}, options, true, false);
  const PanelLayout P = layout_panel(m.rows, m.cols, rows, cols, options.cell, true);
  const double margin = 16, sub_h = subtitle.empty() ? 0 : 18;
  const double width = margin * 2 + P.width + (options.colorbar ? kColorbarWidth + 14 : 0);
  const double height = margin * 2 + sub_h + P.height;
  Canvas canvas(path, std::max(width, 260.0), height);
  if (!subtitle.empty()) {
    cairo_set_source_rgb(canvas.cr(), 0.2, 0.2, 0.2);
    canvas.text(subtitle, margin, margin + 6, 10, 0, 0, "subtitle");
  }
  const std::string title = options.title.empty() ? "Direct logit attribution" : options.title;
  draw_panel(canvas, margin, margin + sub_h, P, m, rows, cols, title, range, cmap, false);
  if (options.colorbar)
    draw_colorbar(canvas, margin + P.width + 14, margin + sub_h + P.grid_y,
                  std::max(60.0, static_cast<double>(L) * P.cell), range, cmap);
  canvas.finish();
}

void save_composition_scores(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& scores,
                             const FigureOptions& options) {
  if (scores.empty()) fail(ErrorKind::InvalidArgument, "composition figure: no score matrices");
  const Shape shape = scores[0].second.shape();
  if (shape.size() != 4 || shape[0] != shape[2] || shape[1] != shape[3] || shape[0] < 2 || shape[1] < 1)
    fail(ErrorKind::InvalidArgument,
         "composition figure: scores must be [L, H, L, H] with L >= 2, got " + scores[0].second.shape_str());
  const int64_t L = shape[0], H = shape[1];
  // Rows: heads of layers 0..L-2 (writers); columns: heads of layers 1..L-1 (readers).
  const int64_t n_src = (L - 1) * H, n_dst = (L - 1) * H;
  std::vector<std::string> src, dst;
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h) {
      const std::string name = head_label(static_cast<int>(l), static_cast<int>(h), options.notation);
      if (l < L - 1) src.push_back(name);
      if (l > 0) dst.push_back(name);
    }
  std::vector<Mat> mats;
  for (const auto& [name, t] : scores) {
    if (t.shape() != shape)
      fail(ErrorKind::InvalidArgument,
           "composition figure: '" + name + "' is " + t.shape_str() + ", the first " + scores[0].second.shape_str());
    Mat m{n_src, n_dst, std::vector<float>(static_cast<size_t>(n_src * n_dst), 0.0f)};
    for (int64_t a = 0; a < n_src; ++a)
      for (int64_t b = 0; b < n_dst; ++b) {
        const int64_t l1 = a / H, h1 = a % H, l2 = b / H + 1, h2 = b % H;
        m.v[static_cast<size_t>(a * n_dst + b)] = t.data()[((l1 * H + h1) * L + l2) * H + h2];
      }
    mats.push_back(std::move(m));
  }
  std::vector<const Mat*> ptrs;
  for (const auto& m : mats) ptrs.push_back(&m);
  const Range range = value_range(ptrs, options, false, false);
  const Colormap cmap = Colormap::by_name(options.colormap);
  const PanelLayout P = layout_panel(n_src, n_dst, src, dst, options.cell, true);
  const double margin = 16, gap = 24;
  const double width =
      margin * 2 + static_cast<double>(mats.size()) * (P.width + gap) + (options.colorbar ? kColorbarWidth : 0);
  Canvas canvas(path, width, margin * 2 + P.height + 14);
  cairo_set_source_rgb(canvas.cr(), 0.2, 0.2, 0.2);
  canvas.text(options.title.empty() ? "Composition scores (rows: writing head, columns: reading head)" : options.title,
              margin, margin, 10, 0, 0, "subtitle");
  for (size_t i = 0; i < mats.size(); ++i)
    draw_panel(canvas, margin + static_cast<double>(i) * (P.width + gap), margin + 14, P, mats[i], src, dst,
               scores[i].first + "-composition", range, cmap, false);
  if (options.colorbar)
    draw_colorbar(canvas, margin + static_cast<double>(mats.size()) * (P.width + gap), margin + 14 + P.grid_y,
                  std::max(60.0, static_cast<double>(n_src) * P.cell), range, cmap);
  canvas.finish();
}

}  // namespace attnscope
