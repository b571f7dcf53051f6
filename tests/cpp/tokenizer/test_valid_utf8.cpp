// valid_utf8: U+FFFD per maximal ill-formed subpart (Unicode 15, section 3.9, "U+FFFD
// Substitution of Maximal Subparts", Table 3-8 and the surrounding examples), which is what
// Python's bytes.decode("utf-8", "replace") produces; and the double-BOS warning of encode.
#include <gtest/gtest.h>

#include <string>

#include "attnscope/tokenizer.h"
#include "attnscope/warnings.h"

using namespace attnscope;

namespace {
const std::string R = "\xEF\xBF\xBD";  // U+FFFD
}

TEST(ValidUtf8, MaximalSubpartsAsInTheUnicodeStandard) {
  EXPECT_EQ(valid_utf8("plain \xC3\xA9 text"), "plain \xC3\xA9 text");
  // Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d.
  EXPECT_EQ(valid_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + R + R + R + "b" + R + "c" + R + R + "d");
  // Overlong, surrogate and out-of-range forms: every byte is its own subpart.
  EXPECT_EQ(valid_utf8("\xC0\xAF"), R + R);
  EXPECT_EQ(valid_utf8("\xE0\x80\xAF"), R + R + R);
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), R + R + R);
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), R + R + R + R);
  // A truncated character at the end (half a token's worth) is one U+FFFD.
  EXPECT_EQ(valid_utf8("ab\xE2\x82"), "ab" + R);
  EXPECT_EQ(valid_utf8("\xF0\x9F\x98"), R);
  EXPECT_EQ(valid_utf8(std::string("\0x", 2)), std::string("\0x", 2));
}

TEST(ValidUtf8, DoubleBosIsKeptAndWarned) {
  const auto tok = Tokenizer::from_path(std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf");
  std::vector<std::string> keys;
  const WarningHandler previous =
      set_warning_handler([&](const std::string& k, const std::string&) { keys.push_back(k); });
  const auto ids = tok->encode("<s>Once upon", true);
  const auto single = tok->encode("Once upon", true);
  const auto no_bos = tok->encode("<s>Once upon", false);
  set_warning_handler(previous);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], tok->bos_id());
  EXPECT_EQ(ids[1], tok->bos_id());
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.end()), no_bos);
  EXPECT_EQ(keys, std::vector<std::string>{"tokenizer.double_bos"});  // only the double one
  (void)single;
}
