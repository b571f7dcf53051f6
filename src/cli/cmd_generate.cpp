// `attnscope generate`: greedy or sampled (--temperature, --top-k, --top-p, --seed) continuation with the KV cache
// (from BOS when no prompt is given); with -o, the hooks named by --capture are saved over prompt + generated tokens.
#include <iostream>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/npz.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"

namespace attnscope::cli {
namespace {

struct GenerateArgs {
  std::string prompt;
  int n = 64;
  bool no_stop = false;
  std::string out;
  std::vector<std::string> capture;
  std::vector<int> layers;
  GenerateOptions sampling;
};

int run_generate(const Common& common, const GenerateArgs& a) {
  Model model = load_model(common);
  GenerateOptions opt = a.sampling;
  opt.max_tokens = a.n;
  opt.stop_at_eos = !a.no_stop;
  opt.layers = a.layers;
  if (!a.out.empty())
    opt.capture = a.capture.empty() ? std::vector<std::string>{hook_glob(HookPoint::AttnPattern)} : a.capture;
  else if (!a.capture.empty())
    fail(ErrorKind::InvalidArgument, "--capture needs -o FILE.npz to save into");
  Generation g = model.generate(std::string_view(a.prompt), opt);
  if (!a.out.empty()) save_trace_npz(g.trace, a.out, true);
  const Tokenizer& tok = model.tokenizer();
  const std::string prompt_text = tok.decode(g.prompt_tokens);
  if (common.json) {
    nlohmann::json j;
    j["prompt_tokens"] = g.prompt_tokens;
    j["new_tokens"] = g.new_tokens;
    j["prompt"] = valid_utf8(prompt_text);
    j["text"] = valid_utf8(g.text);  // U+FFFD for bytes that are not UTF-8; exact: new_tokens
    j["text_bytes"] = std::vector<uint8_t>(g.text.begin(), g.text.end());
    j["str_tokens"] = tok.to_str_tokens(g.new_tokens);
    if (!a.out.empty()) {
      j["output"] = a.out;
      j["captured"] = captured_shapes_json(g.trace);
    }
    std::cout << dump_json(j) << "\n";
    return 0;
  }
  std::cout << valid_utf8(prompt_text + g.text) << "\n";
  if (!a.out.empty()) std::cerr << "wrote " << a.out << " (" << g.trace.captured().size() << " arrays)\n";
  return 0;
}

const CommandRegistrar reg{
    {"generate", "text generation, greedy or sampled (from BOS when no prompt is given)",
     [](CLI::App& sub, Common& common) -> std::function<int()> {
       auto a = std::make_shared<GenerateArgs>();
       add_common_options(sub, common);
       add_text_argument(sub, a->prompt, "text to continue (default: start from BOS)");
       sub.add_option("-n,--max-tokens", a->n, "tokens to generate (default 64)")->check(CLI::NonNegativeNumber);
       sub.add_flag("--no-stop", a->no_stop, "keep going past the end-of-sequence token");
       add_output_option(sub, a->out, "save captured hooks to this .npz");
       sub.add_option("--capture", a->capture, "hook names/globs to save with -o (default blocks.*.attn.hook_pattern)")
           ->delimiter(',');
       sub.add_option("--temperature", a->sampling.temperature, "sample with this temperature (default 0: greedy)");
       sub.add_option("--top-k", a->sampling.top_k, "sample among the k most likely tokens only (default 0: all)");
       sub.add_option("--top-p", a->sampling.top_p,
                      "nucleus sampling: the most likely tokens up to this probability (default 1)");
       sub.add_option("--seed", a->sampling.seed, "random seed for sampling (default 0)");
       add_layers_option(sub, a->layers, "only these layers (\"0,2,5\")");
       return [&common, a] { return run_generate(common, *a); };
     }}};

}  // namespace
}  // namespace attnscope::cli
