"""Attention pattern scores and head detectors.

Every score takes one head's pattern ``A`` of shape [q, k] (rows sum to 1, causal) and returns a
float in [0, 1]:

- ``previous_token_score``: mean of A[i, i-1] over i >= 1.
- ``first_token_score``: mean of column 0 (attention to BOS / the first token).
- ``current_token_score``: mean of the diagonal A[i, i].
- ``induction_score(A, seq_len)``: for a sequence repeated with period ``seq_len``, mean of
  A[i, i - seq_len + 1] (the token after the previous occurrence of token i) over the rows
  i >= seq_len - 1.
- ``duplicate_token_score(A, tokens)``: mean, over rows whose token occurred before, of the
  attention on those earlier occurrences.

``exclude_bos=True`` drops position 0 where it would dominate: row 0 and targets in column 0
(first_token_score keeps column 0 and drops row 0); ``chance_corrected=True`` reports
(s - u) / (1 - u), u being the same score of a uniform causal head of the same shape, so a head
that spreads attention evenly scores 0 whatever the length. The numbers come from the C++ core
(include/attnscope/analysis.h), so Python, C++ and the CLI agree.
"""

from __future__ import annotations

import warnings
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .._native import core

HEAD_TYPES = ("previous_token", "first_token", "current_token", "induction", "duplicate_token")


def _matrix(pattern) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(pattern, dtype=np.float32))
    if a.ndim != 2:
        raise ValueError(f"a head's pattern must be 2-D [q, k], got shape {a.shape}; take one head "
                         "with patterns[layer][batch, head]")
    return a


def previous_token_score(pattern, exclude_bos: bool = False, chance_corrected: bool = False) -> float:
    """Mean attention from each position to the one before it."""
    return core.previous_token_score(_matrix(pattern), exclude_bos, chance_corrected)


def first_token_score(pattern, exclude_bos: bool = False, chance_corrected: bool = False) -> float:
    """Mean attention to position 0 (BOS / the first token)."""
    return core.first_token_score(_matrix(pattern), exclude_bos, chance_corrected)


def current_token_score(pattern, exclude_bos: bool = False, chance_corrected: bool = False) -> float:
    """Mean attention of each position to itself."""
    return core.current_token_score(_matrix(pattern), exclude_bos, chance_corrected)


def induction_score(pattern, seq_len: Optional[int] = None, exclude_bos: bool = False,
                    chance_corrected: bool = False, tokens: Optional[Sequence[int]] = None) -> float:
    """Mean attention to the token after the previous occurrence of the current token.

    ``seq_len``: the period of a repeated random block (mean of A[p, p - seq_len + 1] over
    p >= seq_len - 1). ``tokens`` instead: any text, targets found from the tokens themselves.
    Without either, the pattern is taken as BOS + a block repeated twice: seq_len = q // 2.
    """
    a = _matrix(pattern)
    if tokens is not None:
        return core.induction_score_tokens(a, [int(t) for t in tokens], exclude_bos, chance_corrected)
    if seq_len is None:
        seq_len = a.shape[0] // 2
    return core.induction_score(a, int(seq_len), exclude_bos, chance_corrected)


def duplicate_token_score(pattern, tokens: Sequence[int], exclude_bos: bool = False,
                          chance_corrected: bool = False) -> float:
    """Attention from each repeated token to its earlier copies (mean over rows that have one)."""
    return core.duplicate_token_score(_matrix(pattern), [int(t) for t in tokens], exclude_bos,
                                      chance_corrected)


class HeadScore(NamedTuple):
    """One head's score: ``.layer``, ``.head``, ``.score``; unpacks as (layer, head, score)."""

    layer: int
    head: int
    score: float

    def __repr__(self):
        return f"HeadScore(L{self.layer}H{self.head}, score={self.score:.3f})"


