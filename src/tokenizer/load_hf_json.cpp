// Hugging Face tokenizer.json (+ tokenizer_config.json) and GPT-2's encoder.json + vocab.bpe.
// Only the components the supported model families use are accepted; anything else is named
// in an Unsupported error rather than silently approximated.
#include <nlohmann/json.hpp>
#include <optional>

#include "attnscope/error.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/loaders.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace attnscope::detail {

namespace {

using json = nlohmann::json;

constexpr int64_t kMaxVocab = 16 * 1024 * 1024;  // far above any real vocabulary

json parse_json(const std::string& path) {
  const std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorKind::Format, path + ": not valid JSON: " + e.what());
  }
}

std::string type_of(const json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return "";
  return j["type"].get<std::string>();
}

// A token given as "text" or {"content": "text", ...}; "" for null.
std::string token_string(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) {
    return j["content"].get<std::string>();
  }
  return "";
}

// The literal string of a {"String": s} pattern, or the regex of a {"Regex": r} pattern.
struct Pattern {
  std::string text;
  bool regex = false;
};
Pattern pattern_of(const json& j, const std::string& where) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    return {j["String"].get<std::string>(), false};
  }
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    return {j["Regex"].get<std::string>(), true};
  }
  fail(ErrorKind::Format, where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

std::string quote_literal(const std::string& s) {
  std::string out = "\\Q";
  // \E inside the literal would end the quoting early: split it out.
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 2, "\\E") == 0) {
      out += "\\E\\\\E\\Q";
      ++i;
    } else {
      out += s[i];
    }
  }
  return out + "\\E";
}

struct Parser {
  std::string path;
  BpeOptions opt;
  bool saw_byte_level = false;
  std::string pre_desc;

  [[noreturn]] void unsupported(const std::string& what, const std::string& name) {
    fail(ErrorKind::Unsupported, path + ": " + what + " '" + name + "' is not supported");
  }

  void normalizer(const json& j) {
    if (j.is_null()) return;
    const std::string t = type_of(j);
    if (t == "Sequence") {
      for (const auto& n : j.value("normalizers", json::array())) normalizer(n);
    } else if (t == "NFC") {
      opt.nfc = true;
    } else if (t == "NFKC") {
      opt.nfkc = true;
    } else if (t == "Prepend") {
      opt.prepend = j.value("prepend", std::string());
    } else if (t == "Replace") {
      const Pattern p = pattern_of(j.value("pattern", json()), path + ": Replace normalizer");
      if (p.regex) unsupported("Replace normalizer with a regex", p.text);
      opt.replace.emplace_back(p.text, j.value("content", std::string()));
    } else {
      unsupported("normalizer", t.empty() ? j.dump().substr(0, 60) : t);
    }
  }

  void pre_tokenizer(const json& j) {
    if (j.is_null()) return;
    const std::string t = type_of(j);
    if (t == "Sequence") {
      for (const auto& n : j.value("pretokenizers", json::array())) pre_tokenizer(n);
    } else if (t == "Split") {
      const Pattern p = pattern_of(j.value("pattern", json()), path + ": Split pre-tokenizer");
      const std::string behavior = j.value("behavior", std::string("Isolated"));
      if (behavior != "Isolated") unsupported("Split pre-tokenizer behavior", behavior);
      if (j.value("invert", false)) unsupported("Split pre-tokenizer option", "invert");
      opt.pre.add_regex(p.regex ? p.text : quote_literal(p.text));
      pre_desc += (pre_desc.empty() ? "" : " + ") + std::string("split regex");
    } else if (t == "ByteLevel") {
      saw_byte_level = true;
      opt.byte_level_add_prefix_space = j.value("add_prefix_space", false);
      if (j.value("use_regex", true)) {
        opt.pre.add_regex(kGpt2Pattern);
        pre_desc += (pre_desc.empty() ? "" : " + ") + std::string("gpt-2 regex");
      }
    } else if (t == "Digits") {
      opt.pre.add_regex(j.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
      pre_desc += (pre_desc.empty() ? "" : " + ") + std::string("digits");
    } else if (t == "Metaspace") {
      opt.metaspace = j.value("replacement", std::string("\xE2\x96\x81"));
      if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
        opt.prepend_scheme = j["prepend_scheme"].get<std::string>();
      } else {
        opt.prepend_scheme = j.value("add_prefix_space", true) ? "always" : "never";
      }
      if (opt.prepend_scheme != "always" && opt.prepend_scheme != "first" && opt.prepend_scheme != "never") {
        unsupported("Metaspace prepend_scheme", opt.prepend_scheme);
      }
      opt.metaspace_split = j.value("split", true);
      pre_desc += (pre_desc.empty() ? "" : " + ") + std::string("metaspace");
    } else {
      unsupported("pre-tokenizer", t.empty() ? j.dump().substr(0, 60) : t);
    }
  }

