"""Scores, the detector, head-type and induction detection, custom patterns (Python side).

Scores are checked against formulas written here in numpy; detection against the toy model's
constructed heads; everything against the C++ core's own numbers.
"""

import numpy as np
import pytest

from attnscope import _core
from attnscope import visualization as viz
from attnscope.visualization import patterns as vp
from conftest import TOY_CURRENT, TOY_FIRST, TOY_INDUCTION, TOY_PREVIOUS


def _random_causal(n, rng):
    a = np.tril(rng.random((n, n))) + np.eye(n) * 1e-3
    return (a / a.sum(1, keepdims=True)).astype(np.float32)


def _uniform(n):
    return (np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]).astype(np.float32)


def np_prev(a):
    return float(np.mean([a[i, i - 1] for i in range(1, len(a))], dtype=np.float64))


def np_first(a):
    return float(np.mean(a[:, 0], dtype=np.float64))


def np_current(a):
    return float(np.mean(np.diag(a), dtype=np.float64))


def np_induction(a, n):
    d = n - 1
    return float(np.mean([a[p, p - d] for p in range(d, len(a))], dtype=np.float64))


@pytest.mark.parametrize("n", [2, 3, 6, 17, 40])
def test_scores_match_their_formulas(n):
    rng = np.random.default_rng(n)
    a = _random_causal(n, rng)
    assert viz.previous_token_score(a) == pytest.approx(np_prev(a), abs=1e-9)
    assert viz.first_token_score(a) == pytest.approx(np_first(a), abs=1e-9)
    assert viz.current_token_score(a) == pytest.approx(np_current(a), abs=1e-9)
    for period in range(1, n + 1):
        assert viz.induction_score(a, seq_len=period) == pytest.approx(np_induction(a, period), abs=1e-9)


@pytest.mark.parametrize("n", [2, 6, 33])
def test_uniform_heads_score_zero_when_chance_corrected(n):
    u = _uniform(n)
    harmonic = sum(1.0 / k for k in range(1, n + 1))
    assert viz.first_token_score(u) == pytest.approx(harmonic / n, abs=1e-6)
    for fn in (viz.previous_token_score, viz.first_token_score, viz.current_token_score):
        assert fn(u, chance_corrected=True) == pytest.approx(0.0, abs=1e-6)
    perfect_prev = np.eye(n, k=-1, dtype=np.float32)
    perfect_prev[0, 0] = 1
    assert viz.previous_token_score(perfect_prev) == pytest.approx(1.0)
    assert viz.previous_token_score(perfect_prev, chance_corrected=True) == pytest.approx(1.0)


def test_duplicate_and_token_induction_scores():
    tokens = [1, 5, 6, 7, 5, 6, 7]
    n = len(tokens)
    dup = np.zeros((n, n), np.float32)
    ind = np.zeros((n, n), np.float32)
    for p in range(n):
        earlier = [j for j in range(p) if tokens[j] == tokens[p]]
        dup[p, earlier[0] if earlier else p] = 1
        ind[p, earlier[0] + 1 if earlier else p] = 1
    assert viz.duplicate_token_score(dup, tokens) == pytest.approx(1.0)
    assert viz.induction_score(ind, tokens=tokens) == pytest.approx(1.0)
    assert viz.induction_score(ind, seq_len=3) > 0.5


def test_detector_thresholds_and_classification():
    d = viz.AttentionPatternDetector()
    assert (d.induction_threshold, d.previous_token_threshold, d.first_token_threshold,
            d.current_token_threshold) == (0.4, 0.5, 0.3, 0.3)
    n = 8
    sink = np.zeros((n, n), np.float32)
    sink[:, 0] = 1
    assert d.classify_head(sink) == ["first_token"]
    assert d.classify_head(_uniform(6)) == ["unknown"]  # chance-corrected by default
    raw = viz.AttentionPatternDetector(chance_corrected=False)
    assert "first_token" in raw.classify_head(_uniform(6))  # the known flaw of raw scores
    scores = d.analyze_head(sink, seq_len_for_induction=3)
    assert set(scores) >= {"previous_token", "first_token", "current_token", "induction"}
    with pytest.raises(ValueError):
        viz.AttentionPatternDetector(induction_threshold=1.5)
    with pytest.raises(ValueError):
        viz.previous_token_score(np.zeros((2, 3, 3)))


TEXTS = ["The quick brown fox jumps over the lazy dog", "Her name was Alex Hart. Tomorrow at lunch time Alex",
         "abcdefgh abcdefgh", "Once upon a time there was a little girl", "0123456789 the end",
         "hello hello hello world", "Mary had a little lamb, its fleece was white as snow",
         "colourless green ideas sleep furiously", "ZYXWVU tsrqpo", "a b c d e f g a b c d e f g"]


