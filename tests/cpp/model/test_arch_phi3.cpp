// The phi3 fixture (../shared/models/arch/phi3): both files reproduce the HF-semantics reference.
#include "arch_reference.h"

using namespace attnscope;

TEST(Arch_phi3, BothFilesMatchTheReference) { test::expect_family_matches_reference("phi3"); }
