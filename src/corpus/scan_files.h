// The per-unit output files of a scan (see scan_files.cpp). Private to the library.
#pragma once
#include <string>

#include "attnscope/scan.h"

namespace attnscope::detail {

std::string scan_prompts_csv(const ScanResult& result);
void write_scan_npz(const ScanResult& result, const std::string& path);

}  // namespace attnscope::detail
