// The explorer HTML: size of the mlxterp demo shape, the JSON block (no '<', decodes back to the
// input weights through an independent base64 + zlib path), escaping of hostile tokens.
#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "attnscope/viz.h"
#include "viz/explorer_data.h"
#include "viz_test_util.h"

using namespace attnscope;

namespace {

const std::string kXss = "</script><img src=x onerror=alert(1)>";

// The JSON inside <script type="application/json" id="attnscope-data">.
std::string data_block(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"attnscope-data\">";
  const size_t a = html.find(open);
  if (a == std::string::npos) return "";
  const size_t b = html.find("</script>", a + open.size());
  return html.substr(a + open.size(), b - a - open.size());
}

// Independent decoder: RFC 4648 base64 written here, zlib's uncompress.
std::vector<uint8_t> unpack(const std::string& b64, size_t raw_size) {
  std::string bin;
  int val = 0, bits = -8;
  for (char c : b64) {
    const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char* p = c ? std::strchr(tbl, c) : nullptr;
    if (!p) break;
    val = (val << 6) + static_cast<int>(p - tbl);
    bits += 6;
    if (bits >= 0) {
      bin.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  std::vector<uint8_t> out(raw_size);
  uLongf n = raw_size;
  EXPECT_EQ(uncompress(out.data(), &n, reinterpret_cast<const Bytef*>(bin.data()), bin.size()), Z_OK);
  EXPECT_EQ(n, raw_size);
  return out;
}

}  // namespace

TEST(Explorer, DemoShapeIsSmallAndRoundTrips) {
  // mlxterp's demo: 12 tokens, 16 layers, 32 heads.
  const auto pats = synthetic_patterns(12, 16, 32);
  auto toks = synthetic_tokens(12);
  toks[3] = kXss;
  ExplorerOptions opt;
  opt.head_types = {{0, 0, "previous_token", 0.97}};
  const std::string html = explorer_html(pats, toks, opt);
  std::cout << "[ size ] explorer 12 tokens x 16 layers x 32 heads: " << html.size() << " bytes\n";
  EXPECT_LT(html.size(), 150u * 1024);
  {
    std::ofstream out(viz_test::artifact("explorer_12x16x32.html"), std::ios::binary);
    out << html;
  }
  EXPECT_TRUE(is_attnscope_output(viz_test::artifact("explorer_12x16x32.html")));

  const std::string block = data_block(html);
  ASSERT_FALSE(block.empty());
  EXPECT_EQ(block.find('<'), std::string::npos);
  const auto j = nlohmann::json::parse(block);
  EXPECT_EQ(j["tokens"][3].get<std::string>(), kXss);
  EXPECT_EQ(j["layers"].size(), 16u);
  EXPECT_EQ(j["heads"], 32);
  EXPECT_TRUE(j["triangle"].get<bool>());
  ASSERT_EQ(j["bits"], 16);
  // Decode every stored weight and compare with the input: within half a quantisation step.
  const int T = 12;
  const size_t per_head = T * (T + 1) / 2;
  const auto raw = unpack(j["data"].get<std::string>(), per_head * 32 * 16 * 2);
  size_t i = 0;
  double worst = 0;
  for (const auto& [layer, t] : pats)
    for (int h = 0; h < 32; ++h)
      for (int q = 0; q < T; ++q)
        for (int k = 0; k <= q; ++k, ++i) {
          const size_t n = raw.size() / 2;                            // high-byte plane, then low-byte plane
          const double got = ((raw[i] << 8) | raw[n + i]) / 65534.0;  // code 65535 marks non-finite
          worst = std::max(worst, std::fabs(got - t.at({0, h, q, k})));
        }
  EXPECT_LE(worst, 0.5 / 65534 + 1e-7);
  // The hostile token never appears as markup.
  EXPECT_EQ(html.find("<img src=x"), std::string::npos);
  EXPECT_EQ(html.find(kXss), std::string::npos);
}

TEST(Explorer, EightBitsAndFullMatricesWhenNotCausal) {
  std::map<int, Tensor> pats;
  Tensor t({1, 1, 3, 3}, {0.2f, 0.3f, 0.5f, 0.1f, 0.1f, 0.8f, 1.0f, 0.0f, 0.0f});
  pats.emplace(7, t);
  ExplorerOptions opt;
  opt.bits = 8;
  const auto j = nlohmann::json::parse(data_block(explorer_html(pats, {"a", "b", "c"}, opt)));
  EXPECT_FALSE(j["triangle"].get<bool>());
  EXPECT_EQ(j["bits"], 8);
  EXPECT_EQ(j["layers"][0], 7);
  const auto raw = unpack(j["data"].get<std::string>(), 9);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(raw[i] / 254.0, t.data()[i], 0.5 / 254 + 1e-7);
}

TEST(Explorer, TitleAndTokensAreEscapedAndSanitised) {
  const auto pats = synthetic_patterns(3, 1, 1);
  ExplorerOptions opt;
  opt.title = "<b>bold</b> & \"q\"";
  const std::string html = explorer_html(pats, {"\xFF", "<!--", "ok"}, opt);
  EXPECT_NE(html.find("<title>&lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot;</title>"), std::string::npos);
  const auto j = nlohmann::json::parse(data_block(html));
  EXPECT_EQ(j["tokens"][0].get<std::string>(), "\xEF\xBF\xBD");
  EXPECT_EQ(j["tokens"][1].get<std::string>(), "<!--");
}

TEST(Explorer, InconsistentInputsAreErrors) {
  auto pats = synthetic_patterns(4, 2, 2);
  EXPECT_THROW(explorer_html(pats, {"a", "b"}, {}), Error);  // token count
  pats.emplace(5, Tensor({1, 3, 4, 4}));                     // head count differs
  EXPECT_THROW(explorer_html(pats, {"a", "b", "c", "d"}, {}), Error);
  EXPECT_THROW(explorer_html({}, {}, {}), Error);
  ExplorerOptions bad;
  bad.bits = 12;
  EXPECT_THROW(explorer_html(synthetic_patterns(2, 1, 1), {"a", "b"}, bad), Error);
  bad.bits = 8;
  bad.colormap = "rainbow";
  EXPECT_THROW(explorer_html(synthetic_patterns(2, 1, 1), {"a", "b"}, bad), Error);
}

TEST(Explorer, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(detail::base64_encode(""), "");
  EXPECT_EQ(detail::base64_encode("f"), "Zg==");
  EXPECT_EQ(detail::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(detail::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(detail::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(detail::base64_decode("Zm9vYmE="), "fooba");
}