@pytest.mark.parametrize("text", TEXTS)
def test_toy_head_types_are_exactly_the_constructed_heads(toy, text):
    types = viz.detect_head_types(toy, text, threshold=None)
    assert types["previous_token"] == [TOY_PREVIOUS]
    assert types["first_token"] == [TOY_FIRST]
    # The induction head rests on its own position when a token has no earlier copy, so on some
    # texts it also passes as a current-token head; the constructed head is always found.
    assert TOY_CURRENT in types["current_token"]
    assert set(types["current_token"]) <= {TOY_CURRENT, TOY_INDUCTION}
    assert all(h[0] in (0, 1) for h in types["induction"])
    # The same numbers as the C++ report.
    report = _core.detect_head_types(toy._core, text, viz.AttentionPatternDetector()._core, [])
    assert {k: [tuple(x) for x in v] for k, v in report["by_type"].items()} == \
        {k: v for k, v in types.items() if v}


@pytest.mark.parametrize("seed", range(10))
def test_toy_induction_head_found_on_every_seed(toy, seed):
    heads = viz.detect_induction_heads(toy, n_random_tokens=25, n_repeats=2, threshold=0.3, seed=seed)
    assert [(h.layer, h.head) for h in heads] == [TOY_INDUCTION]
    assert heads[0].score > 0.8


def test_induction_scores_agree_with_scoring_the_trace(toy):
    n = 20
    heads = viz.detect_induction_heads(toy, n_random_tokens=n, threshold=0.0, seed=7, return_all=True)
    ids = _core.random_repeated_tokens(_core.random_token_pool(toy._core), toy._core.bos_id, n, 2, 7)
    with toy.trace(ids) as t:
        pass
    patterns = viz.get_attention_patterns(t)
    for h in heads:
        expect = viz.induction_score(patterns[h.layer][0, h.head], seq_len=n, chance_corrected=True)
        assert h.score == pytest.approx(expect, abs=1e-9)


def test_stories260k_scans_run(stories):
    types = viz.detect_head_types(stories, "Once upon a time there was a little girl named Lily.")
    assert sum(len(v) for v in types.values()) >= stories.n_layers * stories.n_heads
    heads = viz.detect_induction_heads(stories, n_random_tokens=50, threshold=0.3)
    assert all(0 <= h.layer < 5 and 0 <= h.head < 8 for h in heads)
    with pytest.raises(ValueError, match="context"):
        viz.detect_induction_heads(stories, n_random_tokens=5000)
    with pytest.raises(ValueError):
        viz.detect_head_types(stories, "hello", layers=[9])
    with pytest.raises(ValueError):
        viz.detect_induction_heads(stories, threshold=-0.1)


# --- custom patterns -----------------------------------------------------------------------------

def diag_mean(a):
    return float(np.mean(np.diag(np.asarray(a))))


def window_mean(a, w=3):
    a = np.asarray(a)
    vals = [a[i, j] for i in range(len(a)) for j in range(max(0, i - w), i + 1)]
    return float(np.mean(vals))


def sparsity(a, cut=0.1):
    a = np.asarray(a)
    return float(1.0 - np.mean(np.sum(a > cut, axis=1)) / a.shape[1])


def test_find_attention_pattern_matches_core_and_sorts(toy):
    text = "The quick brown fox jumps over the lazy dog"
    found = vp.find_attention_pattern(toy, text, pattern_fn=diag_mean, threshold=0.3)
    assert [(l, h) for l, h, _ in found] == [TOY_CURRENT]
    with toy.trace(text) as t:
        pass
    core = _core.find_attention_pattern(viz.get_attention_patterns(t), diag_mean, 0.3)
    assert [tuple(x) for x in core] == [tuple(x) for x in found]
    everything = vp.find_attention_pattern(toy, text, pattern_fn=sparsity, threshold=0.0)
    assert len(everything) == toy.n_layers * toy.n_heads
    assert [s.score for s in everything] == sorted((s.score for s in everything), reverse=True)


def test_pattern_registry_detects_all_in_one_pass(toy):
    reg = viz.PatternRegistry()
    reg.register_pattern("previous_token", viz.previous_token_score, threshold=0.5)
    reg.register_pattern("first_token", viz.first_token_score, threshold=0.3)
    reg.register_pattern("diagonal", diag_mean, threshold=0.3)
    reg.register_pattern("local_window", window_mean, threshold=0.4)
    results = reg.detect_all(toy, "The quick brown fox jumps over the lazy dog")
    assert [(m.layer, m.head) for m in results["previous_token"]] == [TOY_PREVIOUS]
    assert [(m.layer, m.head) for m in results["diagonal"]] == [TOY_CURRENT]
    assert TOY_FIRST in [(m.layer, m.head) for m in results["first_token"]]
    assert set(results) == {"previous_token", "first_token", "diagonal", "local_window"}
