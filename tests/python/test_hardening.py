"""Issue 13 from Python: NaN attention is reported as such, strings are always valid UTF-8 with the
exact bytes available, double BOS warns, exception classes fit the error kind, and the forward
pass releases the GIL so threads can trace at once."""

import base64
import json
import random
import re
import threading
import warnings
import zlib

import numpy as np
import pytest

import attnscope
from attnscope.errors import NonFiniteAttentionWarning, TokenizationWarning
from attnscope.visualization import get_attention_patterns, interactive_attention


def _explorer_codes(html):
    """The explorer's stored codes (16-bit) and its config, decoded as explorer.js does."""
    cfg = json.loads(re.search(r'<script[^>]*id="attnscope-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    raw = zlib.decompress(base64.b64decode(cfg["data"]))
    assert cfg["bits"] == 16
    n = len(raw) // 2
    hi, lo = np.frombuffer(raw[:n], np.uint8), np.frombuffer(raw[n:], np.uint8)
    return cfg, (hi.astype(np.uint32) << 8) | lo


def test_one_nan_in_a_pattern_is_stored_as_nan_not_zero():
    p = np.tril(np.full((1, 1, 3, 3), 1 / 3, np.float32))
    p[0, 0, 2, 1] = np.nan
    html = str(interactive_attention({0: p}, ["a", "b", "c"]))  # an ExplorerHTML is the document
    cfg, codes = _explorer_codes(html)
    assert cfg["triangle"]
    # Triangle rows: [a], [a b], [a b c]; the NaN is row 2, key 1 -> index 1 + 2 + 1 = 4.
    assert codes[4] == 65535  # the non-finite code, never 0
    assert all(c < 65535 for i, c in enumerate(codes) if i != 4)


def test_nan_query_gives_nan_patterns_and_a_warning_naming_the_heads(toy):
    with toy.trace("abcab", interventions={"blocks.0.attn.hook_q": lambda q: q * np.nan}) as t:
        pass
    with pytest.warns(NonFiniteAttentionWarning, match="L0H0 L0H1 L0H2 L0H3"):
        pats = get_attention_patterns(t)
    assert np.isnan(pats[0]).all()
    assert np.isnan(t.output).all()  # softmax over NaN is NaN: the logits show it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with toy.trace("abcab") as clean:
            pass
        assert np.isfinite(get_attention_patterns(clean)[0]).all()


def test_decode_is_valid_utf8_and_decode_bytes_is_exact(stories):
    rng = random.Random(13)
    for _ in range(200):
        ids = [rng.randrange(3, stories.vocab_size) for _ in range(rng.randrange(1, 6))]
        raw = stories.decode_bytes(ids)
        assert isinstance(raw, bytes)
        # The reference is Python's own codec: U+FFFD per maximal ill-formed subpart.
        assert stories.decode(ids) == raw.decode("utf-8", "replace")
    e2 = [i for i in range(stories.vocab_size) if stories._core.token_text(i) == "<0xE2>"]
    assert len(e2) == 1  # the byte token of the euro sign's lead byte (E2 82 AC)
    assert stories.decode_bytes(e2) == b"\xe2"
    assert stories.decode(e2) == "\ufffd"


def test_generate_keeps_its_ids_whatever_the_bytes(toy):
    # Toy ids: byte b is 3 + b. After BOS x E2 y x, the induction head copies E2, y, x, E2, ...
    x, y, e2 = 3 + ord("x"), 3 + ord("y"), 3 + 0xE2
    g = toy.generate([1, x, e2, y, x], max_tokens=4, stop_at_eos=False, return_ids=True)
    assert g.new_ids[0] == e2
    assert toy.decode_bytes(g.new_ids).startswith(b"\xe2y")
    assert g.text == toy.decode_bytes(g.new_ids).decode("utf-8", "replace")
    assert toy.generate([1, x, e2, y, x], max_tokens=4, stop_at_eos=False) == g.text


def test_double_bos_warns_and_keeps_the_ids(stories):
    with pytest.warns(TokenizationWarning, match="BOS twice"):
        ids = stories.encode("<s>Once upon")
    assert ids[:2] == [1, 1]
    assert ids[1:] == stories.encode("<s>Once upon", add_bos=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stories.encode("Once upon")[:2] != [1, 1]


def test_exception_classes_fit_the_kind(tmp_path, toy):
    with pytest.raises(attnscope.NotFoundError) as err:
        attnscope.InterpretableModel(str(tmp_path / "absent.gguf"))
    assert isinstance(err.value, FileNotFoundError)
    junk = tmp_path / "truncated.gguf"  # a v3 header announcing 1 tensor and 1 key, then nothing
    junk.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + (1).to_bytes(8, "little") * 2)
    with pytest.raises(attnscope.MalformedFileError):
        attnscope.InterpretableModel(str(junk))
    with pytest.raises(attnscope.InvalidArgumentError) as bad_layer:
        toy.to_str_tokens([10 ** 6])
    assert isinstance(bad_layer.value, ValueError)


def test_threads_tracing_at_once_match_one_after_the_other(stories):
    texts = ["Once upon a time there was a little girl", "The cat sat on the mat and looked at the dog"] * 2

    def run(text):
        with stories.trace(text) as t:
            pass
        return t.output.copy(), {k: v.copy() for k, v in get_attention_patterns(t).items()}

    sequential = [run(t) for t in texts]
    results = [None] * len(texts)
    barrier = threading.Barrier(len(texts))

    def worker(i):
        barrier.wait()
        for _ in range(3):
            results[i] = run(texts[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(texts))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for (seq_out, seq_pat), (par_out, par_pat) in zip(sequential, results):
        np.testing.assert_array_equal(seq_out, par_out)
        for layer in seq_pat:
            np.testing.assert_array_equal(seq_pat[layer], par_pat[layer])
