// Loaders that build a tokenizer from each supported file kind. Tokenizer::from_path and
// Tokenizer::from_gguf dispatch to these.
#pragma once
#include <memory>
#include <string>

#include "attnscope/tokenizer.h"

namespace attnscope::detail {

std::string read_text_file(const std::string& path);  // NotFound / Io errors name the path

// Hugging Face tokenizer.json; config_path ("" for none) is tokenizer_config.json.
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path, const std::string& config_path);
// OpenAI GPT-2 encoder.json + vocab.bpe.
std::unique_ptr<Tokenizer> load_gpt2_files(const std::string& encoder_json, const std::string& vocab_bpe);
// SentencePiece model protobuf (tokenizer.model), BPE type such as Llama 2's.
std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::string& path);

}  // namespace attnscope::detail
