// A mistyped command, flag or hook name is refused with the nearest right one named.
#include <gtest/gtest.h>

#include "common/cli_runner.h"

using namespace test_cli;

namespace {
void expect_refused_with(const std::string& args, const std::string& hint) {
  const Result r = run_cli(args);
  EXPECT_NE(r.code, 0) << args;
  EXPECT_NE(r.out.find(hint), std::string::npos) << args << "\n" << r.out;
}
}  // namespace

TEST(DidYouMean, Commands) { expect_refused_with("hed", "unknown command 'hed'; did you mean 'heads'?"); }

TEST(DidYouMean, FlagsOfTheCommandGiven) {
  expect_refused_with("heads --layrs 0 abc", "unknown flag '--layrs'; did you mean '--layers'?");
  expect_refused_with("ablate --positon=3 abc", "unknown flag '--positon'; did you mean '--position'?");
}

TEST(DidYouMean, HookNames) {
  expect_refused_with("trace --capture blocks.0.attn.hook_patern abc", "(did you mean 'blocks.0.attn.hook_pattern'?)");
}

TEST(DidYouMean, NothingSuggestedWhenNothingIsClose) {
  const Result r = run_cli("composition-scores-please");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.out.find("did you mean"), std::string::npos) << r.out;
}
