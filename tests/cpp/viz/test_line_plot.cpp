// save_line_plot: a constant series is drawn where the axis scale puts it (pixels sampled from the
// decoded PNG at positions computed from the documented layout), NaN leaves a gap, and bad input is
// one clear error.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz/viz_test_util.h"

using namespace attnscope;

namespace {

// The plot's geometry in points (figures_lines.cpp): margin 16, header 30 with a title, y axis
// labels 52; plot 420 x 260. PNG pixels are 2 per point.
constexpr double kX0 = 16 + 52, kY0 = 16 + 30 + 260, kW = 420, kH = 260, kScale = 2;

bool is_first_colour(const std::array<int, 3>& c) {  // Tableau blue (0.12, 0.47, 0.71)
  return std::abs(c[0] - 31) < 12 && std::abs(c[1] - 120) < 12 && std::abs(c[2] - 181) < 12;
}

}  // namespace

TEST(LinePlot, ConstantSeriesAtItsHeightAndNanGap) {
  const std::string png = viz_test::artifact("line_plot.png");
  LinePlotOptions o;
  o.title = "test";
  o.y_min = 0.0;
  o.y_max = 1.0;
  // x 0..4 linear; y = 0.25 everywhere but a NaN at x = 3, so the segment 2..4 is not drawn.
  save_line_plot(png, {0, 1, 2, 3, 4}, {{"a", {0.25, 0.25, 0.25, NAN, 0.25}}}, o);
  const viz_test::Png fig(png);
  ASSERT_TRUE(fig.ok());
  EXPECT_TRUE(is_attnscope_output(png));
  auto px = [](double x) { return static_cast<int>(kScale * (kX0 + kW * x / 4)); };
  const int y = static_cast<int>(kScale * (kY0 - kH * 0.25));
  EXPECT_TRUE(is_first_colour(fig.rgb(px(0.5), y)));
  EXPECT_TRUE(is_first_colour(fig.rgb(px(1.5), y)));
  const auto gap = fig.rgb(px(2.5), y);  // between x = 2 and 4: no line across the NaN
  EXPECT_FALSE(is_first_colour(gap));
  EXPECT_FALSE(is_first_colour(fig.rgb(px(0.5), static_cast<int>(kScale * (kY0 - kH * 0.75)))));
}

TEST(LinePlot, BadInputIsOneError) {
  const std::string p = viz_test::artifact("line_plot_bad.png");
  EXPECT_THROW(save_line_plot(p, {}, {}), Error);
  EXPECT_THROW(save_line_plot(p, {1, 2}, {{"a", {1}}}), Error);
  LinePlotOptions o;
  o.log_x = true;
  EXPECT_THROW(save_line_plot(p, {0, 1}, {{"a", {1, 2}}}, o), Error);
}
