"""InterpretableModel, traces, saved values, numpy arrays and errors."""

import threading

import numpy as np
import pytest

from attnscope import InterpretableModel, SavedValue
from attnscope import _core
from conftest import MODELS_DIR, STORIES


def test_load_kinds(toy, stories):
    assert toy.n_layers == 2 and toy.n_heads == 4
    assert stories.n_layers == 5 and stories.n_heads == 8 and stories.vocab_size == 512
    ckpt = MODELS_DIR / "safetensors" / "stories260K-hf"
    if ckpt.exists():
        # A checkpoint directory without tokenizer files: take the tokenizer from the GGUF.
        hf = InterpretableModel(str(ckpt), tokenizer=str(STORIES))
        text = "Once upon a time"
        with hf.trace(text) as t_hf:
            pass
        with stories.trace(text) as t_gguf:
            pass
        np.testing.assert_allclose(t_hf.output, t_gguf.output, atol=1e-4)


def test_dtype_is_chosen_and_reported(stories):
    assert stories.dtype == "float32"  # "auto" keeps a 1 MB model on the exact path
    fast = InterpretableModel(str(STORIES), dtype="bfloat16")
    assert fast.dtype == "bfloat16"
    text = "Once upon a time"
    with fast.trace(text) as t_fast:
        pass
    with stories.trace(text) as t_ref:
        pass
    # stories260K's weights are F32: they always take the exact product, whatever the dtype.
    np.testing.assert_array_equal(t_fast.output, t_ref.output)
    with pytest.raises(ValueError, match="dtype"):
        InterpretableModel(str(STORIES), dtype="float8")


@pytest.mark.parametrize("kind,exc,own", [
    ("InvalidArgument", ValueError, "InvalidArgumentError"), ("Format", ValueError, "MalformedFileError"),
    ("NotFound", FileNotFoundError, "NotFoundError"), ("Unsupported", NotImplementedError, "UnsupportedError"),
    ("Io", OSError, "AttnscopeIOError"), ("Network", ConnectionError, "NetworkError")])
def test_error_kinds_map_to_python_exceptions(kind, exc, own):
    import attnscope
    with pytest.raises(exc, match="what failed") as err:
        _core._raise_error(kind, "what failed")
    assert type(err.value) is getattr(attnscope, own)
    assert isinstance(err.value, attnscope.AttnscopeError)
    assert issubclass(NotImplementedError, RuntimeError)


def test_unknown_hook_name_is_an_invalid_argument_not_a_missing_file(toy):
    import attnscope
    with pytest.raises(attnscope.InvalidArgumentError, match="no_such_hook") as err:
        with toy.trace("hello", interventions={"blocks.0.attn.no_such_hook": lambda x: x}):
            pass
    assert not isinstance(err.value, FileNotFoundError)


