// The mistral fixture (../shared/models/arch/mistral): both files reproduce the HF-semantics reference.
#include "arch_reference.h"

using namespace attnscope;

TEST(Arch_mistral, BothFilesMatchTheReference) { test::expect_family_matches_reference("mistral"); }
