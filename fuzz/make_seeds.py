#!/usr/bin/env python3
"""Writes the fuzz seed corpora under fuzz/corpus/<target>/ from ../shared/models, cut small.

Run from the repository root: /usr/bin/python3 fuzz/make_seeds.py [MODELS_DIR]
Every seed is a few kilobytes: small models are written here (a GGUF and a safetensors writer
of a few lines, independent of attnscope's own writers), vocabularies are cut to their first
entries, and the big real files contribute only their first bytes. Multi-file inputs (a
tokenizer.json with its tokenizer_config.json, vocab + merges) are joined with SPLIT.
"""
import json
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "models")
OUT = os.path.join(ROOT, "fuzz", "corpus")
SPLIT = b"\n--attnscope-fuzz-split--\n"  # keep in sync with fuzz/harness.h


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def model_path(*parts):
    return os.path.join(MODELS, *parts)


def read(*parts):
    with open(model_path(*parts), "rb") as f:
        return f.read()


# ---- GGUF (v3) ---------------------------------------------------------------------------------
U32, I32, F32, BOOL, STR, ARR, U64 = 4, 5, 6, 7, 8, 9, 10


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == U32: return struct.pack("<I", v)
    if t == I32: return struct.pack("<i", v)
    if t == F32: return struct.pack("<f", v)
    if t == BOOL: return struct.pack("<?", v)
    if t == STR: return gstr(v)
    if t == U64: return struct.pack("<Q", v)
    et, items = v
    return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)


