// Figures checked without golden images: PNGs are decoded and the pixel at the centre of each
// cell must be the colormap's colour for the pattern value there; SVGs must parse as XML and carry
// one label per token; paging and the file markers are checked on the files themselves.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz/panel.h"
#include "viz_test_util.h"

using namespace attnscope;
using viz_test::artifact;

namespace {

// A causal [1, 2, T, T] pattern with distinct values: head 0 previous-token-like, head 1 varied.
Tensor test_pattern(int T) {
  Tensor t({1, 2, T, T});
  for (int h = 0; h < 2; ++h)
    for (int q = 0; q < T; ++q) {
      double sum = 0;
      std::vector<double> row(T, 0.0);
      for (int k = 0; k <= q; ++k) {
        row[k] = h == 0 ? (k == std::max(0, q - 1) ? 5.0 : 0.3) : 1.0 + 0.37 * ((q * 7 + k * 3) % 5);
        sum += row[k];
      }
      for (int k = 0; k <= q; ++k) t.at({0, h, q, k}) = static_cast<float>(row[k] / sum);
    }
  return t;
}

std::vector<std::string> test_tokens() {
  return {
      "<s>", "The", " na\xC3\xAFve", " \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", " extraordinarily-long-token",
      "\n"};
}

// Checks every cell of a heatmap PNG against the colormap. Returns the number of cells checked.
int check_cells(const std::string& png_path, const Tensor& pattern, int head, const std::vector<std::string>& tokens,
                const FigureOptions& opt, double lo, double hi) {
  viz_test::Png png(png_path);
  EXPECT_TRUE(png.ok()) << png_path;
  if (!png.ok()) return 0;
  const int64_t T = pattern.dim(3);
  const auto F = detail::head_heatmap_layout(T, T, tokens, opt);
  EXPECT_EQ(png.width(), static_cast<int>(std::ceil(std::ceil(F.width) * detail::kPngScale)));
  const Colormap cm = Colormap::by_name(opt.colormap);
  int checked = 0;
  for (int64_t q = 0; q < T; ++q)
    for (int64_t k = 0; k < T; ++k) {
      const int x = static_cast<int>((F.margin + F.panel.grid_x + (k + 0.5) * F.panel.cell) * detail::kPngScale);
      const int y = static_cast<int>((F.margin + F.panel.grid_y + (q + 0.5) * F.panel.cell) * detail::kPngScale);
      const auto px = png.rgb(x, y);
      std::array<int, 3> want;
      if (opt.mask_upper && k > q) {
        want = {255, 255, 255};
      } else {
        const double v = pattern.at({0, head, q, k});
        const Rgb c = cm.at(std::clamp((v - lo) / (hi - lo), 0.0, 1.0));
        want = {static_cast<int>(std::lround(c.r * 255)), static_cast<int>(std::lround(c.g * 255)),
                static_cast<int>(std::lround(c.b * 255))};
      }
      for (int ch = 0; ch < 3; ++ch) EXPECT_NEAR(px[ch], want[ch], 1) << png_path << " cell " << q << "," << k;
      ++checked;
    }
  return checked;
}

float pattern_max(const Tensor& t, int head) {
  float m = 0;
  for (int64_t q = 0; q < t.dim(2); ++q)
    for (int64_t k = 0; k < t.dim(3); ++k) m = std::max(m, t.at({0, head, q, k}));
  return m;
}

}  // namespace

TEST(Heatmap, PngCellsHaveTheColormapColourAutoRange) {
  const Tensor p = test_pattern(6);
  FigureOptions opt;
  opt.colormap = "viridis";
  const std::string path = artifact("heatmap_L3H1.png");
  save_head_heatmap(path, p, 3, 1, test_tokens(), opt);
  EXPECT_EQ(check_cells(path, p, 1, test_tokens(), opt, 0.0, pattern_max(p, 1)), 36);
  EXPECT_TRUE(is_attnscope_output(path));
}

TEST(Heatmap, PngMaskedUpperTriangleAndFixedRange) {
  const Tensor p = test_pattern(6);
  FigureOptions opt;
  opt.colormap = "Blues";
  opt.mask_upper = true;
  opt.vmin = 0.0;
  opt.vmax = 1.0;
  opt.notation = HeadNotation::Dot;
  const std::string path = artifact("heatmap_masked_5.0.png");
  save_head_heatmap(path, p, 5, 0, test_tokens(), opt);
  EXPECT_EQ(check_cells(path, p, 0, test_tokens(), opt, 0.0, 1.0), 36);
}

TEST(Heatmap, AcceptsASingleQKMatrixAndNoTokens) {
  Tensor m({3, 3}, {1, 0, 0, 0.5f, 0.5f, 0, 0.2f, 0.3f, 0.5f});
  const std::string path = artifact("heatmap_qk.png");
  save_head_heatmap(path, m.reshape({1, 1, 3, 3}), 0, 0, {}, {});
  FigureOptions opt;
  EXPECT_EQ(check_cells(path, m.reshape({1, 1, 3, 3}), 0, {}, opt, 0.0, 1.0), 9);
  EXPECT_NO_THROW(save_head_heatmap(artifact("heatmap_qk2.png"), m, 0, 0, {"a", "b", "c"}, {}));
}

