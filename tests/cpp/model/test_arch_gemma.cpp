// The gemma fixture (../shared/models/arch/gemma): both files reproduce the HF-semantics reference.
#include "arch_reference.h"

using namespace attnscope;

TEST(Arch_gemma, BothFilesMatchTheReference) { test::expect_family_matches_reference("gemma"); }
