// Reading a corpus of prompts: a text file with one prompt per line, a JSONL file whose lines
// are objects with a "text" field, or a folder whose .txt files are one prompt each. Bad input
// (an empty line, a line that is not UTF-8, a JSONL line without a string "text", a missing
// file, later a prompt longer than the model's context) is never dropped silently: it is refused
// (the default: InvalidArgument / NotFound naming the file and line) or, when the caller chooses
// to skip, recorded in Corpus::skipped with its file and line.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

enum class BadInputPolicy { Refuse, Skip };

struct CorpusPrompt {
  int64_t index = 0;   // position among the accepted prompts (0, 1, ...)
  std::string source;  // the file it came from ("<list>" for prompts given in memory)
  int64_t line = 0;    // 1-based line in that file (1 for a whole-file prompt)
  std::string text;
};

struct CorpusIssue {
  std::string source;
  int64_t line = 0;    // 0: the whole source (e.g. a missing file)
  std::string reason;  // "empty line", "not valid UTF-8", ...
};

struct Corpus {
  std::vector<CorpusPrompt> prompts;
  std::vector<CorpusIssue> skipped;  // what BadInputPolicy::Skip left out, in reading order
};

// Reads every path in order: a directory -> its *.txt files sorted by name, each one prompt (a
// final newline is dropped); *.jsonl / *.ndjson -> one prompt per non-blank line from its "text"
// field; any other file -> one prompt per line ("\n" or "\r\n"; a final newline does not make an
// empty last prompt). Whitespace-only lines count as empty. Errors under Refuse: NotFound for a
// missing path, InvalidArgument "<file>:<line>: <reason>" for a bad line; Io when a file cannot be
// read. An empty corpus (nothing accepted) is InvalidArgument under either policy.
Corpus read_corpus(const std::vector<std::string>& paths, BadInputPolicy policy = BadInputPolicy::Refuse);
// The same checks on prompts given in memory (source "<list>", line = position + 1).
Corpus corpus_from_texts(const std::vector<std::string>& texts, BadInputPolicy policy = BadInputPolicy::Refuse);

// Applies `policy` to one more bad item: throws InvalidArgument "<source>:<line>: <reason>" under
// Refuse, appends to corpus.skipped under Skip. (Used by the scan for prompts longer than the
// model's context, which only tokenizing can tell.)
void reject_input(Corpus& corpus, const CorpusIssue& issue, BadInputPolicy policy);
std::string describe(const CorpusIssue& issue);  // "<source>:<line>: <reason>"

}  // namespace attnscope