TEST(Heatmap, SvgIsWellFormedXmlWithOneLabelPerToken) {
  if (!viz_test::have_python()) GTEST_SKIP() << "no /usr/bin/python3";
  const Tensor p = test_pattern(6);
  const std::string path = artifact("heatmap_L2H0.svg");
  // A token that must be escaped in XML.
  std::vector<std::string> toks = test_tokens();
  toks[1] = "<&\">";
  save_head_heatmap(path, p, 2, 0, toks, {});
  EXPECT_TRUE(is_attnscope_output(path));
  int status = 0;
  const std::string out = viz_test::run(
      "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as ET\n"
      "root = ET.parse(sys.argv[1]).getroot()\n"
      "ns = '{http://www.w3.org/2000/svg}'\n"
      "for t in root.iter(ns + 'text'):\n"
      "  print(repr((t.get('class'), t.text)))\" " +
          path,
      &status);
  ASSERT_EQ(status, 0) << "SVG did not parse";
  int q = 0, k = 0;
  std::istringstream is(out);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(is, line)) {
    lines.push_back(line);
    if (line.rfind("('token-label q'", 0) == 0) ++q;
    if (line.rfind("('token-label k'", 0) == 0) ++k;
  }
  EXPECT_EQ(q, 6) << out;
  EXPECT_EQ(k, 6) << out;
  EXPECT_NE(out.find("('token-label k', '<&\">')"), std::string::npos) << out;
  EXPECT_NE(out.find("('title', 'L2H0')"), std::string::npos) << out;
}

TEST(Heatmap, PdfIsMarkedAndStartsAsPdf) {
  const std::string path = artifact("heatmap_L0H0.pdf");
  save_head_heatmap(path, test_pattern(6), 0, 0, test_tokens(), {});
  EXPECT_EQ(viz_test::read_file(path).rfind("%PDF", 0), 0u);
  EXPECT_TRUE(is_attnscope_output(path));
}

TEST(Heatmap, BadInputsAreClearErrors) {
  const Tensor p = test_pattern(6);
  auto kind_of = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::Io;  // "no error" marker for the assertions below
  };
  EXPECT_EQ(kind_of([&] { save_head_heatmap(artifact("x.bmp"), p, 0, 0, test_tokens(), {}); }),
            ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { save_head_heatmap(artifact("x.png"), p, 0, 2, test_tokens(), {}); }),
            ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { save_head_heatmap(artifact("x.png"), p, 0, 0, {"a"}, {}); }), ErrorKind::InvalidArgument);
  FigureOptions bad;
  bad.colormap = "nope";
  EXPECT_EQ(kind_of([&] { save_head_heatmap(artifact("x.png"), p, 0, 0, test_tokens(), bad); }),
            ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] {
              save_head_heatmap(artifact("x.png"), Tensor({2, 2, 2}), 0, 0, {}, {});
            }),
            ErrorKind::InvalidArgument);
  FigureOptions range;
  range.vmin = 1;
  range.vmax = 0;
  EXPECT_EQ(kind_of([&] { save_head_heatmap(artifact("x.png"), p, 0, 0, test_tokens(), range); }),
            ErrorKind::InvalidArgument);
  // Invalid UTF-8 in a token is drawn (as U+FFFD), not an error.
  std::vector<std::string> toks = test_tokens();
  toks[2] = "\xFF\xFE";
  EXPECT_NO_THROW(save_head_heatmap(artifact("heatmap_badutf8.png"), p, 0, 0, toks, {}));
}

TEST(Grid, PagesInsteadOfCapping) {
  std::map<int, Tensor> pats;
  for (int l : {0, 4, 8}) {
    Tensor t({1, 4, 5, 5});
    for (int h = 0; h < 4; ++h)
      for (int q = 0; q < 5; ++q) t.at({0, h, q, std::max(0, q - (h % 2))}) = 1.0f;
    pats.emplace(l, t);
  }
  FigureOptions opt;
  opt.max_panels_per_page = 5;
  const std::string base = artifact("grid_paged.png");
  for (const char* f : {"grid_paged.png", "grid_paged-2.png", "grid_paged-3.png"}) std::filesystem::remove(artifact(f));
  const auto written = save_attention_grid(base, pats, {"a", "b", "c", "d", "e"}, {}, {}, opt);
  ASSERT_EQ(written.size(), 3u);  // 12 panels, 5 per page
  EXPECT_EQ(written[0], base);
  EXPECT_EQ(written[2], artifact("grid_paged-3.png"));
  for (const auto& w : written) EXPECT_TRUE(viz_test::Png(w).ok()) << w;
  // PDF keeps the pages in one file.
  const auto pdf = save_attention_grid(artifact("grid_paged.pdf"), pats, {}, {}, {}, opt);
  ASSERT_EQ(pdf.size(), 1u);
  const std::string bytes = viz_test::read_file(pdf[0]);
  size_t pages = 0;
  for (size_t at = bytes.find("/Type /Page"); at != std::string::npos; at = bytes.find("/Type /Page", at + 1))
    if (bytes.compare(at, 12, "/Type /Pages") != 0) ++pages;
  EXPECT_EQ(pages, 3u);
  // A selection, one page, dot titles.
  opt.notation = HeadNotation::Dot;
  opt.max_panels_per_page = 64;
  EXPECT_EQ(save_attention_grid(artifact("grid_selection.png"), pats, {}, {0, 8}, {1, 3}, opt).size(), 1u);
  EXPECT_THROW(save_attention_grid(artifact("grid_bad.png"), pats, {}, {2}, {}, opt), Error);
}