class AttentionPatternDetector:
    """Scores one head on every built-in pattern and classifies it by thresholds (>=).

    The four thresholds keep the guide's defaults. Scores are chance-corrected by default, as in
    the C++ core, so a near-uniform head on a short prompt is not called first/current-token;
    ``chance_corrected=False`` gives the raw scores. ``weighting="value"`` makes
    ``detect_head_types`` score value-weighted attention (``attnscope.attribution``) instead of the
    attention weights.
    """

    def __init__(self, induction_threshold: float = 0.4, previous_token_threshold: float = 0.5,
                 first_token_threshold: float = 0.3, current_token_threshold: float = 0.3,
                 duplicate_token_threshold: float = 0.3, exclude_bos: bool = False,
                 chance_corrected: bool = True, weighting: str = "weight"):
        self._core = core.AttentionPatternDetector(
            float(induction_threshold), float(previous_token_threshold), float(first_token_threshold),
            float(current_token_threshold), float(duplicate_token_threshold))
        self._core.exclude_bos = bool(exclude_bos)
        self._core.chance_corrected = bool(chance_corrected)
        self._core.weighting = str(weighting)

    induction_threshold = property(lambda self: self._core.threshold("induction"))
    previous_token_threshold = property(lambda self: self._core.threshold("previous_token"))
    first_token_threshold = property(lambda self: self._core.threshold("first_token"))
    current_token_threshold = property(lambda self: self._core.threshold("current_token"))
    duplicate_token_threshold = property(lambda self: self._core.threshold("duplicate_token"))
    exclude_bos = property(lambda self: self._core.exclude_bos)
    chance_corrected = property(lambda self: self._core.chance_corrected)
    weighting = property(lambda self: self._core.weighting)

    def thresholds(self) -> Dict[str, float]:
        return {t: self._core.threshold(t) for t in HEAD_TYPES}

    def analyze_head(self, pattern, seq_len_for_induction: Optional[int] = None,
                     tokens: Optional[Sequence[int]] = None) -> Dict[str, float]:
        """All scores of one head; "induction" when ``seq_len_for_induction`` (or ``tokens`` with a
        repeat) is given, "duplicate_token" when ``tokens`` with a repeat are."""
        return dict(self._core.analyze_head(_matrix(pattern), seq_len_for_induction,
                                            None if tokens is None else [int(t) for t in tokens]))

    def classify_head(self, pattern, seq_len_for_induction: Optional[int] = None,
                      tokens: Optional[Sequence[int]] = None) -> List[str]:
        """Every type whose threshold the head reaches, or ["unknown"]."""
        return list(self._core.classify_head(_matrix(pattern), seq_len_for_induction,
                                             None if tokens is None else [int(t) for t in tokens]))

    def __repr__(self):
        t = self.thresholds()
        return ("AttentionPatternDetector(" + ", ".join(f"{k}={v:g}" for k, v in t.items())
                + f", chance_corrected={self.chance_corrected})")


def _patterns_of(model, inputs, layers):
    from .attention import get_attention_patterns

    _check_layers(model, layers)
    with model.trace(inputs, attention=True if layers is None else list(layers)) as trace:
        pass
    return trace, get_attention_patterns(trace, layers=layers)


def _check_layers(model, layers):
    if layers is None:
        return
    n = model.n_layers
    bad = [l for l in layers if not 0 <= int(l) < n]
    if bad:
        raise ValueError(f"layers {bad} do not exist: the model has layers 0..{n - 1}")


def _check_threshold(threshold):
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")


def _by_type(report) -> Dict[str, List[Tuple[int, int]]]:
    results: Dict[str, List[Tuple[int, int]]] = {t: [] for t in HEAD_TYPES}
    results["unknown"] = []
    results["non_finite"] = []  # heads whose pattern held NaN/inf: scored NaN, never typed
    for t, heads in report["by_type"].items():
        results[t] = [(int(l), int(h)) for l, h in heads]
    if results["non_finite"]:
        _warn_nan_heads(results["non_finite"])
    return results


def _warn_nan_heads(heads) -> None:
    from ..errors import NonFiniteAttentionWarning
    names = " ".join(f"L{l}H{h}" for l, h in heads)
    warnings.warn(f"{len(heads)} attention head(s) hold non-finite values (NaN/inf), scored NaN: {names}",
                  NonFiniteAttentionWarning, stacklevel=3)


def detect_head_types(model, text, threshold: Optional[float] = 0.4,
                      layers: Optional[Sequence[int]] = None,
                      detector: Optional[AttentionPatternDetector] = None) -> Dict[str, List[Tuple[int, int]]]:
    """One traced run of ``text`` (with BOS); every head of ``layers`` (default all) classified.

    Returns {head type: [(layer, head), ...]} for previous_token, first_token, current_token,
    induction and duplicate_token (scored when the text repeats tokens) and unknown.
    ``threshold`` applies to every type; ``threshold=None`` keeps the detector's per-type
    thresholds (``detector`` or the defaults).
    """
    if detector is None:
        if threshold is None:
            detector = AttentionPatternDetector()
        else:
            _check_threshold(threshold)
            t = float(threshold)
            detector = AttentionPatternDetector(t, t, t, t, t)
    _check_layers(model, layers)
    layer_list = [] if layers is None else [int(l) for l in layers]
    if isinstance(text, str):
        report = core.detect_head_types(model._core, text, detector._core, layer_list)
    else:
        trace, patterns = _patterns_of(model, text, layers)
        report = core.classify_heads(patterns, trace.tokens[0], detector._core)
    return _by_type(report)


def head_type_report(model, text, threshold: Optional[float] = None,
                     layers: Optional[Sequence[int]] = None, format: str = "table") -> str:
    """The head-type table of ``text`` as the CLI prints it ("table", "json" or "csv")."""
    if format not in ("table", "json", "csv"):
        raise ValueError(f"format must be 'table', 'json' or 'csv', got {format!r}")
    if threshold is None:
        detector = AttentionPatternDetector()
    else:
        _check_threshold(threshold)
        t = float(threshold)
        detector = AttentionPatternDetector(t, t, t, t, t)
    _check_layers(model, layers)
    report = core.detect_head_types(model._core, text, detector._core, [] if layers is None else list(layers))
    return report[format]


