// SentencePiece's tokenizer.model: a protobuf ModelProto, read with a minimal wire-format
// reader (only the fields a BPE model needs):
//   ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//                NormalizerSpec normalizer_spec = 3; }
//   SentencePiece { string piece = 1; float score = 2; Type type = 3; }  (Type as TokenType)
//   TrainerSpec { model_type = 3 (1 unigram, 2 bpe); byte_fallback = 35; unk_id = 40;
//                 bos_id = 41; eos_id = 42; pad_id = 43; }
//   NormalizerSpec { add_dummy_prefix = 3; }
#include <cstring>

#include "attnscope/error.h"
#include "tokenizer/loaders.h"
#include "tokenizer/spm_tokenizer.h"

namespace attnscope::detail {

namespace {

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  const std::string& path;

  [[noreturn]] void bad(const std::string& why) const {
    fail(ErrorKind::Format, path + ": malformed SentencePiece model: " + why);
  }
  bool done() const { return p >= end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) bad("truncated varint");
      const uint8_t b = *p++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    bad("varint longer than 10 bytes");
  }
  // Reads a field key; returns field number and wire type.
  std::pair<uint32_t, uint32_t> key() {
    const uint64_t k = varint();
    return {static_cast<uint32_t>(k >> 3), static_cast<uint32_t>(k & 7)};
  }
  Reader sub() {
    const uint64_t n = varint();
    if (n > static_cast<uint64_t>(end - p)) bad("length past the end of the data");
    Reader r{p, p + n, path};
    p += n;
    return r;
  }
  uint32_t fixed32() {
    if (end - p < 4) bad("truncated fixed32");
    uint32_t v;
    std::memcpy(&v, p, 4);
    p += 4;
    return v;
  }
  void skip(uint32_t wire) {
    switch (wire) {
      case 0:
        varint();
        break;
      case 1:
        if (end - p < 8) bad("truncated fixed64");
        p += 8;
        break;
      case 2:
        sub();
        break;
      case 5:
        fixed32();
        break;
      default:
        bad("unsupported wire type " + std::to_string(wire));
    }
  }
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::string& path) {
  const std::string data = read_text_file(path);
  Reader r{reinterpret_cast<const uint8_t*>(data.data()), reinterpret_cast<const uint8_t*>(data.data()) + data.size(),
           path};
  Vocab v;
  v.source = path;
  int64_t model_type = 1;
  bool add_dummy_prefix = true;
  bool saw_trainer_spec = false;
  int64_t unk = 0, bos = 1, eos = 2;
  while (!r.done()) {
    const auto [field, wire] = r.key();
    if (field == 1 && wire == 2) {
      Reader pr = r.sub();
      std::string piece;
      float score = 0.0f;
      int64_t type = 1;
      while (!pr.done()) {
        const auto [f, w] = pr.key();
        if (f == 1 && w == 2) {
          Reader s = pr.sub();
          piece.assign(reinterpret_cast<const char*>(s.p), s.end - s.p);
        } else if (f == 2 && w == 5) {
          const uint32_t bits = pr.fixed32();
          std::memcpy(&score, &bits, 4);
        } else if (f == 3 && w == 0) {
          type = static_cast<int64_t>(pr.varint());
        } else {
          pr.skip(w);
        }
      }
      if (type < 1 || type > 6) r.bad("piece " + std::to_string(v.tokens.size()) + " has type " + std::to_string(type));
      v.tokens.push_back(std::move(piece));
      v.scores.push_back(score);
      v.types.push_back(static_cast<TokenType>(type));
    } else if (field == 2 && wire == 2) {
      Reader t = r.sub();
      saw_trainer_spec = true;
      while (!t.done()) {
        const auto [f, w] = t.key();
        if (w == 0 && (f == 3 || f == 40 || f == 41 || f == 42)) {
          const auto val = static_cast<int64_t>(static_cast<int32_t>(t.varint()));
          if (f == 3)
            model_type = val;
          else if (f == 40)
            unk = val;
          else if (f == 41)
            bos = val;
          else
            eos = val;
        } else {
          t.skip(w);
        }
      }
    } else if (field == 3 && wire == 2) {
      Reader n = r.sub();
      while (!n.done()) {
        const auto [f, w] = n.key();
        if (f == 3 && w == 0)
          add_dummy_prefix = n.varint() != 0;
        else
          n.skip(w);
      }
    } else {
      r.skip(wire);
    }
  }
  if (v.tokens.empty()) r.bad("no pieces");
  if (!saw_trainer_spec) r.bad("no trainer_spec (the file looks truncated)");
  if (model_type != 2) {
    fail(ErrorKind::Unsupported, path + ": SentencePiece model type " + std::to_string(model_type) +
                                     " is not supported (only BPE, type 2, as Llama 2 uses)");
  }
  v.index();
  const auto n = static_cast<int64_t>(v.tokens.size());
  v.unk = unk >= 0 && unk < n ? static_cast<int32_t>(unk) : -1;
  v.bos = bos >= 0 && bos < n ? static_cast<int32_t>(bos) : -1;
  v.eos = eos >= 0 && eos < n ? static_cast<int32_t>(eos) : -1;
  v.add_bos = v.bos >= 0;
  auto tok = std::make_unique<SpmTokenizer>(std::move(v), add_dummy_prefix);
  tok->register_specials_from_types();
  return tok;
}

}  // namespace attnscope::detail
