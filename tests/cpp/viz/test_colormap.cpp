// Colormaps against published values: ColorBrewer's class colours (the end points and middle of
// the 9-class sequential and 11-class diverging schemes), viridis's published end points, and
// matplotlib itself sampled through /usr/bin/python3.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz_test_util.h"

using namespace attnscope;

TEST(Colormap, KnowsEveryRequiredName) {
  for (const char* n : {"Blues", "Reds", "Greens", "Purples", "Oranges", "Greys", "YlOrRd", "viridis", "magma",
                        "inferno", "plasma", "cividis", "RdBu"})
    EXPECT_NO_THROW(Colormap::by_name(n)) << n;
  EXPECT_EQ(Colormap::names().size(), 13u);
  EXPECT_EQ(Colormap::by_name("blues").name(), "Blues");
  EXPECT_TRUE(Colormap::by_name("RdBu").diverging());
  EXPECT_FALSE(Colormap::by_name("viridis").diverging());
}

TEST(Colormap, UnknownNameListsTheKnownOnes) {
  try {
    Colormap::by_name("jet");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    const std::string m = e.what();
    EXPECT_NE(m.find("'jet'"), std::string::npos) << m;
    for (const auto& n : Colormap::names()) EXPECT_NE(m.find(n), std::string::npos) << m;
  }
}

TEST(Colormap, MatchesPublishedColorBrewerClasses) {
  // ColorBrewer 9-class sequential: first, middle (5th) and last class colours.
  struct Case {
    const char* name;
    const char* lo;
    const char* mid;
    const char* hi;
  };
  for (const Case& c :
       {Case{"Blues", "#f7fbff", "#6baed6", "#08306b"}, Case{"Reds", "#fff5f0", "#fb6a4a", "#67000d"},
        Case{"Greens", "#f7fcf5", "#74c476", "#00441b"}, Case{"Greys", "#ffffff", "#969696", "#000000"},
        Case{"YlOrRd", "#ffffcc", "#fd8d3c", "#800026"}, Case{"Purples", "#fcfbfd", "#9e9ac8", "#3f007d"},
        Case{"Oranges", "#fff5eb", "#fd8d3c", "#7f2704"},
        // 11-class diverging
        Case{"RdBu", "#67001f", "#f7f7f7", "#053061"}}) {
    const Colormap cm = Colormap::by_name(c.name);
    EXPECT_EQ(cm.hex(0), c.lo) << c.name;
    EXPECT_EQ(cm.hex(0.5), c.mid) << c.name;
    EXPECT_EQ(cm.hex(1), c.hi) << c.name;
  }
  // viridis: the published end points.
  EXPECT_EQ(Colormap::by_name("viridis").hex(0), "#440154");
  EXPECT_EQ(Colormap::by_name("viridis").hex(1), "#fde725");
}

TEST(Colormap, ClampsAndHandlesNaN) {
  const Colormap cm = Colormap::by_name("magma");
  EXPECT_EQ(cm.hex(-3), cm.hex(0));
  EXPECT_EQ(cm.hex(7), cm.hex(1));
  EXPECT_EQ(cm.hex(std::nan("")), cm.hex(0));
  EXPECT_EQ(cm.sample_hex(256).size(), 256u);
}

TEST(Colormap, AgreesWithMatplotlib) {
  if (!viz_test::have_python()) GTEST_SKIP() << "no /usr/bin/python3";
  const std::string out = viz_test::run(
      "/usr/bin/python3 -c \"import matplotlib\n"
      "for n in ['Blues','YlOrRd','viridis','magma','inferno','plasma','cividis','RdBu']:\n"
      "  cm = matplotlib.colormaps[n]\n"
      "  for i in range(21):\n"
      "    r,g,b,_ = cm(i/20)\n"
      "    print(n, i, round(r*255), round(g*255), round(b*255))\" 2>/dev/null");
  if (out.empty()) GTEST_SKIP() << "matplotlib not available";
  std::istringstream is(out);
  std::string name;
  int i, r, g, b, lines = 0;
  while (is >> name >> i >> r >> g >> b) {
    const Rgb c = Colormap::by_name(name).at(i / 20.0);
    // matplotlib looks colours up in a 256-entry table; we interpolate 33-65 control points.
    EXPECT_NEAR(c.r * 255, r, 5) << name << " " << i;
    EXPECT_NEAR(c.g * 255, g, 5) << name << " " << i;
    EXPECT_NEAR(c.b * 255, b, 5) << name << " " << i;
    ++lines;
  }
  EXPECT_EQ(lines, 8 * 21);
}

TEST(HeadLabel, BothNotations) {
  EXPECT_EQ(head_label(5, 0), "L5H0");
  EXPECT_EQ(head_label(5, 3, HeadNotation::Dot), "5.3");
}