def test_bad_inputs_raise_python_exceptions(toy, tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        InterpretableModel(str(tmp_path / "no_such_model.gguf"))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\xff" * 60)
    with pytest.raises((ValueError, NotImplementedError)):
        InterpretableModel(str(junk))
    with pytest.raises(ValueError):
        with toy.trace("hello", interventions={"blocks.7.hook_attn_out": lambda x: x}):
            pass
    with pytest.raises(ValueError, match="not a hook point"):
        with toy.trace("hello"):
            toy.hook("blocks.0.no_such_hook").save()
    with pytest.raises(ValueError):
        toy.token_to_str(10 ** 6)
    with pytest.raises(ValueError):
        with toy.trace([]):
            pass
    with pytest.raises(RuntimeError, match="inside a `with model.trace"):
        toy.output.save()


def test_saved_values_and_module_paths(toy):
    text = "abcabc"
    with toy.trace(text) as trace:
        logits = toy.output.save()
        attn_out = toy.model.layers[1].self_attn.output.save()
        resid = toy.model.model.layers[0].save()
        pattern = toy.blocks[1].attn.hook_pattern.save()
        z = toy.hook("blocks.1.attn.hook_z").save()
        assert isinstance(logits, SavedValue)
        with pytest.raises(RuntimeError, match="not available yet"):
            logits.shape
    n = len(toy.encode(text))
    c = toy.config
    assert logits.shape == (1, n, c["n_vocab"])
    assert attn_out.shape == (1, n, c["n_embd"])
    assert resid.shape == (1, n, c["n_embd"])
    assert pattern.shape == (1, c["n_head"], n, n)
    assert z.shape == (1, n, c["n_head"], c["head_dim"])
    # Aliases and canonical names read the same captured arrays.
    np.testing.assert_array_equal(trace["blocks.1.hook_attn_out"], attn_out.value)
    np.testing.assert_array_equal(trace["model.layers.0"], np.asarray(resid))
    np.testing.assert_array_equal(trace.output, logits.value)
    np.testing.assert_array_equal(pattern.value, trace.attention_patterns()[1])
    assert "blocks.1.attn.hook_z" in trace.activations
    assert set(trace.saved_values) == {"logits", "model.layers.1.self_attn", "model.model.layers.0",
                                       "blocks.1.attn.hook_pattern", "blocks.1.attn.hook_z"}
    assert float((logits - logits).max()) == 0.0


def test_hook_table_from_python(toy):
    # Python builds and parses hook names through the C++ table, not by hand.
    points = _core.HookPoint.__members__
    assert list(points)[:3] == ["hook_embed", "hook_pos_embed", "hook_resid_pre"]  # forward order
    for suffix, point in points.items():
        outside = suffix in ("hook_embed", "hook_pos_embed", "ln_final.hook_normalized", "logits")
        name = _core.hook_name(point) if outside else _core.hook_name(point, 2)
        assert name == (suffix if outside else "blocks.2." + suffix)
        assert _core.parse_hook_name(name) == (point, -1 if outside else 2)
    pattern = points["attn.hook_pattern"]
    assert _core.hook_glob(pattern) == "blocks.*.attn.hook_pattern"
    assert _core.parse_hook_name("model.layers.3.self_attn") is None  # an alias: canonicalise first
    with pytest.raises(ValueError):
        _core.hook_name(pattern)  # a block point needs its layer
    assert all(_core.parse_hook_name(n) is not None for n in toy.hook_names())


def test_arrays_are_views_of_the_trace(toy):
    with toy.trace("hello there") as trace:
        pass
    a = trace["blocks.0.attn.hook_pattern"]
    b = trace.attention_patterns()[0]
    assert np.shares_memory(a, b)  # no copy on the way out
    assert a.base is not None
    del trace
    assert np.isfinite(a).all() and a.shape[0] == 1  # still alive after the trace is gone


def test_token_ids_and_batches(toy):
    ids = toy.encode("hello world")
    with toy.trace("hello world") as t_text:
        pass
    with toy.trace(ids) as t_ids:
        pass
    with toy.trace(np.array([ids])) as t_np:
        pass
    np.testing.assert_array_equal(t_text.output, t_ids.output)
    np.testing.assert_array_equal(t_text.output, t_np.output)
    other = toy.encode("HELLO WORLD")
    with toy.trace([ids, other]) as batch:
        pass
    with toy.trace(other) as t_other:
        pass
    assert batch.output.shape[0] == 2
    np.testing.assert_allclose(batch.output[0], t_ids.output[0], atol=1e-5)
    np.testing.assert_allclose(batch.output[1], t_other.output[0], atol=1e-5)
    # Texts of different lengths run as one ragged batch (tests/python/test_ragged.py has more).
    with toy.trace(["short", "a much longer text"]) as ragged:
        pass
    assert ragged.attention_mask.sum(axis=1).tolist() == [len(toy.encode("short")), len(toy.encode("a much longer text"))]


def test_predictions(stories):
    with stories.trace("Once upon a time") as trace:
        resid = stories.model.layers[4].save()
    logits = trace.output
    top = stories.get_token_predictions(logits[0, -1], top_k=5)
    order = np.argsort(-logits[0, -1], kind="stable")[:5]
    assert top == [int(i) for i in order]
    scored = stories.get_token_predictions(logits[0, -1], top_k=2, return_scores=True)
    assert [s[0] for s in scored] == top[:2]
    assert scored[0][1] == pytest.approx(float(logits[0, -1, top[0]]))
    # A hidden state goes through the final norm and the output head: the last layer's residual
    # stream predicts what the logits predict.
    lens = stories.get_token_predictions(resid[0, -1, :], top_k=5)
    assert lens == top
    np.testing.assert_allclose(stories.unembed(resid[0]), logits[0], atol=1e-4)


def test_generation(stories):
    text = stories.generate("Once upon a time", max_tokens=8)
    assert isinstance(text, str) and len(text) > 0


def test_python_interventions_run_on_the_forward_thread(toy):
    calls = []

    def record(x, ctx):
        calls.append((ctx.name, ctx.layer, x.shape, threading.get_ident()))
        return x * 0.5

    with toy.trace("hello", interventions={"blocks.1.hook_attn_out": record}) as t:
        out = toy.model.layers[1].self_attn.output.save()
    with toy.trace("hello", capture=["blocks.1.hook_attn_out"]) as clean:
        pass
    assert [c[:2] for c in calls] == [("blocks.1.hook_attn_out", 1)]
    np.testing.assert_allclose(out.value, clean["blocks.1.hook_attn_out"] * 0.5, rtol=1e-6)

    def boom(x):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        with toy.trace("hello", interventions={"blocks.0.hook_attn_out": boom}):
            pass
    with pytest.raises(ValueError, match="shape"):
        with toy.trace("hello", interventions={"blocks.0.hook_attn_out": lambda x: x[:, :1]}):
            pass


def test_traces_in_threads_agree(stories):
    """Forward passes release the GIL: several threads trace at once and each gets its own result."""
    texts = ["Once upon a time", "The little dog ran", "She saw a big ball", "Tom was happy"]
    expected = {}
    for t in texts:
        with stories.trace(t) as tr:
            pass
        expected[t] = tr.output
    results = {}

    def work(t):
        with stories.trace(t) as tr:
            pass
        results[t] = tr.output

    threads = [threading.Thread(target=work, args=(t,)) for t in texts]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in texts:
        np.testing.assert_array_equal(results[t], expected[t])


def test_each_model_keeps_its_own_thread_count(stories):
    """Threads belong to the model (issue 22): set_num_threads is only the default for threads=0."""
    one = _core.Model.load(str(STORIES), "", 1)
    two = _core.Model.load(str(STORIES), "", 2)
    follows = _core.Model.load(str(STORIES), "", 0)
    _core.set_num_threads(1)
    try:
        assert (one.threads, two.threads, follows.threads) == (1, 2, 1)
    finally:
        _core.set_num_threads(0)
    assert (one.threads, two.threads) == (1, 2)
    assert follows.threads >= 1
