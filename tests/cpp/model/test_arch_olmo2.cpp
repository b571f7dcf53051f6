// The olmo2 fixture (../shared/models/arch/olmo2): both files reproduce the HF-semantics reference.
#include "arch_reference.h"

using namespace attnscope;

TEST(Arch_olmo2, BothFilesMatchTheReference) { test::expect_family_matches_reference("olmo2"); }
