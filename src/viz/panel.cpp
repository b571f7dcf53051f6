// Heatmap panels, colorbars and value ranges (see panel.h).
#include "viz/panel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "attnscope/error.h"
#include "attnscope/tokenizer.h"
#include "viz/text.h"

namespace attnscope::detail {

namespace {

// Text width without a figure surface (layouts are computed before the canvas exists).
double measure(const std::string& s, double size) {
  struct Scratch {
    cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t* cr = cairo_create(surface);
    ~Scratch() {
      cairo_destroy(cr);
      cairo_surface_destroy(surface);
    }
  };
  thread_local Scratch scratch;
  cairo_select_font_face(scratch.cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(scratch.cr, size);
  cairo_text_extents_t te;
  const std::string t = valid_utf8(s);
  cairo_text_extents(scratch.cr, t.c_str(), &te);
  return te.x_advance;
}

std::string tick_text(double v) {
  char buf[32];
  if (std::fabs(v) < 1e-12) v = 0;
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

Mat head_matrix(const Tensor& pattern, int batch, int head, const std::string& what) {
  Mat m;
  const float* base = pattern.data();
  if (pattern.ndim() == 2) {
    m.rows = pattern.dim(0);
    m.cols = pattern.dim(1);
  } else if (pattern.ndim() == 4) {
    const int64_t B = pattern.dim(0), H = pattern.dim(1);
    if (batch < 0 || batch >= B)
      fail(ErrorKind::InvalidArgument,
           what + ": batch " + std::to_string(batch) + " out of range for pattern " + pattern.shape_str());
    if (head < 0 || head >= H)
      fail(ErrorKind::InvalidArgument, what + ": head " + std::to_string(head) + " out of range for pattern " +
                                           pattern.shape_str() + " (" + std::to_string(H) + " heads)");
    m.rows = pattern.dim(2);
    m.cols = pattern.dim(3);
    if (base) base += (static_cast<int64_t>(batch) * H + head) * m.rows * m.cols;
  } else {
    fail(ErrorKind::InvalidArgument, what + ": expected a [B, H, Q, K] or [Q, K] pattern, got " + pattern.shape_str());
  }
  if (m.rows <= 0 || m.cols <= 0 || !base)
    fail(ErrorKind::InvalidArgument, what + ": empty pattern " + pattern.shape_str());
  if (m.rows > 32000 || m.cols > 32000)
    fail(ErrorKind::InvalidArgument, what + ": pattern " + pattern.shape_str() + " is too large to draw");
  m.v.assign(base, base + m.rows * m.cols);
  return m;
}

Range value_range(const std::vector<const Mat*>& mats, const FigureOptions& options, bool symmetric, bool mask_upper) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Mat* m : mats) {
    const int64_t off = m->cols - m->rows;  // causal offset when Q < K
    for (int64_t r = 0; r < m->rows; ++r)
      for (int64_t c = 0; c < m->cols; ++c) {
        if (mask_upper && c > r + off) continue;
        const double v = m->at(r, c);
        if (!std::isfinite(v)) continue;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  Range r;
  if (symmetric) {
    const double m = std::max(std::fabs(lo), std::fabs(hi));
    r = {-m, m};
  } else {
    r = {lo >= 0 ? 0.0 : lo, hi};
  }
  if (options.vmin) r.lo = *options.vmin;
  if (options.vmax) r.hi = *options.vmax;
  if (!(r.hi > r.lo)) {
    if (options.vmin && options.vmax)
      fail(ErrorKind::InvalidArgument,
           "value range: vmax (" + tick_text(r.hi) + ") must exceed vmin (" + tick_text(r.lo) + ")");
    r.hi = r.lo + 1;
  }
  return r;
}

void token_axes(const std::vector<std::string>& tokens, int64_t rows, int64_t cols, const std::string& what,
                std::vector<std::string>& q, std::vector<std::string>& k) {
  q.clear();
  k.clear();
  if (tokens.empty()) return;
  if (static_cast<int64_t>(tokens.size()) != cols || rows > cols)
    fail(ErrorKind::InvalidArgument, what + ": " + std::to_string(tokens.size()) + " tokens for a pattern with " +
                                         std::to_string(rows) + " queries and " + std::to_string(cols) + " keys");
  k = tokens;
  q.assign(tokens.end() - rows, tokens.end());
}

double normalise(double value, const Range& range) {
  if (std::isnan(value)) return 0;
  return std::clamp((value - range.lo) / (range.hi - range.lo), 0.0, 1.0);
}

PanelLayout layout_panel(int64_t rows, int64_t cols, const std::vector<std::string>& q_tokens,
                         const std::vector<std::string>& k_tokens, double cell, bool with_title) {
  PanelLayout L;
  const double n = static_cast<double>(std::max(rows, cols));
  L.cell = cell > 0 ? cell : std::clamp(440.0 / n, 2.0, 28.0);
  L.font = std::clamp(L.cell * 0.75, 4.0, 10.0);
  L.stride = std::max(1, static_cast<int>(std::ceil(L.font * 1.1 / L.cell)));
  double max_q = 0, max_k = 0;
  for (size_t i = 0; i < q_tokens.size(); i += L.stride)
    max_q = std::max(max_q, measure(display_token(q_tokens[i]), L.font));
  for (size_t i = 0; i < k_tokens.size(); i += L.stride)
    max_k = std::max(max_k, measure(display_token(k_tokens[i]), L.font));
  L.rotate_keys = max_k > L.cell * L.stride * 0.9;
  const double s45 = std::sqrt(0.5);
  L.label_left = q_tokens.empty() ? 0 : max_q + 6;
  if (L.rotate_keys) L.label_left = std::max(L.label_left, max_k * s45 - L.cell / 2 + 4);
  L.label_bottom = k_tokens.empty() ? 0 : (L.rotate_keys ? max_k * s45 + L.font : L.font) + 8;
  L.title_h = with_title ? 22 : 0;
  L.grid_x = L.label_left;
  L.grid_y = L.title_h;
  L.width = L.grid_x + static_cast<double>(cols) * L.cell;
  L.height = L.grid_y + static_cast<double>(rows) * L.cell + L.label_bottom;
  return L;
}

void draw_cells(cairo_t* cr, double x, double y, double cw, double ch, const Mat& mat, const Range& range,
                const Colormap& cmap, bool mask_upper) {
  const int w = static_cast<int>(mat.cols), h = static_cast<int>(mat.rows);
  cairo_surface_t* img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
  if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(img);
    fail(ErrorKind::InvalidArgument, "cannot allocate a " + std::to_string(w) + "x" + std::to_string(h) + " image");
  }
  cairo_surface_flush(img);
  unsigned char* px = cairo_image_surface_get_data(img);
  const int stride = cairo_image_surface_get_stride(img);
  const int64_t off = mat.cols - mat.rows;
  auto byte = [](double v) { return static_cast<uint32_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); };
  for (int r = 0; r < h; ++r) {
    auto* row = reinterpret_cast<uint32_t*>(px + static_cast<ptrdiff_t>(r) * stride);
    for (int c = 0; c < w; ++c) {
      const float v = mat.at(r, c);
      if ((mask_upper && c > r + off) || !std::isfinite(v)) {
        row[c] = 0;  // transparent: the white background shows (NaN/inf are never given a colour)
        continue;
      }
      const Rgb col = cmap.at(normalise(v, range));
      row[c] = 0xFF000000u | (byte(col.r) << 16) | (byte(col.g) << 8) | byte(col.b);
    }
  }
  cairo_surface_mark_dirty(img);
  cairo_save(cr);
  cairo_rectangle(cr, x, y, cw * w, ch * h);
  cairo_clip(cr);
  cairo_translate(cr, x, y);
  cairo_scale(cr, cw, ch);
  cairo_set_source_surface(cr, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(img);
}

void draw_panel(Canvas& canvas, double x, double y, const PanelLayout& L, const Mat& mat,
                const std::vector<std::string>& q_tokens, const std::vector<std::string>& k_tokens,
                const std::string& title, const Range& range, const Colormap& cmap, bool mask_upper) {
  cairo_t* cr = canvas.cr();
  const double gx = x + L.grid_x, gy = y + L.grid_y;
  const double gw = static_cast<double>(mat.cols) * L.cell, gh = static_cast<double>(mat.rows) * L.cell;
  // A pattern holding NaN/inf says so in its title: its blank cells are not zeros.
  const bool non_finite = std::any_of(mat.v.begin(), mat.v.end(), [](float v) { return !std::isfinite(v); });
  const std::string shown = non_finite ? title + (title.empty() ? "" : " ") + "(non-finite: NaN shown blank)" : title;
  if (!shown.empty()) {
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    canvas.text(shown, gx + gw / 2, y + L.title_h / 2, std::min(13.0, std::max(7.0, L.title_h * 0.55)), 0.5, 0, "title",
                true);
  }
  draw_cells(cr, gx, gy, L.cell, L.cell, mat, range, cmap, mask_upper);
  cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
  cairo_set_line_width(cr, 0.5);
  cairo_rectangle(cr, gx, gy, gw, gh);
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  for (size_t i = 0; i < q_tokens.size(); i += L.stride)
    canvas.text(display_token(q_tokens[i]), gx - 4, gy + (static_cast<double>(i) + 0.5) * L.cell, L.font, 1.0, 0,
                "token-label q");
  for (size_t i = 0; i < k_tokens.size(); i += L.stride) {
    const double cx = gx + (static_cast<double>(i) + 0.5) * L.cell;
    if (L.rotate_keys)
      canvas.text(display_token(k_tokens[i]), cx + L.font * 0.3, gy + gh + 4 + L.font * 0.3, L.font, 1.0, 45,
                  "token-label k");
    else
      canvas.text(display_token(k_tokens[i]), cx, gy + gh + 4 + L.font / 2, L.font, 0.5, 0, "token-label k");
  }
}

void draw_colorbar(Canvas& canvas, double x, double y, double height, const Range& range, const Colormap& cmap) {
  cairo_t* cr = canvas.cr();
  const double w = 12;
  const int steps = 128;
  cairo_save(cr);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  for (int i = 0; i < steps; ++i) {
    const double t = (i + 0.5) / steps;
    const Rgb c = cmap.at(t);
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    // Top is the high end.
    cairo_rectangle(cr, x, y + height * (1 - static_cast<double>(i + 1) / steps), w, height / steps + 0.5);
    cairo_fill(cr);
  }
  cairo_restore(cr);
  cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
  cairo_set_line_width(cr, 0.5);
  cairo_rectangle(cr, x, y, w, height);
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  for (int k = 0; k <= 4; ++k) {
    const double v = range.lo + (range.hi - range.lo) * k / 4.0;
    const double ty = y + height * (1 - k / 4.0);
    cairo_move_to(cr, x + w, ty);
    cairo_line_to(cr, x + w + 3, ty);
    cairo_stroke(cr);
    canvas.text(tick_text(v), x + w + 5, ty, 8, 0, 0, "tick");
  }
}

HeatmapFigureLayout head_heatmap_layout(int64_t rows, int64_t cols, const std::vector<std::string>& tokens,
                                        const FigureOptions& options) {
  HeatmapFigureLayout F;
  std::vector<std::string> q, k;
  token_axes(tokens, rows, cols, "heatmap", q, k);
  F.panel = layout_panel(rows, cols, q, k, options.cell, true);
  F.margin = 16;
  const double bar = options.colorbar ? kColorbarWidth : 0;
  F.width = F.margin * 2 + F.panel.width + bar;
  F.height = F.margin * 2 + F.panel.height;
  return F;
}

}  // namespace attnscope::detail
