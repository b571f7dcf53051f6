"""Long-context Python API: streamed head statistics and selective capture, checked in numpy
against the full patterns a trace captures (a second implementation of every statistic)."""

import numpy as np
import pytest

from attnscope import long_context
from attnscope.visualization import get_attention_patterns

TEXT = "Once upon a time there was a cat. The cat saw a dog. The dog saw the cat and ran."


def _patterns(model, text):
    with model.trace(text) as t:
        pass
    return get_attention_patterns(t)


def test_statistics_equal_numpy_on_captured_patterns(stories):
    stats = long_context.head_statistics(stories, TEXT, sink_tokens=2, local_window=4, chance_corrected=False)
    patterns = _patterns(stories, TEXT)
    for layer, p in patterns.items():
        a = p[0].astype(np.float64)  # [H, T, T]
        T = a.shape[-1]
        q = np.arange(T)[:, None]
        k = np.arange(T)[None, :]
        causal = k <= q
        entropy = -(np.where(a > 0, a * np.log(np.where(a > 0, a, 1)), 0)).sum(-1).mean(-1)
        distance = (a * (q - k) * causal).sum(-1).mean(-1)
        sink = a[..., :2].sum(-1).mean(-1)
        local = (a * (causal & (k > q - 4))).sum(-1).mean(-1)
        first = a[..., 0].mean(-1)
        np.testing.assert_allclose(stats.table("entropy")[layer], entropy, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.table("mean_distance")[layer], distance, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.table("sink_mass")[layer], sink, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.table("local_mass")[layer], local, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.table("first_token")[layer], first, rtol=1e-5, atol=1e-6)
    frame = stats.to_frame()
    assert list(frame.columns[:2]) == ["layer", "head"] and len(frame) == len(patterns) * a.shape[0]


def test_chunked_statistics_equal_one_pass(stories):
    one = long_context.head_statistics(stories, TEXT)
    chunked = long_context.head_statistics(stories, TEXT, chunk=5)
    for name in long_context.STATISTICS:
        np.testing.assert_allclose(chunked.table(name), one.table(name), rtol=1e-5, atol=1e-6)


def test_pattern_rows_are_the_full_patterns_entries(stories):
    patterns = _patterns(stories, TEXT)
    rows = long_context.pattern_rows(stories, TEXT, layers=[2], heads=[1, 3], last=1, top_k=3, chunk=7)
    got = rows[2]
    full = patterns[2][0][[1, 3], -1, :]  # [2 heads, T]
    want_idx = np.argsort(-full, axis=-1, kind="stable")[:, :3]
    np.testing.assert_allclose(got["values"][0, :, 0, :], np.take_along_axis(full, want_idx, -1), atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(full, got["indices"][0, :, 0, :].astype(np.int64), -1),
                               np.take_along_axis(full, want_idx, -1), atol=1e-6)
    assert got["rows"] == [full.shape[-1] - 1] and got["heads"] == [1, 3]


def test_bad_selection_is_one_clear_error(stories):
    with pytest.raises(Exception, match="no query row selected"):
        long_context.pattern_rows(stories, TEXT)
    with pytest.raises(Exception, match="no head statistic"):
        long_context.head_statistics(stories, TEXT).table("sinks")
