// `attnscope stats "text"` / `--file doc.txt` / `--random N`: every head's attention statistics
// streamed from the forward pass (attnscope/head_stats.h), at any prompt length in memory linear in
// it: the pattern scores, the sink and local mass, row entropy, mean attention distance.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/head_stats.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"

namespace attnscope::cli {
namespace {

struct StatsArgs {
  std::string text, file;
  int random = 0;  // random tokens, repeated once (induction on random repeats)
  uint64_t seed = 0;
  int chunk = 0, sink_tokens = 1, window = 8;
  bool raw = false, exclude_bos = false, csv = false;
};

// A document read whole (read_corpus would make each line a prompt).
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The prompt: the text's tokens (BOS as the tokenizer's rules say), or N random tokens twice
// (the second copy's rows are induction rows, target p - (N - 1), scored with seq_len = N).
std::vector<int32_t> prompt_ids(const Model& model, const StatsArgs& a, HeadStatsOptions& o) {
  if (!a.text.empty() + !a.file.empty() + (a.random > 0) != 1)
    fail(ErrorKind::InvalidArgument, "give exactly one of a text, --file FILE or --random N");
  if (a.random > 0) {
    o.seq_len = a.random;
    const int32_t bos = model.has_tokenizer() ? model.tokenizer().bos_id() : -1;
    return random_repeated_tokens(random_token_pool(model), bos, a.random, 2, a.seed);
  }
  const std::string text = a.file.empty() ? a.text : read_file(a.file);
  if (text.empty()) fail(ErrorKind::InvalidArgument, "empty prompt: there is no text to run");
  return model.encode(text);
}

int run_stats(const Common& common, const StatsArgs& a) {
  const Model model = load_model(common);
  HeadStatsOptions o;
  o.chunk = a.chunk;
  o.sink_tokens = a.sink_tokens;
  o.local_window = a.window;
  o.score.exclude_bos = a.exclude_bos;
  const std::vector<int32_t> ids = prompt_ids(model, a, o);
  const HeadStats s = head_statistics(model, {ids}, o);
  const bool cc = !a.raw;
  const auto& names = HeadStats::names();
  if (common.json) {
    nlohmann::json j;
    j["model"] = model.source();
    j["tokens"] = ids.size();
    j["chance_corrected"] = cc;
    j["sink_tokens"] = a.sink_tokens;
    j["local_window"] = a.window;
    for (int l = 0; l < s.n_layer(); ++l)
      for (int h = 0; h < s.n_head(); ++h) {
        nlohmann::json head{{"layer", l}, {"head", h}};
        for (const auto& n : names) {
          head[n] = s.value(n, l, h, cc);
          head["rows"][n] = s.rows(n, l, h);
        }
        head["distance_histogram"] = s.distance_histogram(l, h);
        j["heads"].push_back(head);
      }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  const char* sep = a.csv ? "," : " ";
  if (!a.csv)
    std::cout << "model: " << model.source() << "\n"
              << ids.size() << " tokens; " << (cc ? "chance-corrected" : "raw") << " target masses (sink_mass: first "
              << a.sink_tokens << ", local_mass: last " << a.window
              << "); entropy in nats, mean_distance in positions\n";
  std::cout << (a.csv ? "layer,head" : "head  ");
  for (const auto& n : names) std::cout << sep << (a.csv ? n : n.substr(0, 9));
  std::cout << "\n" << std::fixed << std::setprecision(a.csv ? 6 : 3);
  for (int l = 0; l < s.n_layer(); ++l)
    for (int h = 0; h < s.n_head(); ++h) {
      if (a.csv)
        std::cout << l << "," << h;
      else
        std::cout << std::left << std::setw(6) << ("L" + std::to_string(l) + "H" + std::to_string(h)) << std::right;
      for (const auto& n : names) std::cout << sep << std::setw(a.csv ? 0 : 9) << s.value(n, l, h, cc);
      std::cout << "\n";
    }
  return 0;
}

const CommandRegistrar kStats{{
    "stats",
    "every head's attention statistics streamed from the forward pass, at any prompt length",
    [](CLI::App& sub, Common& common) {
      auto args = std::make_shared<StatsArgs>();
      add_common_options(sub, common);
      add_text_argument(sub, args->text, "the text to run", /*required=*/false);
      sub.add_option("-f,--file", args->file, "run the text of this file (a long document)");
      sub.add_option("--random", args->random, "run N random tokens repeated once (induction on random repeats)")
          ->check(CLI::Range(2, 1 << 24));
      sub.add_option("--seed", args->seed, "seed of --random")->capture_default_str();
      sub.add_option("--chunk", args->chunk, "prefill in chunks of this many tokens (0: one pass)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str();
      sub.add_option("--sink-tokens", args->sink_tokens, "sink_mass: attention on the first N keys")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
      sub.add_option("--window", args->window, "local_mass: attention on the last N keys up to the query")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
      sub.add_flag("--raw", args->raw, "raw target masses (default: chance-corrected)");
      sub.add_flag("--exclude-bos", args->exclude_bos, "drop the BOS row and column");
      sub.add_flag("--csv", args->csv, "CSV output");
      return [&common, args]() { return run_stats(common, *args); };
    },
}};

}  // namespace
}  // namespace attnscope::cli