  void decoder(const json& j) {
    if (j.is_null()) return;
    const std::string t = type_of(j);
    if (t == "Sequence") {
      for (const auto& n : j.value("decoders", json::array())) decoder(n);
    } else if (t == "ByteLevel") {
      saw_byte_level = true;
    } else if (t == "Replace") {
      const Pattern p = pattern_of(j.value("pattern", json()), path + ": Replace decoder");
      if (p.regex) unsupported("Replace decoder with a regex", p.text);
      opt.decode_replace.emplace_back(p.text, j.value("content", std::string()));
    } else if (t == "Strip") {
      if (j.value("content", std::string(" ")) != " ") unsupported("Strip decoder content", "");
      opt.strip_left = j.value("start", 0);
    } else if (t == "Metaspace") {
      opt.decode_replace.emplace_back(j.value("replacement", std::string("\xE2\x96\x81")), " ");
      std::string scheme = j.value("prepend_scheme", std::string());
      if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
      if (scheme != "never") opt.strip_left = 1;
    } else if (t == "ByteFallback" || t == "Fuse") {
      // Byte tokens and joining are how decode() works anyway.
    } else {
      unsupported("decoder", t.empty() ? j.dump().substr(0, 60) : t);
    }
  }
};

// `entries`: how many tokens the file lists. Ids are dense in every real vocabulary (0..n-1, added
// tokens right after), but a file is free to give its one token id 10,000,000, and the id table is
// sized by the largest id: allowing up to twice the entries (+1024 for small vocabularies) keeps
// memory proportional to the file, not to a number written in it.
void set_token(Vocab& v, int64_t id, const std::string& text, const std::string& where, size_t entries) {
  const int64_t limit = std::min<int64_t>(kMaxVocab, 2 * static_cast<int64_t>(entries) + 1024);
  if (id < 0 || id >= limit) {
    fail(ErrorKind::Format, where + ": token id " + std::to_string(id) + " for '" + utf8_display(text) +
                                "' is out of range (the file lists " + std::to_string(entries) +
                                " tokens; ids must be dense)");
  }
  if (static_cast<size_t>(id) >= v.tokens.size()) {
    v.tokens.resize(id + 1);
    v.types.resize(id + 1, TokenType::Unused);
  }
  v.tokens[id] = text;
  v.types[id] = TokenType::Normal;
}

std::vector<MergeRule> parse_merges(const json& merges, const std::string& where) {
  std::vector<MergeRule> out;
  if (merges.is_null()) return out;
  if (!merges.is_array()) fail(ErrorKind::Format, where + ": model.merges is not an array");
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        fail(ErrorKind::Format, where + ": merge " + std::to_string(i) + " '" + utf8_display(s) +
                                    "' is not two tokens separated by one space");
      }
      out.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail(ErrorKind::Format, where + ": merge " + std::to_string(i) + " is malformed");
    }
  }
  return out;
}

