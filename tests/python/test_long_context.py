"""attnscope.long_context: sink mass equals a float64 numpy computation from the traced patterns,
retrieval scoring finds the toy's copying head L1H0 and nothing else (its DataFrame averages to the
score matrix), and induction by length equals the random-repeat scan."""

import numpy as np
import pytest

from attnscope import long_context
from attnscope._native import core
from attnscope.visualization import get_attention_patterns

from conftest import TOY_INDUCTION

TEXT = "Once upon a time, there was a cat. The cat sat on the mat and the dog sat too."


def test_sinks_equal_numpy_from_patterns(stories, tmp_path):
    res = long_context.attention_sinks(stories, TEXT, sink_tokens=2)
    with stories.trace(TEXT) as t:
        pass
    patterns = get_attention_patterns(t)
    n_layers, n_heads = res.mean_mass.shape
    assert res.mass.shape == (1, n_layers, n_heads)
    above = 0
    for layer, p in patterns.items():
        a = np.asarray(p[0], dtype=np.float64)  # [H, T, T]
        mass = a[:, :, :2].sum(axis=-1).mean(axis=-1)  # row 0 sees only key 0: the sum over 2 keys is its 1
        np.testing.assert_allclose(res.mean_mass[layer], mass, atol=1e-6)
        above += int((mass > res.data["epsilon"]).sum())
    assert res.rate == pytest.approx(above / (n_layers * n_heads))
    df = res.to_frame()
    assert list(df.columns) == ["length", "layer", "head", "mass", "sink"]
    assert len(df) == n_layers * n_heads
    res.save_figure(tmp_path / "sinks.png")
    res.save_length_figure(tmp_path / "rate.svg")
    assert (tmp_path / "sinks.png").stat().st_size > 0 and (tmp_path / "rate.svg").stat().st_size > 0


def test_retrieval_finds_the_toy_copy_head(toy):
    res = long_context.retrieval_heads(toy, lengths=[64, 300], depths=[0.0, 0.5, 1.0], seed=3)
    assert [(l, h) for l, h, _ in res.heads] == [TOY_INDUCTION]
    assert res.score.shape == (2, 4)
    others = np.delete(res.score.ravel(), TOY_INDUCTION[0] * 4 + TOY_INDUCTION[1])
    assert res.score[TOY_INDUCTION] > 0.9 and others.max() < 0.1
    assert res.accuracy > 0.9
    df = res.to_frame()
    assert len(df) == 6 * 8
    mean = df.groupby(["layer", "head"])["score"].mean()
    for (l, h), v in mean.items():
        assert v == pytest.approx(float(res.score[l, h]), abs=1e-6)


def test_retrieval_bad_depth_is_one_error(toy):
    with pytest.raises(Exception, match="depths"):
        long_context.retrieval_heads(toy, lengths=[64], depths=[2.0])


def test_induction_by_length_equals_the_scan(toy):
    res = long_context.induction_by_length(toy, lengths=[10, 100])
    assert res.score.shape == (2, 2, 4)
    for i, n in enumerate([10, 100]):
        scan = core.detect_induction_heads(toy._core, n_random_tokens=n, threshold=0.0)
        for layer, head, score, *_ in scan["all"]:
            assert res.score[i, layer, head] == pytest.approx(score, abs=1e-6)
