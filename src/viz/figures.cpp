// The static figures of viz.h, drawn with the panel building blocks onto a Canvas.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz/canvas.h"
#include "viz/panel.h"
#include "viz/text.h"

namespace attnscope {

using namespace detail;

namespace {

void title_text(Canvas& c, const std::string& s, double x, double y, double size = 14) {
  cairo_set_source_rgb(c.cr(), 0.05, 0.05, 0.05);
  c.text(s, x, y, size, 0.5, 0, "title", true);
}

// Mean and max over heads of batch row `batch`.
void head_reductions(const Tensor& p, int batch, Mat& mean, Mat& max) {
  if (p.ndim() != 4) fail(ErrorKind::InvalidArgument, "layer summary: expected [B, H, Q, K], got " + p.shape_str());
  const int H = static_cast<int>(p.dim(1));
  mean = head_matrix(p, batch, 0, "layer summary");
  max = mean;
  for (int h = 1; h < H; ++h) {
    const Mat m = head_matrix(p, batch, h, "layer summary");
    for (size_t i = 0; i < m.v.size(); ++i) {
      mean.v[i] += m.v[i];
      max.v[i] = std::max(max.v[i], m.v[i]);
    }
  }
  for (auto& v : mean.v) v /= static_cast<float>(H);
}

}  // namespace

void save_head_heatmap(const std::string& path, const Tensor& pattern, int layer, int head,
                       const std::vector<std::string>& tokens, const FigureOptions& options) {
  const Colormap cmap = Colormap::by_name(options.colormap);
  const Mat m = head_matrix(pattern, options.batch, head, "heatmap " + head_label(layer, head, options.notation));
  std::vector<std::string> q, k;
  token_axes(tokens, m.rows, m.cols, "heatmap", q, k);
  const HeatmapFigureLayout F = head_heatmap_layout(m.rows, m.cols, tokens, options);
  const Range range = value_range({&m}, options, false, options.mask_upper);
  Canvas canvas(path, F.width, F.height);
  const std::string title = options.title.empty() ? head_label(layer, head, options.notation) : options.title;
  draw_panel(canvas, F.margin, F.margin, F.panel, m, q, k, title, range, cmap, options.mask_upper);
  if (options.colorbar)
    draw_colorbar(canvas, F.margin + F.panel.width + 14, F.margin + F.panel.grid_y,
                  std::max(60.0, static_cast<double>(m.rows) * F.panel.cell), range, cmap);
  canvas.finish();
}

std::vector<std::string> save_attention_grid(const std::string& path, const std::map<int, Tensor>& patterns,
                                             const std::vector<std::string>& tokens, const std::vector<int>& layers_in,
                                             const std::vector<int>& heads_in, const FigureOptions& options) {
  const Colormap cmap = Colormap::by_name(options.colormap);
  if (patterns.empty()) fail(ErrorKind::InvalidArgument, "grid: no attention patterns (was hook_pattern captured?)");
  std::vector<int> layers = layers_in;
  if (layers.empty())
    for (const auto& [l, t] : patterns) layers.push_back(l);
  for (int l : layers)
    if (!patterns.count(l)) {
      std::string have;
      for (const auto& [k, t] : patterns) have += (have.empty() ? "" : ", ") + std::to_string(k);
      fail(ErrorKind::InvalidArgument, "grid: layer " + std::to_string(l) + " was not captured (have " + have + ")");
    }
  // Every panel and the shared range.
  struct Panel {
    int layer, head;
    Mat m;
  };
  std::vector<Panel> panels;
  int max_heads = 0;
  for (int l : layers) {
    const Tensor& p = patterns.at(l);
    if (p.ndim() != 4)
      fail(ErrorKind::InvalidArgument,
           "grid: layer " + std::to_string(l) + " pattern is " + p.shape_str() + ", expected [B, H, Q, K]");
    std::vector<int> heads = heads_in;
    if (heads.empty())
      for (int h = 0; h < p.dim(1); ++h) heads.push_back(h);
    max_heads = std::max(max_heads, static_cast<int>(heads.size()));
    for (int h : heads)
      panels.push_back({l, h, head_matrix(p, options.batch, h, "grid " + head_label(l, h, options.notation))});
  }
  std::vector<const Mat*> mats;
  for (const auto& p : panels) mats.push_back(&p.m);
  const Range range = value_range(mats, options, false, options.mask_upper);
  if (!tokens.empty())
    for (const auto& p : panels) {
      std::vector<std::string> q, k;
      token_axes(tokens, p.m.rows, p.m.cols, "grid", q, k);
    }

  // Columns: the selected heads (wrapped at 16); panels shrink as columns grow.
  const int ncols = std::min(max_heads, 16);
  const int64_t n = std::max(panels.front().m.rows, panels.front().m.cols);
  double panel = std::clamp(static_cast<double>(n) * 10.0, 60.0, 160.0);
  panel = std::max(40.0, std::min(panel, 2000.0 / ncols));
  const double cell = panel / static_cast<double>(n);
  const double title_h = 16, gap = 8, margin = 16, header = 30;
  const int per_page = options.max_panels_per_page > 0 ? options.max_panels_per_page : static_cast<int>(panels.size());
  const int pages = static_cast<int>((panels.size() + per_page - 1) / per_page);

  auto page_size = [&](size_t count, double& w, double& h) {
    // Rows: panels of one layer start a new row; count rows as laid out.
    w = margin * 2 + ncols * (panel + gap) + kColorbarWidth;
    (void)count;
    h = 0;
  };
  std::unique_ptr<Canvas> canvas;
  for (int pg = 0; pg < pages; ++pg) {
    const size_t begin = static_cast<size_t>(pg) * per_page;
    const size_t end = std::min(panels.size(), begin + per_page);
    // Positions: a new row when the layer changes or the row is full.
    std::vector<std::pair<int, int>> pos(end - begin);
    int row = 0, col = 0;
    for (size_t i = begin; i < end; ++i) {
      if (i > begin && (panels[i].layer != panels[i - 1].layer || col == ncols)) {
        ++row;
        col = 0;
      }
      pos[i - begin] = {row, col++};
    }
    double w, h;
    page_size(end - begin, w, h);
    h = margin * 2 + header + (row + 1) * (panel + title_h + gap);
    if (!canvas)
      canvas = std::make_unique<Canvas>(path, w, h);
    else
      canvas->new_page(w, h);
    std::string heading = options.title.empty() ? "Attention patterns" : options.title;
    if (pages > 1) heading += " (page " + std::to_string(pg + 1) + " of " + std::to_string(pages) + ")";
    title_text(*canvas, heading, w / 2, margin + 8);
    for (size_t i = begin; i < end; ++i) {
      const auto [r, c] = pos[i - begin];
      const double x = margin + c * (panel + gap);
      const double y = margin + header + r * (panel + title_h + gap);
      cairo_set_source_rgb(canvas->cr(), 0.1, 0.1, 0.1);
      canvas->text(head_label(panels[i].layer, panels[i].head, options.notation), x + panel / 2, y + title_h / 2,
                   std::clamp(panel / 8, 6.0, 11.0), 0.5, 0, "panel-title");
      const Mat& m = panels[i].m;
      draw_cells(canvas->cr(), x, y + title_h, cell, cell, m, range, cmap, options.mask_upper);
      cairo_set_source_rgb(canvas->cr(), 0.6, 0.6, 0.6);
      cairo_set_line_width(canvas->cr(), 0.5);
      cairo_rectangle(canvas->cr(), x, y + title_h, cell * m.cols, cell * m.rows);
      cairo_stroke(canvas->cr());
    }
    if (options.colorbar)
      draw_colorbar(*canvas, margin + ncols * (panel + gap) + 6, margin + header + title_h,
                    std::max(60.0, std::min(h - margin * 2 - header - title_h, 240.0)), range, cmap);
  }
  return canvas->finish();
}

void save_layer_summary(const std::string& path, const Tensor& layer_pattern, int layer,
                        const std::vector<std::string>& tokens, const FigureOptions& options) {
  const Colormap cmap = Colormap::by_name(options.colormap);
  Mat mean, max;
  head_reductions(layer_pattern, options.batch, mean, max);
  std::vector<std::string> q, k;
  token_axes(tokens, mean.rows, mean.cols, "layer summary", q, k);
  const PanelLayout L = layout_panel(mean.rows, mean.cols, q, k, options.cell, true);
  const Range rmean = value_range({&mean}, options, false, options.mask_upper);
  const Range rmax = value_range({&max}, options, false, options.mask_upper);
  const double margin = 16, header = 30, gap = 24;
  const double bar = options.colorbar ? kColorbarWidth : 0;
  const double w = margin * 2 + 2 * (L.width + bar) + gap, h = margin * 2 + header + L.height;
  Canvas canvas(path, w, h);
  const std::string heads = std::to_string(layer_pattern.dim(1));
  title_text(
      canvas,
      options.title.empty() ? "Layer " + std::to_string(layer) + " summary over " + heads + " heads" : options.title,
      w / 2, margin + 8);
  const double y = margin + header;
  draw_panel(canvas, margin, y, L, mean, q, k, "mean over heads", rmean, cmap, options.mask_upper);
  const double grid_h = std::max(60.0, static_cast<double>(mean.rows) * L.cell);
  if (bar > 0) draw_colorbar(canvas, margin + L.width + 10, y + L.grid_y, grid_h, rmean, cmap);
  const double x2 = margin + L.width + bar + gap;
  draw_panel(canvas, x2, y, L, max, q, k, "max over heads", rmax, cmap, options.mask_upper);
  if (bar > 0) draw_colorbar(canvas, x2 + L.width + 10, y + L.grid_y, grid_h, rmax, cmap);
  canvas.finish();
}

void save_prompt_comparison(const std::string& path, const std::vector<Tensor>& patterns,
                            const std::vector<std::vector<std::string>>& tokens, const std::vector<std::string>& titles,
                            int layer, int head, const FigureOptions& options) {
  const Colormap cmap = Colormap::by_name(options.colormap);
  if (patterns.empty()) fail(ErrorKind::InvalidArgument, "prompt comparison: no patterns");
  if (tokens.size() != patterns.size())
    fail(ErrorKind::InvalidArgument, "prompt comparison: " + std::to_string(patterns.size()) + " patterns but " +
                                         std::to_string(tokens.size()) + " token lists");
  std::vector<Mat> mats;
  std::vector<const Mat*> ptrs;
  std::vector<std::vector<std::string>> qs(patterns.size()), ks(patterns.size());
  for (size_t i = 0; i < patterns.size(); ++i) {
    mats.push_back(head_matrix(patterns[i], options.batch, head, "prompt " + std::to_string(i + 1)));
    token_axes(tokens[i], mats.back().rows, mats.back().cols, "prompt " + std::to_string(i + 1), qs[i], ks[i]);
  }
  for (const auto& m : mats) ptrs.push_back(&m);
  const Range range = value_range(ptrs, options, false, options.mask_upper);
  std::vector<PanelLayout> layouts;
  double w = 16, h = 0;
  for (size_t i = 0; i < mats.size(); ++i) {
    layouts.push_back(layout_panel(mats[i].rows, mats[i].cols, qs[i], ks[i], options.cell, true));
    w += layouts.back().width + 24;
    h = std::max(h, layouts.back().height);
  }
  const double margin = 16, header = 30;
  const double bar = options.colorbar ? kColorbarWidth : 0;
  w += margin + bar;
  h += margin * 2 + header;
  Canvas canvas(path, w, h);
  title_text(canvas,
             options.title.empty()
                 ? head_label(layer, head, options.notation) + " on " + std::to_string(mats.size()) + " prompts"
                 : options.title,
             w / 2, margin + 8);
  double x = margin;
  for (size_t i = 0; i < mats.size(); ++i) {
    const std::string t = i < titles.size() ? display_token(titles[i], 32) : "prompt " + std::to_string(i + 1);
    draw_panel(canvas, x, margin + header, layouts[i], mats[i], qs[i], ks[i], t, range, cmap, options.mask_upper);
    x += layouts[i].width + 24;
  }
  if (bar > 0)
    draw_colorbar(canvas, x, margin + header + layouts[0].grid_y,
                  std::max(60.0, static_cast<double>(mats[0].rows) * layouts[0].cell), range, cmap);
  canvas.finish();
}

void save_difference(const std::string& path, const Tensor& a, const Tensor& b, int layer, int head,
                     const std::vector<std::string>& tokens, const FigureOptions& options) {
  Colormap cmap = Colormap::by_name(options.colormap);
  if (!cmap.diverging()) cmap = Colormap::by_name("RdBu");
  const Mat ma = head_matrix(a, options.batch, head, "difference (A)");
  Mat d = head_matrix(b, options.batch, head, "difference (B)");
  if (ma.rows != d.rows || ma.cols != d.cols)
    fail(ErrorKind::InvalidArgument, "difference: A is " + a.shape_str() + " but B is " + b.shape_str());
  for (size_t i = 0; i < d.v.size(); ++i) d.v[i] = ma.v[i] - d.v[i];
  std::vector<std::string> q, k;
  token_axes(tokens, d.rows, d.cols, "difference", q, k);
  const HeatmapFigureLayout F = head_heatmap_layout(d.rows, d.cols, tokens, options);
  const Range range = value_range({&d}, options, true, options.mask_upper);
  Canvas canvas(path, F.width, F.height);
  const std::string title =
      options.title.empty() ? head_label(layer, head, options.notation) + ": A \xE2\x88\x92 B" : options.title;
  draw_panel(canvas, F.margin, F.margin, F.panel, d, q, k, title, range, cmap, options.mask_upper);
  if (options.colorbar)
    draw_colorbar(canvas, F.margin + F.panel.width + 14, F.margin + F.panel.grid_y,
                  std::max(60.0, static_cast<double>(d.rows) * F.panel.cell), range, cmap);
  canvas.finish();
}

namespace {
// Fixed colours for the usual head types, then a cycle for custom ones.
Rgb type_colour(const std::string& label, const std::vector<std::string>& order) {
  static const std::map<std::string, Rgb> known = {
      {"previous_token", {0.12, 0.47, 0.71}}, {"first_token", {0.60, 0.60, 0.60}},
      {"current_token", {0.17, 0.63, 0.17}},  {"duplicate_token", {0.58, 0.40, 0.74}},
      {"induction", {0.84, 0.15, 0.16}},
  };
  if (auto it = known.find(label); it != known.end()) return it->second;
  static const Rgb cycle[] = {
      {1.0, 0.50, 0.05}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};
  const size_t i = static_cast<size_t>(std::find(order.begin(), order.end(), label) - order.begin());
  return cycle[i % 5];
}
}  // namespace

void save_head_type_map(const std::string& path, int n_layers, int n_heads, const std::vector<HeadTypeMark>& marks,
                        const FigureOptions& options) {
  if (n_layers <= 0 || n_heads <= 0 || n_layers > 4096 || n_heads > 4096)
    fail(ErrorKind::InvalidArgument, "head-type map: need 1..4096 layers and heads, got " + std::to_string(n_layers) +
                                         " x " + std::to_string(n_heads));
  std::map<std::pair<int, int>, const HeadTypeMark*> first;
  std::vector<std::string> labels;
  for (const auto& m : marks) {
    if (m.layer < 0 || m.layer >= n_layers || m.head < 0 || m.head >= n_heads)
      fail(ErrorKind::InvalidArgument, "head-type map: " + head_label(m.layer, m.head) + " is outside " +
                                           std::to_string(n_layers) + " layers x " + std::to_string(n_heads) +
                                           " heads");
    first.emplace(std::make_pair(m.layer, m.head), &m);
    if (std::find(labels.begin(), labels.end(), m.label) == labels.end()) labels.push_back(m.label);
  }
  const double cell = std::clamp(640.0 / std::max(n_heads, n_layers), 6.0, 28.0);
  const double margin = 16, header = 30, left = 40, top_axis = 18, legend_w = 150;
  const double w = margin * 2 + left + n_heads * cell + legend_w,
               h = margin * 2 + header + top_axis + n_layers * cell + 30;
  Canvas canvas(path, w, std::max(h, margin * 2 + header + 20.0 * (labels.size() + 2)));
  cairo_t* cr = canvas.cr();
  title_text(canvas, options.title.empty() ? "Head types" : options.title, w / 2, margin + 8);
  const double gx = margin + left, gy = margin + header + top_axis;
  const double font = std::clamp(cell * 0.7, 5.0, 10.0);
  for (int l = 0; l < n_layers; ++l) {
    for (int hd = 0; hd < n_heads; ++hd) {
      auto it = first.find({l, hd});
      const Rgb c = it == first.end() ? Rgb{0.94, 0.94, 0.94} : type_colour(it->second->label, labels);
      cairo_set_source_rgb(cr, c.r, c.g, c.b);
      cairo_rectangle(cr, gx + hd * cell + 0.5, gy + l * cell + 0.5, cell - 1, cell - 1);
      cairo_fill(cr);
    }
  }
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  const int step_l = std::max(1, static_cast<int>(std::ceil(font * 1.2 / cell)));
  for (int l = 0; l < n_layers; l += step_l)
    canvas.text(std::string(options.notation == HeadNotation::LH ? "L" : "").append(std::to_string(l)), gx - 4,
                gy + (l + 0.5) * cell, font, 1.0, 0, "layer-label");
  const int step_h = std::max(1, static_cast<int>(std::ceil(font * 2.0 / cell)));
  for (int hd = 0; hd < n_heads; hd += step_h)
    canvas.text(std::string(options.notation == HeadNotation::LH ? "H" : "").append(std::to_string(hd)),
                gx + (hd + 0.5) * cell, gy - top_axis / 2, font, 0.5, 0, "head-label");
  canvas.text("layer", margin + 2, gy - top_axis / 2, 8, 0, 0, "axis");
  // Legend.
  double ly = gy;
  const double lx = gx + n_heads * cell + 16;
  std::vector<std::string> legend = labels;
  legend.push_back("(none)");
  for (const auto& lab : legend) {
    const Rgb c = lab == "(none)" ? Rgb{0.94, 0.94, 0.94} : type_colour(lab, labels);
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_rectangle(cr, lx, ly, 12, 12);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    size_t count = 0;
    for (const auto& [key, m] : first)
      if (m->label == lab) ++count;
    if (lab == "(none)") count = static_cast<size_t>(n_layers) * n_heads - first.size();
    canvas.text(display_token(lab, 20) + " (" + std::to_string(count) + ")", lx + 18, ly + 6, 9, 0, 0, "legend");
    ly += 20;
  }
  canvas.finish();
}

void save_score_bars(const std::string& path, const std::vector<HeadScore>& scores_in, double threshold,
                     const std::string& title, const FigureOptions& options) {
  if (scores_in.empty()) fail(ErrorKind::InvalidArgument, "score bars: no scores");
  std::vector<HeadScore> scores = scores_in;
  std::stable_sort(scores.begin(), scores.end(), [](const HeadScore& a, const HeadScore& b) {
    if (std::isnan(a.score) != std::isnan(b.score)) return std::isnan(b.score);  // NaN last
    return a.score > b.score;
  });
  double hi = std::max(threshold, 0.0);
  for (const auto& s : scores)
    if (std::isfinite(s.score)) hi = std::max(hi, s.score);
  if (options.vmax) hi = *options.vmax;
  if (!(hi > 0)) hi = 1;
  const double n = static_cast<double>(scores.size());
  const double bar = std::clamp(900.0 / n, 1.0, 28.0);
  const double margin = 16, header = 30, left = 44, plot_h = 260, bottom = bar >= 9 ? 46 : 20;
  const double w = margin * 2 + left + n * bar + 20, h = margin * 2 + header + plot_h + bottom;
  Canvas canvas(path, std::max(w, 320.0), h);
  cairo_t* cr = canvas.cr();
  title_text(canvas, title, std::max(w, 320.0) / 2, margin + 8);
  const double x0 = margin + left, y0 = margin + header + plot_h;  // plot origin (bottom-left)
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 0.8);
  cairo_move_to(cr, x0, y0 - plot_h);
  cairo_line_to(cr, x0, y0);
  cairo_line_to(cr, x0 + n * bar, y0);
  cairo_stroke(cr);
  for (int k = 0; k <= 4; ++k) {
    const double v = hi * k / 4.0, y = y0 - plot_h * k / 4.0;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    canvas.text(buf, x0 - 4, y, 8, 1.0, 0, "tick");
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    const double s = std::isfinite(scores[i].score) ? std::clamp(scores[i].score, 0.0, hi) : 0.0;
    const bool above = scores[i].score >= threshold;
    if (above)
      cairo_set_source_rgb(cr, 0.84, 0.15, 0.16);
    else
      cairo_set_source_rgb(cr, 0.55, 0.65, 0.8);
    const double x = x0 + static_cast<double>(i) * bar;
    cairo_rectangle(cr, x + (bar >= 4 ? 1 : 0), y0 - plot_h * s / hi, bar - (bar >= 4 ? 2 : 0), plot_h * s / hi);
    cairo_fill(cr);
    if (std::isnan(scores[i].score)) {  // no bar: say why instead of looking like a zero score
      cairo_set_source_rgb(cr, 0.8, 0.0, 0.0);
      canvas.text("NaN", x + bar / 2, y0 - 8, std::min(8.0, std::max(5.0, bar * 0.8)), 0.5, 90, "nan-label");
    }
    if (bar >= 9) {
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      canvas.text(head_label(scores[i].layer, scores[i].head, options.notation), x + bar / 2 + 2, y0 + 6,
                  std::min(8.0, bar * 0.8), 1.0, 60, "bar-label");
    }
  }
  // The threshold line, dashed, labelled.
  const double ty = y0 - plot_h * std::clamp(threshold, 0.0, hi) / hi;
  cairo_set_source_rgb(cr, 0.8, 0.0, 0.0);
  const double dash[] = {5, 3};
  cairo_set_dash(cr, dash, 2, 0);
  cairo_move_to(cr, x0, ty);
  cairo_line_to(cr, x0 + n * bar, ty);
  cairo_stroke(cr);
  cairo_set_dash(cr, nullptr, 0, 0);
  char buf[48];
  std::snprintf(buf, sizeof buf, "threshold %.2f", threshold);
  canvas.text(buf, x0 + n * bar, ty - 7, 8, 1.0, 0, "threshold");
  canvas.finish();
}

}  // namespace attnscope
