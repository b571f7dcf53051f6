// Token sources, list options and outputs of the long-context commands.
#include "cli/long_context_common.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <type_traits>

#include "attnscope/corpus.h"
#include "attnscope/error.h"
#include "attnscope/model_config.h"
#include "cli/viz_common.h"

namespace attnscope::cli {

std::vector<int32_t> source_tokens(const Model& model, const TextSource& src) {
  std::string text = src.text;
  if (!src.files.empty())
    for (const CorpusPrompt& p : read_corpus(src.files).prompts) text += (text.empty() ? "" : "\n\n") + p.text;
  if (text.empty()) return {};
  return model.encode(text, false);
}

namespace {

template <class T>
CLI::Option* add_list(CLI::App& sub, const std::string& name, std::vector<T>& out, const std::string& help) {
  return sub
      .add_option_function<std::vector<std::string>>(
          name,
          [&out, name](const std::vector<std::string>& items) {
            out.clear();
            for (const std::string& item : items) {
              std::stringstream ss(item);
              std::string part;
              while (std::getline(ss, part, ',')) {
                if (part.empty()) continue;
                try {
                  size_t used = 0;
                  const double v = std::stod(part, &used);
                  if (used != part.size()) throw std::invalid_argument(part);
                  out.push_back(static_cast<T>(v));
                  if (static_cast<double>(out.back()) != v) throw std::invalid_argument(part);
                } catch (const std::exception&) {
                  throw CLI::ValidationError(name, "'" + part + "' is not a " +
                                                       (std::is_integral_v<T> ? "whole number" : "number") +
                                                       " (expected e.g. 64,128,256)");
                }
              }
            }
          },
          help)
      // One value per occurrence (comma-separated or repeated), so text after it stays the text.
      ->allow_extra_args(false)
      ->type_name(std::is_integral_v<T> ? "N[,N...]" : "X[,X...]");
}

}  // namespace

CLI::Option* add_int_list_option(CLI::App& sub, const std::string& name, std::vector<int>& out,
                                 const std::string& help) {
  return add_list(sub, name, out, help);
}
CLI::Option* add_double_list_option(CLI::App& sub, const std::string& name, std::vector<double>& out,
                                    const std::string& help) {
  return add_list(sub, name, out, help);
}

std::vector<int> default_lengths(const Model& model, int64_t limit) {
  const int64_t ctx = model.config().n_ctx > 0 ? model.config().n_ctx : limit;
  const int64_t top = std::min(limit, ctx);
  std::vector<int> out;
  for (int64_t n = 64; n < top; n *= 2) out.push_back(static_cast<int>(n));
  out.push_back(static_cast<int>(top));
  return out;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) fail(ErrorKind::Io, "cannot write " + path);
}

void check_outputs(const std::vector<OutputFile>& outputs, bool force) {
  for (const OutputFile& o : outputs)
    if (o.figure && !o.path.empty()) check_overwrite(o.path, force);
}

void write_outputs(const std::vector<OutputFile>& outputs, bool json) {
  for (const OutputFile& o : outputs)
    if (!o.path.empty()) {
      o.write(o.path);
      if (!json) std::cout << "wrote " << o.path << "\n";
    }
}

}  // namespace attnscope::cli