TEST(Figures, LayerSummaryComparisonDifferenceTypesBars) {
  const Tensor p = test_pattern(6);
  save_layer_summary(artifact("layer_summary_L1.png"), p, 1, test_tokens(), {});
  save_prompt_comparison(artifact("compare_prompts.png"), {p, test_pattern(4)}, {test_tokens(), {"a", "b", "c", "d"}},
                         {"first prompt", "second"}, 1, 0, {});
  save_head_type_map(
      artifact("head_types.png"), 4, 8,
      {{0, 1, "previous_token", 0.9}, {1, 3, "induction", 0.7}, {2, 0, "first_token", 0.99}, {3, 7, "my_pattern", 0.5}},
      {});
  std::vector<HeadScore> scores;
  for (int l = 0; l < 4; ++l)
    for (int h = 0; h < 8; ++h) scores.push_back({l, h, 0.03 * (l * 8 + h) / 1.0});
  save_score_bars(artifact("induction_scores.png"), scores, 0.3);
  for (const char* f : {"layer_summary_L1.png", "compare_prompts.png", "head_types.png", "induction_scores.png"})
    EXPECT_TRUE(viz_test::Png(artifact(f)).ok()) << f;
  EXPECT_THROW(save_head_type_map(artifact("x.png"), 2, 2, {{5, 0, "induction", 1}}, {}), Error);
}

TEST(Figures, DifferenceUsesADivergingMapCentredOnZero) {
  const Tensor a = test_pattern(6);
  Tensor b = a.clone();
  // B: head 0 fully on the first token, so A - B has both signs.
  for (int q = 0; q < 6; ++q)
    for (int k = 0; k < 6; ++k) b.at({0, 0, q, k}) = k == 0 ? 1.0f : 0.0f;
  const std::string path = artifact("difference_L2H0.png");
  save_difference(path, a, b, 2, 0, test_tokens(), {});
  Tensor d({1, 1, 6, 6});
  float m = 0;
  for (int q = 0; q < 6; ++q)
    for (int k = 0; k < 6; ++k) {
      d.at({0, 0, q, k}) = a.at({0, 0, q, k}) - b.at({0, 0, q, k});
      m = std::max(m, std::fabs(d.at({0, 0, q, k})));
    }
  FigureOptions opt;
  opt.colormap = "RdBu";  // what a non-diverging request falls back to
  EXPECT_EQ(check_cells(path, d, 0, test_tokens(), opt, -m, m), 36);
}

TEST(Markers, ForeignFilesAreNotOurs) {
  const std::string path = artifact("foreign.png");
  { std::ofstream(path) << "\x89PNG\r\n\x1a\n not ours"; }
  EXPECT_FALSE(is_attnscope_output(path));
  EXPECT_FALSE(is_attnscope_output(artifact("does-not-exist.png")));
}

// A NaN cell is drawn blank (white background), never as the colour of 0, and the figure says the
// pattern holds non-finite values (issue 13).
TEST(Heatmap, NaNCellsAreBlankAndTheTitleSaysSo) {
  Tensor p = test_pattern(6);
  p.data()[(1 * 6 + 4) * 6 + 2] = std::numeric_limits<float>::quiet_NaN();  // head 1, q 4, k 2
  FigureOptions opt;
  opt.colormap = "viridis";  // its 0 is dark purple, far from white
  const std::string path = artifact("heatmap_nan.png");
  save_head_heatmap(path, p, 0, 1, test_tokens(), opt);
  viz_test::Png png(path);
  ASSERT_TRUE(png.ok());
  const auto F = detail::head_heatmap_layout(6, 6, test_tokens(), opt);
  auto centre = [&](int q, int k) {
    return png.rgb(static_cast<int>((F.margin + F.panel.grid_x + (k + 0.5) * F.panel.cell) * detail::kPngScale),
                   static_cast<int>((F.margin + F.panel.grid_y + (q + 0.5) * F.panel.cell) * detail::kPngScale));
  };
  EXPECT_EQ(centre(4, 2), (std::array<int, 3>{255, 255, 255}));
  const std::string svg = artifact("heatmap_nan.svg");
  save_head_heatmap(svg, p, 0, 1, test_tokens(), opt);
  EXPECT_NE(viz_test::read_file(svg).find("non-finite"), std::string::npos);
}
