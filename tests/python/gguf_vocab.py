"""A GGUF file's token list read straight from its bytes (GGUF v2/v3 metadata layout), so tests
can name token ids without asking attnscope's own tokenizer."""

import struct

# Sizes of the fixed-width GGUF value types (u8, i8, u16, i16, u32, i32, f32, bool, -, -, u64, i64, f64).
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _string(data, at):
    (n,) = struct.unpack_from("<Q", data, at)
    return data[at + 8:at + 8 + n].decode("utf-8"), at + 8 + n


def _skip(data, at, vtype):
    if vtype in _FIXED:
        return at + _FIXED[vtype]
    if vtype == 8:
        return _string(data, at)[1]
    etype, count = struct.unpack_from("<IQ", data, at)
    at += 12
    for _ in range(count):
        at = _skip(data, at, etype)
    return at


def gguf_tokens(path):
    """tokenizer.ggml.tokens of the GGUF file at ``path``: the vocabulary entry of every id."""
    data = open(path, "rb").read()
    assert data[:4] == b"GGUF"
    _version, _n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    at = 24
    for _ in range(n_kv):
        key, at = _string(data, at)
        (vtype,) = struct.unpack_from("<I", data, at)
        at += 4
        if key == "tokenizer.ggml.tokens":
            etype, count = struct.unpack_from("<IQ", data, at)
            assert vtype == 9 and etype == 8
            at += 12
            tokens = []
            for _ in range(count):
                s, at = _string(data, at)
                tokens.append(s)
            return tokens
        at = _skip(data, at, vtype)
    raise KeyError("tokenizer.ggml.tokens")
