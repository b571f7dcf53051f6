// The libFuzzer entry point of one target: compiled once per target with
// -DATTNSCOPE_FUZZ_ENTRY=<function in harness.h>.
#include "harness.h"

// One empty input before fuzzing starts, so one-time setup (tokenizer_encode loads every
// tokenizer in ../shared/models) is not timed as part of the first input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  attnscope::fuzz::ATTNSCOPE_FUZZ_ENTRY(nullptr, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return attnscope::fuzz::ATTNSCOPE_FUZZ_ENTRY(data, size);
}
