// Added tokens with lstrip / rstrip absorb whitespace as Hugging Face tokenizers does: its
// AddedVocabulary strips with the Rust regexes \s*$ and ^\s* (added_vocabulary.rs), and the regex
// crate's \s is Unicode's White_Space property (PropList.txt), so no-break, thin and ideographic
// spaces go too (transformers #33371), while characters outside that property (zero-width space
// U+200B, Mongolian vowel separator U+180E since Unicode 6.3) stay in the text. single_word: the
// token is dropped where a Rust regex \w character (ends_with_word / starts_with_word there)
// touches it, and the search goes on after it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnscope/tokenizer.h"
#include "common/test_files.h"
#include "tokenizer/vocab.h"

using attnscope::detail::Fragment;
using attnscope::detail::SpecialMatcher;
using attnscope::detail::SpecialToken;

namespace {

// The 25 code points of White_Space in Unicode's PropList.txt, as UTF-8.
const std::vector<std::string> kWhiteSpace = {
    "\t",           "\n",           "\v",           "\f",           "\r",           " ",
    "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82",
    "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88",
    "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F",
    "\xE3\x80\x80"};

SpecialMatcher mask_matcher(bool lstrip, bool rstrip) {
  SpecialMatcher m;
  m.add(SpecialToken{"<mask>", 7, true, lstrip, rstrip});
  return m;
}

std::vector<std::string> pieces(const SpecialMatcher& m, const std::string& text) {
  std::vector<Fragment> out;
  m.split(text, true, out);
  std::vector<std::string> got;
  for (const auto& f : out)
    got.push_back(f.id >= 0 ? "#" + std::to_string(f.id) : text.substr(f.begin, f.end - f.begin));
  return got;
}

}  // namespace

TEST(AddedTokenStrip, EveryWhiteSpaceCodePointIsAbsorbedOnBothSides) {
  ASSERT_EQ(kWhiteSpace.size(), 25u);
  const SpecialMatcher m = mask_matcher(true, true);
  for (const auto& ws : kWhiteSpace) {
    EXPECT_EQ(pieces(m, "a" + ws + "<mask>" + ws + "b"), (std::vector<std::string>{"a", "#7", "b"}))
        << "U+" << std::hex << static_cast<int>(static_cast<unsigned char>(ws[0]));
  }
  // A run of mixed white space (no-break, thin, ideographic, ASCII) goes as a whole.
  EXPECT_EQ(pieces(m, "x \xC2\xA0\xE2\x80\x89\xE3\x80\x80<mask>\xE3\x80\x80\t y"),
            (std::vector<std::string>{"x", "#7", "y"}));
}

TEST(AddedTokenStrip, OnlyTheFlaggedSideIsStripped) {
  const std::string nbsp = "\xC2\xA0";
  EXPECT_EQ(pieces(mask_matcher(true, false), "a" + nbsp + "<mask>" + nbsp + "b"),
            (std::vector<std::string>{"a", "#7", nbsp + "b"}));
  EXPECT_EQ(pieces(mask_matcher(false, true), "a" + nbsp + "<mask>" + nbsp + "b"),
            (std::vector<std::string>{"a" + nbsp, "#7", "b"}));
  EXPECT_EQ(pieces(mask_matcher(false, false), "a" + nbsp + "<mask>" + nbsp + "b"),
            (std::vector<std::string>{"a" + nbsp, "#7", nbsp + "b"}));
}

TEST(AddedTokenStrip, CharactersOutsideWhiteSpaceStay) {
  const SpecialMatcher m = mask_matcher(true, true);
  const std::string zwsp = "\xE2\x80\x8B", mvs = "\xE1\xA0\x8E";  // U+200B, U+180E: not White_Space
  EXPECT_EQ(pieces(m, "a" + zwsp + "<mask>" + mvs + "b"), (std::vector<std::string>{"a" + zwsp, "#7", mvs + "b"}));
  // A multi-byte letter just before the token is kept whole (no byte of it mistaken for space).
  EXPECT_EQ(pieces(m, "\xC3\xA9 <mask>"), (std::vector<std::string>{"\xC3\xA9", "#7"}));
  // lstrip never reaches back past the previous token.
  EXPECT_EQ(pieces(m, "<mask>\xC2\xA0<mask>"), (std::vector<std::string>{"#7", "#7"}));
}

TEST(AddedTokenSingleWord, MatchedOnlyWithoutAWordCharacterBeside) {
  SpecialMatcher m;
  m.add(SpecialToken{"<w>", 5, true, false, false, true});
  const std::vector<std::string> matched = {"#5"};
  EXPECT_EQ(pieces(m, "<w>"), matched);
  EXPECT_EQ(pieces(m, "a <w> b"), (std::vector<std::string>{"a ", "#5", " b"}));
  EXPECT_EQ(pieces(m, "-<w>."), (std::vector<std::string>{"-", "#5", "."}));
  EXPECT_EQ(pieces(m, "\xC2\xA0<w>"), (std::vector<std::string>{"\xC2\xA0", "#5"}));
  // \w: letters of any script, digits, connector punctuation, marks, Other_Alphabetic (U+24B6).
  for (const std::string w : {"a", "7", "_", "\xC3\xA9", "\xE4\xB8\xAD", "\xCC\x81", "\xE2\x92\xB6"}) {
    EXPECT_EQ(pieces(m, w + "<w>"), (std::vector<std::string>{w + "<w>"})) << w;
    EXPECT_EQ(pieces(m, "<w>" + w), (std::vector<std::string>{"<w>" + w})) << w;
  }
  // A dropped match is not searched again for a shorter token inside it (the matcher goes on
  // after it, as tokenizers' leftmost-longest search does).
  m.add(SpecialToken{"w>", 6, true});
  EXPECT_EQ(pieces(m, "a<w>"), (std::vector<std::string>{"a<w>"}));
  EXPECT_EQ(pieces(m, "a w>"), (std::vector<std::string>{"a ", "#6"}));
}

// The options as tokenizer.json gives them: TinyStories-656K's tokenizer (trained/) with
// <|end_story|> (id 2) switched to lstrip + single_word, written to a temporary folder.
TEST(AddedTokenOptions, ReadFromTokenizerJson) {
  namespace fs = std::filesystem;
  nlohmann::json j =
      nlohmann::json::parse(std::ifstream(attnscope::test::model_path("trained/tinystories-656k/tokenizer.json")));
  for (auto& a : j["added_tokens"])
    if (a["id"] == 2) a["lstrip"] = a["single_word"] = true;
  const fs::path dir = attnscope::test::temp_path("tok");
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << j.dump();
  const auto t = attnscope::Tokenizer::from_path(dir.string());
  std::vector<int32_t> want = t->encode("The end.", false);
  want.push_back(2);
  EXPECT_EQ(t->encode("The end.\xE3\x80\x80<|end_story|>", false), want);  // U+3000 absorbed
  EXPECT_EQ(t->encode("The end.<|end_story|>", false), want);
  const auto glued = t->encode("The end<|end_story|>", false);  // 'd' touches it: not the token
  EXPECT_EQ(std::count(glued.begin(), glued.end(), 2), 0);
  fs::remove_all(dir);
}
