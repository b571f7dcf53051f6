// Line plots (save_line_plot): y against x for a few named series, e.g. a head's score versus the
// context length. Drawn with plain cairo paths; the legend sits right of the plot so it never
// hides a line.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz/canvas.h"

namespace attnscope {

using namespace detail;

namespace {

// Tableau-10 colours, reused cyclically.
const Rgb kLineColours[] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                            {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
                            {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};

std::string tick_label(double v) {
  char buf[32];
  if (v != 0 && (std::fabs(v) >= 1e4 || std::fabs(v) < 1e-2))
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

void save_line_plot(const std::string& path, const std::vector<double>& x, const std::vector<LineSeries>& series,
                    const LinePlotOptions& options) {
  if (x.empty()) fail(ErrorKind::InvalidArgument, "line plot: no x values");
  for (const LineSeries& s : series)
    if (s.y.size() != x.size())
      fail(ErrorKind::InvalidArgument, "line plot: series '" + s.name + "' has " + std::to_string(s.y.size()) +
                                           " values for " + std::to_string(x.size()) + " x values");
  for (double v : x)
    if (!std::isfinite(v) || (options.log_x && v <= 0))
      fail(ErrorKind::InvalidArgument,
           options.log_x ? "line plot: log_x needs every x > 0" : "line plot: x not finite");
  auto tx = [&](double v) { return options.log_x ? std::log(v) : v; };
  double xlo = tx(*std::min_element(x.begin(), x.end())), xhi = tx(*std::max_element(x.begin(), x.end()));
  if (!(xhi > xlo)) xlo -= 1, xhi += 1;
  double ylo = 0, yhi = 0;
  for (const LineSeries& s : series)
    for (double v : s.y)
      if (std::isfinite(v)) ylo = std::min(ylo, v), yhi = std::max(yhi, v);
  if (options.threshold) yhi = std::max(yhi, *options.threshold);
  if (options.y_min) ylo = *options.y_min;
  if (options.y_max) yhi = *options.y_max;
  if (!(yhi > ylo)) yhi = ylo + 1;

  const double margin = 16, header = options.title.empty() ? 8 : 30, left = 52, plot_w = 420, plot_h = 260, bottom = 40;
  double legend_w = 0;
  const double legend_font = 9;
  {
    Canvas probe(path, 10, 10);  // only for measuring text; never finished, so nothing is written
    for (const LineSeries& s : series) legend_w = std::max(legend_w, probe.text_width(s.name, legend_font) + 30);
  }
  const double w = margin * 2 + left + plot_w + 16 + legend_w, h = margin * 2 + header + plot_h + bottom;
  Canvas canvas(path, w, h);
  cairo_t* cr = canvas.cr();
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  if (!options.title.empty()) canvas.text(options.title, w / 2, margin + 8, 13, 0.5, 0, "title", true);
  const double x0 = margin + left, y0 = margin + header + plot_h;  // bottom-left of the plot
  auto px = [&](double v) { return x0 + plot_w * (tx(v) - xlo) / (xhi - xlo); };
  auto py = [&](double v) { return y0 - plot_h * (std::clamp(v, ylo, yhi) - ylo) / (yhi - ylo); };

  // Axes and ticks: y at 5 even steps, x at the data's own x values (they are few: lengths).
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 0.8);
  cairo_move_to(cr, x0, y0 - plot_h);
  cairo_line_to(cr, x0, y0);
  cairo_line_to(cr, x0 + plot_w, y0);
  cairo_stroke(cr);
  for (int k = 0; k <= 4; ++k) {
    const double v = ylo + (yhi - ylo) * k / 4.0;
    canvas.text(tick_label(v), x0 - 4, py(v), 8, 1.0, 0, "tick");
  }
  std::vector<double> xs(x);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  double last_label = -1e9;
  for (double v : xs) {
    const double p = px(v);
    if (p - last_label < 24) continue;  // keep tick labels apart
    last_label = p;
    cairo_move_to(cr, p, y0);
    cairo_line_to(cr, p, y0 + 3);
    cairo_stroke(cr);
    canvas.text(tick_label(v), p, y0 + 11, 8, 0.5, 0, "tick");
  }
  if (!options.x_label.empty()) canvas.text(options.x_label, x0 + plot_w / 2, y0 + 28, 10, 0.5, 0, "x-label");
  if (!options.y_label.empty()) canvas.text(options.y_label, margin + 6, y0 - plot_h / 2, 10, 0.5, 90, "y-label");

  if (options.threshold) {
    cairo_set_source_rgb(cr, 0.8, 0.0, 0.0);
    const double dash[] = {5, 3};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_move_to(cr, x0, py(*options.threshold));
    cairo_line_to(cr, x0 + plot_w, py(*options.threshold));
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
  }

  // Points in x order; NaN breaks the line.
  std::vector<size_t> order(x.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  for (size_t s = 0; s < series.size(); ++s) {
    const Rgb c = kLineColours[s % (sizeof kLineColours / sizeof *kLineColours)];
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, 1.6);
    bool open = false;
    for (size_t i : order) {
      const double v = series[s].y[i];
      if (!std::isfinite(v)) {
        open = false;
        continue;
      }
      if (open)
        cairo_line_to(cr, px(x[i]), py(v));
      else
        cairo_move_to(cr, px(x[i]), py(v));
      open = true;
    }
    cairo_stroke(cr);
    for (size_t i : order)
      if (std::isfinite(series[s].y[i])) {
        cairo_arc(cr, px(x[i]), py(series[s].y[i]), 2.2, 0, 2 * M_PI);
        cairo_fill(cr);
      }
    const double ly = y0 - plot_h + 6 + 14 * static_cast<double>(s);
    const double lx = x0 + plot_w + 16;
    cairo_move_to(cr, lx, ly);
    cairo_line_to(cr, lx + 18, ly);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    canvas.text(series[s].name, lx + 24, ly, legend_font, 0, 0, "legend");
  }
  canvas.finish();
}

}  // namespace attnscope