def detect_induction_heads(model, n_random_tokens: int = 50, n_repeats: int = 2,
                           threshold: float = 0.3, layers: Optional[Sequence[int]] = None,
                           seed: int = 42, n_seeds: int = 1, return_all: bool = False) -> List[HeadScore]:
    """Induction heads found on BOS + a random token block repeated ``n_repeats`` times.

    Returns the heads whose chance-corrected ``induction_score`` (period ``n_random_tokens``)
    reaches ``threshold`` as HeadScore(layer, head, score), highest first (``return_all``: every
    head). Deterministic for a ``seed``; ``n_seeds`` > 1 averages over seeds seed, seed+1, ...
    """
    _check_threshold(threshold)
    _check_layers(model, layers)
    scan = core.detect_induction_heads(model._core, int(n_random_tokens), int(n_repeats), float(threshold),
                                       int(seed), [] if layers is None else [int(l) for l in layers],
                                       int(n_seeds))
    nan_heads = [(int(r[0]), int(r[1])) for r in scan["all"] if r[2] is None or np.isnan(r[2])]
    if nan_heads:
        _warn_nan_heads(nan_heads)
    rows = scan["all"] if return_all else scan["heads"]
    return [HeadScore(int(r[0]), int(r[1]), float("nan") if r[2] is None else float(r[2])) for r in rows]


def find_attention_pattern(model, text, pattern_fn: Callable[[np.ndarray], float],
                           threshold: float = 0.5, layers: Optional[Sequence[int]] = None) -> List[HeadScore]:
    """Heads whose ``pattern_fn(A)`` (A: the head's [q, k] pattern) reaches ``threshold``.

    Returns HeadScore(layer, head, score), highest first; unpack as ``for layer, head, score in ...``.
    """
    if not callable(pattern_fn):
        raise TypeError("pattern_fn must be a callable taking a [q, k] array and returning a score")
    _, patterns = _patterns_of(model, text, layers)
    found = []
    for layer in sorted(patterns):
        attn = patterns[layer]
        for head in range(attn.shape[1]):
            s = float(pattern_fn(np.array(attn[0, head])))
            if s >= threshold:
                found.append(HeadScore(layer, head, s))
    found.sort(key=lambda h: (-h.score, h.layer, h.head))
    return found


class PatternRegistry:
    """Named custom detectors, all scored in one traced run (``detect_all``)."""

    def __init__(self):
        self.patterns: Dict[str, Tuple[Callable, float]] = {}

    def register_pattern(self, name: str, score_fn: Callable, threshold: float = 0.3) -> None:
        _check_threshold(threshold)
        self.patterns[name] = (score_fn, float(threshold))

    def detect_all(self, model, text, layers: Optional[Sequence[int]] = None) -> Dict[str, List[HeadScore]]:
        _, patterns = _patterns_of(model, text, layers)
        results: Dict[str, List[HeadScore]] = {name: [] for name in self.patterns}
        for layer in sorted(patterns):
            attn = patterns[layer]
            for head in range(attn.shape[1]):
                a = np.array(attn[0, head])
                for name, (fn, t) in self.patterns.items():
                    s = float(fn(a))
                    if s >= t:
                        results[name].append(HeadScore(layer, head, s))
        for name in results:
            results[name].sort(key=lambda h: (-h.score, h.layer, h.head))
        return results


def layer_attention_summary(patterns: Dict[int, np.ndarray], layer: int, batch: int = 0):
    """(mean over heads, max over heads) of one layer's pattern, each [q, k]."""
    mean, mx, _, _ = core.layer_attention_summary(np.asarray(patterns[layer], dtype=np.float32), int(layer),
                                                  int(batch))
    return mean, mx


def head_entropy(patterns: Dict[int, np.ndarray], layer: int, batch: int = 0,
                 normalized: bool = False) -> np.ndarray:
    """Mean row entropy of each head of a layer: [heads], in nats (``normalized``: divided by the
    uniform head's, so 1 is uniform and 0 one-hot)."""
    _, _, ent, norm = core.layer_attention_summary(np.asarray(patterns[layer], dtype=np.float32), int(layer),
                                                   int(batch))
    return np.asarray(norm if normalized else ent)


__all__ = [
    "head_type_report", "previous_token_score", "first_token_score", "current_token_score", "induction_score",
    "duplicate_token_score", "HeadScore", "AttentionPatternDetector", "detect_head_types",
    "detect_induction_heads", "find_attention_pattern", "PatternRegistry",
    "layer_attention_summary", "head_entropy", "HEAD_TYPES",
]