def gguf(kv, tensors, q8_names=()):
    """kv: [(key, type, value)]; tensors: [(name, float32 array)] (row-major, ne reversed)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for k, t, v in kv:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    data, infos = b"", b""
    for name, a in tensors:
        a = np.ascontiguousarray(a, dtype=np.float32)
        if name in q8_names:  # Q8_0: blocks of 32 = f16 scale + 32 int8
            blocks = a.reshape(-1, 32)
            raw = b""
            for blk in blocks:
                d = float(np.abs(blk).max()) / 127 or 1.0
                raw += np.float16(d).tobytes() + np.round(blk / d).astype(np.int8).tobytes()
            ty = 8
        else:
            raw, ty = a.tobytes(), 0
        pad = (-len(data)) % 32
        data += b"\0" * pad
        infos += gstr(name) + struct.pack("<I", a.ndim) + b"".join(struct.pack("<Q", n) for n in a.shape[::-1])
        infos += struct.pack("<IQ", ty, len(data))
        data += raw
    out += infos
    out += b"\0" * ((-len(out)) % 32)
    return out + data


def rnd(*shape, seed=[0]):
    seed[0] += 1
    return np.random.default_rng(seed[0]).standard_normal(shape).astype(np.float32) * 0.3


def spm_vocab():
    toks = ["<unk>", "<s>", "</s>", "<0x0A>", "<0xC3>", "\u2581", "a", "b", "\u2581a", "ab", "\u00e9", "<|x|>"]
    types = [2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 4]
    return [("tokenizer.ggml.model", STR, "llama"), ("tokenizer.ggml.tokens", ARR, (STR, toks)),
            ("tokenizer.ggml.scores", ARR, (F32, [0.0] * 5 + [-1.0, -2.0, -3.0, -1.5, -2.5, -4.0, 0.0])),
            ("tokenizer.ggml.token_type", ARR, (I32, types)), ("tokenizer.ggml.bos_token_id", U32, 1),
            ("tokenizer.ggml.eos_token_id", U32, 2), ("tokenizer.ggml.add_bos_token", BOOL, True)], len(toks)


def bpe_vocab():
    toks = ["!", "a", "b", "\u0120", "\u0120a", "ab", "\u010a", "<|endoftext|>"]
    return [("tokenizer.ggml.model", STR, "gpt2"), ("tokenizer.ggml.pre", STR, "gpt-2"),
            ("tokenizer.ggml.tokens", ARR, (STR, toks)),
            ("tokenizer.ggml.token_type", ARR, (I32, [1] * 7 + [3])),
            ("tokenizer.ggml.merges", ARR, (STR, ["\u0120 a", "a b"])),
            ("tokenizer.ggml.bos_token_id", U32, 7), ("tokenizer.ggml.eos_token_id", U32, 7)], len(toks)


def llama_gguf(arch="llama", biases=False, q8=False, tied=False):
    E, H, KV, FF, L = (32 if q8 else 16), 2, 1, 32 if q8 else 16, 1  # Q8_0 rows hold whole blocks of 32
    hd = E // H
    vocab_kv, V = spm_vocab()
    a = arch + "."
    kv = [("general.architecture", STR, arch), ("general.name", STR, "tiny-" + arch),
          (a + "block_count", U32, L), (a + "context_length", U32, 64), (a + "embedding_length", U32, E),
          (a + "feed_forward_length", U32, FF), (a + "attention.head_count", U32, H),
          (a + "attention.head_count_kv", U32, KV), (a + "rope.freq_base", F32, 10000.0),
          (a + "attention.layer_norm_rms_epsilon", F32, 1e-5)] + vocab_kv
    t = [("token_embd.weight", rnd(V, E)), ("output_norm.weight", rnd(E))]
    if not tied:
        t.append(("output.weight", rnd(V, E)))
    for l in range(L):
        b = "blk.%d." % l
        t += [(b + "attn_norm.weight", rnd(E)), (b + "ffn_norm.weight", rnd(E)),
              (b + "attn_q.weight", rnd(E, E)), (b + "attn_k.weight", rnd(KV * hd, E)),
              (b + "attn_v.weight", rnd(KV * hd, E)), (b + "attn_output.weight", rnd(E, E)),
              (b + "ffn_gate.weight", rnd(FF, E)), (b + "ffn_up.weight", rnd(FF, E)),
              (b + "ffn_down.weight", rnd(E, FF))]
        if biases:
            t += [(b + "attn_q.bias", rnd(E)), (b + "attn_k.bias", rnd(KV * hd)), (b + "attn_v.bias", rnd(KV * hd))]
    q8_names = {"blk.0.attn_q.weight", "blk.0.ffn_up.weight"} if q8 else ()
    return gguf(kv, t, q8_names)


def gpt2_gguf():
    E, H, FF = 16, 2, 32
    vocab_kv, V = bpe_vocab()
    kv = [("general.architecture", STR, "gpt2"), ("gpt2.block_count", U32, 1), ("gpt2.context_length", U32, 16),
          ("gpt2.embedding_length", U32, E), ("gpt2.feed_forward_length", U32, FF),
          ("gpt2.attention.head_count", U32, H), ("gpt2.attention.layer_norm_epsilon", F32, 1e-5)] + vocab_kv
    b = "blk.0."
    t = [("token_embd.weight", rnd(V, E)), ("position_embd.weight", rnd(16, E)),
         ("output_norm.weight", rnd(E)), ("output_norm.bias", rnd(E)),
         (b + "attn_norm.weight", rnd(E)), (b + "attn_norm.bias", rnd(E)),
         (b + "attn_qkv.weight", rnd(3 * E, E)), (b + "attn_qkv.bias", rnd(3 * E)),
         (b + "attn_output.weight", rnd(E, E)), (b + "attn_output.bias", rnd(E)),
         (b + "ffn_norm.weight", rnd(E)), (b + "ffn_norm.bias", rnd(E)),
         (b + "ffn_up.weight", rnd(FF, E)), (b + "ffn_up.bias", rnd(FF)),
         (b + "ffn_down.weight", rnd(E, FF)), (b + "ffn_down.bias", rnd(E))]
    return gguf(kv, t)


# ---- safetensors -------------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, dtype, a in tensors:
        raw = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


# ---- SentencePiece protobuf: keep the first pieces and every other top-level field ----------------
def varint(buf, i):
    v, shift = 0, 0
    while True:
        b = buf[i]; i += 1
        v |= (b & 0x7F) << shift; shift += 7
        if b < 0x80:
            return v, i


def cut_spm(buf, keep):
    out, i, pieces = b"", 0, 0
    while i < len(buf):
        start = i
        key, i = varint(buf, i)
        wire = key & 7
        if wire == 2:
            n, i = varint(buf, i); i += n
        elif wire == 0:
            _, i = varint(buf, i)
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError("unexpected wire type")
        if key >> 3 == 1:
            pieces += 1
            if pieces > keep:
                continue
        out += buf[start:i]
    return out


def cut_tokenizer_json(tj, keep=300):
    j = json.loads(tj)
    m = j["model"]
    if isinstance(m.get("vocab"), dict):
        items = sorted(m["vocab"].items(), key=lambda kv: kv[1])[:keep]
        m["vocab"] = dict(items)
        if "merges" in m:
            ok = []
            for mg in m["merges"]:
                a, b = mg.split(" ", 1) if isinstance(mg, str) else mg
                if a in m["vocab"] and b in m["vocab"] and a + b in m["vocab"]:
                    ok.append(mg)
            m["merges"] = ok
    elif isinstance(m.get("vocab"), list):
        m["vocab"] = m["vocab"][:keep]
    j["added_tokens"] = j.get("added_tokens", [])[:8]
    return json.dumps(j, ensure_ascii=False)


def cut_config(cj):
    j = json.loads(cj)
    j.pop("chat_template", None)
    j["added_tokens_decoder"] = dict(list(j.get("added_tokens_decoder", {}).items())[:4])
    return json.dumps(j, ensure_ascii=False)


def cut_vocab_json(vj, keep=300):
    j = json.loads(vj)
    return json.dumps(dict(sorted(j.items(), key=lambda kv: kv[1])[:keep]), ensure_ascii=False)


def cut_merges(text, vocab_json, keep_lines=400):
    vocab = json.loads(vocab_json)
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            out.append(line)
            continue
        parts = line.split(" ")
        if len(parts) == 2 and parts[0] in vocab and parts[1] in vocab and parts[0] + parts[1] in vocab:
            out.append(line)
        if len(out) >= keep_lines:
            break
    return "\n".join(out) + "\n"


def main():
    # GGUF reader + Model::load
    put("gguf_model", "llama_tiny.gguf", llama_gguf())
    put("gguf_model", "llama_tiny_tied_q8.gguf", llama_gguf(q8=True, tied=True))
    put("gguf_model", "qwen2_tiny.gguf", llama_gguf("qwen2", biases=True))
    put("gguf_model", "gpt2_tiny.gguf", gpt2_gguf())
    put("gguf_model", "stories260K_head.gguf", read("stories260K.gguf")[:4096])

    # safetensors header + tensor table
    put("safetensors", "tiny_gpt2.safetensors", read("safetensors", "lm-buddy-tiny_gpt2-random", "model.safetensors"))
    put("safetensors", "dtypes.safetensors", safetensors([
        ("f32", "F32", rnd(2, 3)), ("f16", "F16", rnd(4).astype(np.float16)),
        ("bf16", "BF16", (rnd(4).view(np.uint32) >> 16).astype(np.uint16)),
        ("i32", "I32", np.arange(3, dtype=np.int32)), ("u8", "U8", np.arange(5, dtype=np.uint8))],
        {"format": "pt"}))
    put("safetensors", "stories_head.safetensors", read("safetensors", "stories260K-hf", "model.safetensors")[:2048])

    # config.json -> ModelConfig
    for d in ["stories260K-hf", "lm-buddy-tiny_gpt2-random"]:
        put("hf_config", d + ".json", read("safetensors", d, "config.json"))
    for d in sorted(os.listdir(model_path("arch"))):
        put("hf_config", d + ".json", read("arch", d, "config.json"))

    # tokenizer.json (+ tokenizer_config.json)
    for d in ["llama3", "qwen3"]:
        tj = cut_tokenizer_json(read("tokenizers", d, "tokenizer.json"))
        cfg = cut_config(read("tokenizers", d, "tokenizer_config.json"))
        put("tokenizer_json", d + ".json", tj.encode() + SPLIT + cfg.encode())
        put("tokenizer_json", d + "_alone.json", tj)

    # SentencePiece tokenizer.model
    put("sentencepiece_model", "llama2_cut.model", cut_spm(read("tokenizers", "llama2-spm", "tokenizer.model"), 300))

    # vocab.json + merges.txt and encoder.json + vocab.bpe
    enc = cut_vocab_json(read("tokenizers", "gpt2", "encoder.json"))
    put("bpe_files", "gpt2_cut", enc.encode() + SPLIT + cut_merges(read("tokenizers", "gpt2", "vocab.bpe").decode(), enc).encode())
    d = ("safetensors", "lm-buddy-tiny_gpt2-random")
    put("bpe_files", "tiny_gpt2", read(*d, "vocab.json") + SPLIT + read(*d, "merges.txt"))

    # explorer --patterns JSON
    put("patterns_json", "two_layers.json", json.dumps({
        "tokens": ["<s>", "a", "b"],
        "patterns": {"0": [[[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]],
                     "1": [[[[1, 0, 0], [1, 0, 0], [0, 1, 0]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]]]}}))
    put("patterns_json", "batched.json", json.dumps({"tokens": ["x"], "patterns": {"3": [[[[1.0]]]]}}))

    # encode with every tokenizer kind: text seeds (the llama.cpp vocab test inputs, cut)
    for name in ["ggml-vocab-llama-spm.gguf.inp", "ggml-vocab-qwen35.gguf.inp", "ggml-vocab-gemma-4.gguf.inp"]:
        put("tokenizer_encode", name, read("llama.cpp-vocab", name)[:1024])
    put("tokenizer_encode", "specials", "<s>Once upon<|begin_of_text|><|endoftext|> \u00e9\u00e8 \xff".encode("utf-8", "surrogateescape"))
    put("tokenizer_encode", "broken_utf8", b"ab\xe2\x82 \xc3(\xf0\x9f\x98 \x80\x80 end")


if __name__ == "__main__":
    main()