std::unique_ptr<Tokenizer> read_hf_tokenizer_json(const std::string& path, const std::string& config_path) {
  const json j = parse_json(path);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) {
    fail(ErrorKind::Format, path + ": no \"model\" object: not a tokenizer.json");
  }
  const json& model = j["model"];
  const std::string mtype = model.value("type", std::string("BPE"));
  if (mtype != "BPE") {
    fail(ErrorKind::Unsupported, path + ": tokenizer model type '" + mtype +
                                     "' is not supported (only BPE: byte-level or with "
                                     "byte fallback)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty()) {
      fail(ErrorKind::Unsupported, path + ": BPE option " + key + " is not supported");
    }
  }

  Parser p{path, {}, false, ""};
  p.normalizer(j.value("normalizer", json()));
  p.pre_tokenizer(j.value("pre_tokenizer", json()));
  p.decoder(j.value("decoder", json()));
  p.opt.byte_level = p.saw_byte_level;
  p.opt.ignore_merges = model.value("ignore_merges", false);
  p.opt.byte_fallback = model.value("byte_fallback", false);
  p.opt.fuse_unk = model.value("fuse_unk", false);
  p.opt.pre_name = "tokenizer.json: " + (p.pre_desc.empty() ? std::string("none") : p.pre_desc);

  Vocab v;
  v.source = path;
  const json& vocab = model.value("vocab", json());
  if (!vocab.is_object()) fail(ErrorKind::Format, path + ": model.vocab is not an object");
  const json added_tokens = j.value("added_tokens", json::array());
  const size_t entries = vocab.size() + added_tokens.size();
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) {
      fail(ErrorKind::Format, path + ": id of token '" + utf8_display(it.key()) + "' is not an integer");
    }
    set_token(v, it.value().get<int64_t>(), it.key(), path, entries);
  }

  struct Added {
    int64_t id;
    SpecialToken tok;
  };
  std::vector<Added> added;
  for (const auto& a : added_tokens) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer()) {
      fail(ErrorKind::Format, path + ": malformed entry in added_tokens");
    }
    Added ad{a["id"].get<int64_t>(),
             {a.value("content", std::string()), -1, a.value("special", false), a.value("lstrip", false),
              a.value("rstrip", false), a.value("single_word", false)}};
    ad.tok.id = static_cast<int32_t>(ad.id);
    set_token(v, ad.id, ad.tok.text, path, entries);
    added.push_back(ad);
  }
  for (const auto& a : added) {
    v.types[a.id] = a.tok.special ? TokenType::Control : TokenType::UserDefined;
  }
  v.index();
  const std::string unk =
      model.value("unk_token", json()).is_string() ? model["unk_token"].get<std::string>() : std::string();
  if (!unk.empty()) {
    v.unk = v.find(unk);
    if (v.unk >= 0) v.types[v.unk] = TokenType::Unknown;
  }

  // BOS: tokenizer_config.json first, then a TemplateProcessing post-processor.
  std::string bos, eos;
  std::optional<bool> add_bos;
  bool template_bos = false;
  const json& post = j.value("post_processor", json());
  if (type_of(post) == "TemplateProcessing" && post.contains("single") && post["single"].is_array() &&
      !post["single"].empty()) {
    const json& first = post["single"][0];
    if (first.is_object() && first.contains("SpecialToken")) {
      bos = first["SpecialToken"].value("id", std::string());
      template_bos = true;
    }
  }
  if (!config_path.empty()) {
    const json c = parse_json(config_path);
    if (c.contains("bos_token")) bos = token_string(c["bos_token"]);
    if (c.contains("eos_token")) eos = token_string(c["eos_token"]);
    if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) {
      add_bos = c["add_bos_token"].get<bool>();
    }
    if (c.contains("chat_template")) {
      const json& t = c["chat_template"];
      if (t.is_string()) {
        v.chat_template = t.get<std::string>();
      } else if (t.is_array()) {  // [{"name": ..., "template": ...}]: the default one
        for (const auto& e : t) {
          if (e.is_object() && e.value("name", std::string()) == "default") {
            v.chat_template = e.value("template", std::string());
          }
        }
        if (v.chat_template.empty() && !t.empty() && t[0].is_object()) {
          v.chat_template = t[0].value("template", std::string());
        }
      }
    }
    if (c.contains("unk_token") && v.unk < 0) v.unk = v.find(token_string(c["unk_token"]));
  }
  if (!bos.empty()) v.bos = v.find(bos);
  if (!eos.empty()) v.eos = v.find(eos);
  // Without an explicit flag: a post-processor that prepends BOS adds it; otherwise a model
  // with a BOS distinct from its EOS (Llama 3's <|begin_of_text|>) expects it, while GPT-2
  // style vocabularies whose BOS is their EOS do not.
  v.add_bos = add_bos.value_or(template_bos || (v.bos >= 0 && v.bos != v.eos));

  const std::vector<MergeRule> merges = parse_merges(model.value("merges", json()), path);
  auto tok = std::make_unique<BpeTokenizer>(std::move(v), merges, std::move(p.opt));
  for (auto& a : added) tok->specials().add(a.tok);
  return tok;
}

}  // namespace

// nlohmann's value() and get<>() throw their own type_error when a key holds another type than
// the one read ("ignore_merges": [...], a fuzzing finding): that is a malformed file, whichever
// key it is.
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path, const std::string& config_path) {
  try {
    return read_hf_tokenizer_json(path, config_path);
  } catch (const json::exception& e) {
    fail(ErrorKind::Format,
         path + (config_path.empty() ? "" : " or " + config_path) + ": a value of the wrong type (" + e.what() + ")");
  }
}

std::unique_ptr<Tokenizer> load_gpt2_files(const std::string& encoder_json, const std::string& vocab_bpe) {
  const json enc = parse_json(encoder_json);
  if (!enc.is_object()) fail(ErrorKind::Format, encoder_json + ": not a JSON object of token ids");
  Vocab v;
  v.source = encoder_json;
  for (auto it = enc.begin(); it != enc.end(); ++it) {
    if (!it.value().is_number_integer()) {
      fail(ErrorKind::Format, encoder_json + ": id of token '" + utf8_display(it.key()) + "' is not an integer");
    }
    set_token(v, it.value().get<int64_t>(), it.key(), encoder_json, enc.size());
  }
  v.index();
  const int32_t eot = v.find("<|endoftext|>");
  if (eot >= 0) {
    v.types[eot] = TokenType::Control;
    v.bos = v.eos = eot;
  }
  v.add_bos = false;

  const std::string text = read_text_file(vocab_bpe);
  std::vector<MergeRule> merges;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos) {
      fail(ErrorKind::Format,
           vocab_bpe + ":" + std::to_string(line_no) + ": merge is not two tokens separated by one space");
    }
    merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  BpeOptions opt;
  opt.byte_level = true;
  opt.pre.add_regex(kGpt2Pattern);
  opt.pre_name = "gpt-2";
  auto tok = std::make_unique<BpeTokenizer>(std::move(v), merges, std::move(opt));
  if (eot >= 0) tok->specials().add({"<|endoftext|>", eot, true, false, false});
  return tok;
}

}  // namespace attnscope::detail
