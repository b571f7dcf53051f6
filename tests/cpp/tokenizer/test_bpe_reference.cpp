// Byte-level BPE against a second, deliberately naive implementation written here (the
// original GPT-2 algorithm: repeatedly merge every occurrence of the lowest-ranked adjacent
// pair), on random single-word inputs that exercise long merge chains.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "tokenizer/vocab_test_data.h"

using namespace tokenizer_test;
using attnscope::Tokenizer;
using json = nlohmann::json;

namespace {

struct NaiveBpe {
  std::map<std::string, int32_t> vocab;
  std::map<std::pair<std::string, std::string>, int> ranks;
  bool ignore_merges = false;

  static std::string byte_char(unsigned char b) {
    const bool self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    uint32_t cp = b;
    if (!self) {
      int n = 0;
      for (int k = 0; k < b; ++k) {
        if (!((k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || k >= 0xAE)) ++n;
      }
      cp = 256 + n;
    }
    std::string s;
    if (cp < 0x80)
      s += static_cast<char>(cp);
    else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  }

  std::vector<int32_t> encode_word(const std::string& word) const {
    std::vector<std::string> parts;
    std::string whole;
    for (unsigned char c : word) {
      parts.push_back(byte_char(c));
      whole += parts.back();
    }
    if (ignore_merges && vocab.count(whole)) return {vocab.at(whole)};
    for (;;) {
      int best = INT32_MAX;
      std::pair<std::string, std::string> best_pair;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = ranks.find({parts[i], parts[i + 1]});
        if (it != ranks.end() && it->second < best) {
          best = it->second;
          best_pair = it->first;
        }
      }
      if (best == INT32_MAX) break;
      std::vector<std::string> next;
      for (size_t i = 0; i < parts.size();) {
        if (i + 1 < parts.size() && parts[i] == best_pair.first && parts[i + 1] == best_pair.second) {
          next.push_back(parts[i] + parts[i + 1]);
          i += 2;
        } else {
          next.push_back(parts[i]);
          i += 1;
        }
      }
      parts.swap(next);
    }
    std::vector<int32_t> ids;
    for (const auto& p : parts) ids.push_back(vocab.at(p));
    return ids;
  }
};

void add_merge(NaiveBpe& n, const std::string& line, int rank) {
  const size_t sp = line.find(' ');
  n.ranks.emplace(std::make_pair(line.substr(0, sp), line.substr(sp + 1)), rank);
}

// Words that fall into one pre-token: an optional leading space and letters drawn from a small
// alphabet, so that long merge chains and repeated pairs happen.
std::vector<std::string> random_words(int n) {
  std::mt19937 rng(77);
  const std::string letters = "aeinorstlhdw";
  std::vector<std::string> words;
  for (int i = 0; i < n; ++i) {
    std::string w = rng() % 2 ? " " : "";
    const int len = 1 + static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) w += letters[rng() % (rng() % 3 == 0 ? 3 : letters.size())];
    words.push_back(w);
  }
  return words;
}

}  // namespace

TEST(TokenizerBpeReference, Gpt2MatchesNaiveAlgorithm) {
  NaiveBpe naive;
  const json enc = json::parse(read_file(models_dir() + "/tokenizers/gpt2/encoder.json"));
  for (auto it = enc.begin(); it != enc.end(); ++it) naive.vocab[it.key()] = it.value();
  std::istringstream merges(read_file(models_dir() + "/tokenizers/gpt2/vocab.bpe"));
  std::string line;
  int rank = 0;
  std::getline(merges, line);  // #version
  while (std::getline(merges, line)) {
    if (!line.empty()) add_merge(naive, line, rank++);
  }
  const Tokenizer& t = tok("tokenizers/gpt2");
  for (const auto& w : random_words(400)) {
    ASSERT_EQ(t.encode(w, false), naive.encode_word(w)) << "'" << w << "'";
  }
}

TEST(TokenizerBpeReference, Llama3MatchesNaiveAlgorithmWithIgnoreMerges) {
  NaiveBpe naive;
  naive.ignore_merges = true;
  const json j = json::parse(read_file(models_dir() + "/tokenizers/llama3/tokenizer.json"));
  for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it) {
    naive.vocab[it.key()] = it.value();
  }
  int rank = 0;
  for (const auto& m : j["model"]["merges"]) add_merge(naive, m.get<std::string>(), rank++);
  const Tokenizer& t = tok("tokenizers/llama3/tokenizer.json");
  for (const auto& w : random_words(400)) {
    ASSERT_EQ(t.encode(w, false), naive.encode_word(w)) << "'" << w << "'";
  }
}
