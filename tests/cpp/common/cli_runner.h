// Runs the built attnscope command (ATTNSCOPE_CLI) from a test and collects what it printed.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace test_cli {

struct Result {
  int code = -1;    // exit code (-1 if it did not exit normally)
  std::string out;  // stdout, plus stderr when asked
};

// `args` go to a shell after the binary's path, so quote texts as a shell would.
inline Result run_cli(const std::string& args, bool with_stderr = true) {
  Result r;
  const std::string cmd = std::string(ATTNSCOPE_CLI) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs with --json, expects exit 0 and parses stdout.
inline nlohmann::json run_cli_json(const std::string& args) {
  Result r = run_cli(args + " --json", false);
  EXPECT_EQ(r.code, 0) << args << "\n" << r.out;
  return nlohmann::json::parse(r.out);
}

}  // namespace test_cli
