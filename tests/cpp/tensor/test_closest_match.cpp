// closest_match: the "did you mean" behind mistyped commands, flags and hook names.
#include <gtest/gtest.h>

#include "attnscope/error.h"

using namespace attnscope;

TEST(ClosestMatch, EachEditCountsOnceAndSwapsAreOneEdit) {
  const std::vector<std::string> words = {"heads", "heatmap", "explore", "tokens"};
  EXPECT_EQ(closest_match("hed", words), "heads");        // two insertions
  EXPECT_EQ(closest_match("haeds", words), "heads");      // one swap of neighbours, not two substitutions
  EXPECT_EQ(closest_match("HEATMPA", words), "heatmap");  // ASCII case ignored
  EXPECT_EQ(closest_match("tokens", words), "tokens");
}

TEST(ClosestMatch, NothingWhenTooFarOrNoChoices) {
  EXPECT_EQ(closest_match("composition", {"heads", "tokens"}), "");
  EXPECT_EQ(closest_match("x", {}), "");
  // Up to a third of the length (at least 2): 23 characters allow 7 edits, and this is 3 away.
  EXPECT_EQ(closest_match("blocks.0.attn.hook_zzzz", {"blocks.0.attn.hook_z"}), "blocks.0.attn.hook_z");
  EXPECT_EQ(did_you_mean("abc", {"xyz"}), "");
  EXPECT_EQ(did_you_mean("heds", {"heads"}), " (did you mean 'heads'?)");
}

TEST(ClosestMatch, TiesGoToTheFirstChoice) { EXPECT_EQ(closest_match("cat", {"bat", "hat"}), "bat"); }
