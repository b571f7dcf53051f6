// The qwen3 fixture (../shared/models/arch/qwen3): both files reproduce the HF-semantics reference.
#include "arch_reference.h"

using namespace attnscope;

TEST(Arch_qwen3, BothFilesMatchTheReference) { test::expect_family_matches_reference("qwen3"); }
