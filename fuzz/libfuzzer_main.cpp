// The libFuzzer entry point of one target: compiled once per target with
// -DATTNSCOPE_FUZZ_ENTRY=<function in harness.h>.
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return attnscope::fuzz::ATTNSCOPE_FUZZ_ENTRY(data, size);
}
