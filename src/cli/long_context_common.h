// Shared by the long-context commands (sinks, retrieval, induction --lengths): the token source
// (text, files, or random tokens), list options, and writing the CSV / figure outputs.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "cli/command.h"

namespace attnscope::cli {

// A text, or files read as a corpus (read_corpus: .txt, .jsonl, folders), joined with blank
// lines; empty when neither was given (the commands then use random tokens).
struct TextSource {
  std::string text;
  std::vector<std::string> files;
};
// Content tokens (no BOS) of the source; empty for no source.
std::vector<int32_t> source_tokens(const Model& model, const TextSource& src);

// "64,128,256" -> {64, 128, 256} (also repeatable).
CLI::Option* add_int_list_option(CLI::App& sub, const std::string& name, std::vector<int>& out,
                                 const std::string& help);
CLI::Option* add_double_list_option(CLI::App& sub, const std::string& name, std::vector<double>& out,
                                    const std::string& help);

// Powers of two from 64 up to min(limit, context), and the limit itself: the default lengths.
std::vector<int> default_lengths(const Model& model, int64_t limit);

// Writes text to path (Io error naming it).
void write_text(const std::string& path, const std::string& text);
// An optional output (empty path: not asked for). write_outputs writes each asked-for one and
// prints "wrote PATH" unless json; check_outputs applies the overwrite rule (check_overwrite) to
// figures before the run, so a refused path costs no model run. A CSV is plain data and replaced.
struct OutputFile {
  std::string path;
  std::function<void(const std::string&)> write;
  bool figure = true;
};
void write_outputs(const std::vector<OutputFile>& outputs, bool json);
void check_outputs(const std::vector<OutputFile>& outputs, bool force);

}  // namespace attnscope::cli
