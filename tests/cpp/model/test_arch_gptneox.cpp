// The gptneox fixture (../shared/models/arch/gptneox): both files reproduce the HF-semantics reference.
#include "arch_reference.h"

using namespace attnscope;

TEST(Arch_gptneox, BothFilesMatchTheReference) { test::expect_family_matches_reference("gptneox"); }
