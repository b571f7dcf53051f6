"""Attention pattern scores and head detectors.

Every score takes one head's pattern ``A`` of shape [q, k] (rows sum to 1, causal) and returns a
float in [0, 1]:

- ``previous_token_score``: mean of A[i, i-1] over i >= 1.
- ``first_token_score``: mean of column 0 (attention to BOS / the first token).
- ``current_token_score``: mean of the diagonal A[i, i].
- ``induction_score(A, seq_len)``: for a sequence repeated with period ``seq_len``, mean of
  A[i, i - seq_len + 1] (the token after the previous occurrence of token i) over the rows
  i >= seq_len.
- ``duplicate_token_score(A, tokens)``: mean, over rows whose token occurred before, of the
  attention on those earlier occurrences.

``exclude_bos=True`` drops row and column 0 (where a BOS sink would dominate) before scoring;
``chance_corrected=True`` reports (s - u) / (1 - u), u being the same score of a uniform causal
head of the same length, so a head that spreads attention evenly scores 0 whatever the length.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

HEAD_TYPES = ("previous_token", "first_token", "current_token", "induction")


def _matrix(pattern) -> np.ndarray:
    a = np.asarray(pattern, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"a head's pattern must be 2-D [q, k], got shape {a.shape}; take one head "
                         "with patterns[layer][batch, head]")
    return a


def _uniform(q: int, k: int) -> np.ndarray:
    """The uniform causal head: query i spreads 1/(i+1) over keys 0..i (queries are the last q)."""
    offset = k - q
    u = np.zeros((q, k))
    for i in range(q):
        u[i, : offset + i + 1] = 1.0 / (offset + i + 1)
    return u


def _corrected(score_fn, a: np.ndarray, exclude_bos: bool, chance_corrected: bool, **kw) -> float:
    raw = score_fn(a[1:, 1:] if exclude_bos else a, **kw)
    if not chance_corrected:
        return raw
    u = _uniform(*a.shape)
    base = score_fn(u[1:, 1:] if exclude_bos else u, **kw)
    if base >= 1.0:
        return 0.0
    return float((raw - base) / (1.0 - base))


def _prev(a: np.ndarray) -> float:
    n = min(a.shape)
    if n < 2:
        return 0.0
    return float(np.mean([a[i, i - 1] for i in range(1, n)]))


def _first(a: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    return float(np.mean(a[:, 0]))


def _current(a: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    return float(np.mean(np.diag(a)))


def _induction(a: np.ndarray, seq_len: int) -> float:
    n = a.shape[0]
    vals = [a[i, i - seq_len + 1] for i in range(seq_len, n) if 0 <= i - seq_len + 1 < a.shape[1]]
    return float(np.mean(vals)) if vals else 0.0


def previous_token_score(pattern, exclude_bos: bool = False, chance_corrected: bool = False) -> float:
    """Mean attention from each position to the one before it."""
    return _corrected(_prev, _matrix(pattern), exclude_bos, chance_corrected)


def first_token_score(pattern, exclude_bos: bool = False, chance_corrected: bool = False) -> float:
    """Mean attention to position 0 (with ``exclude_bos``: to position 1, the first real token)."""
    return _corrected(_first, _matrix(pattern), exclude_bos, chance_corrected)


def current_token_score(pattern, exclude_bos: bool = False, chance_corrected: bool = False) -> float:
    """Mean attention of each position to itself."""
    return _corrected(_current, _matrix(pattern), exclude_bos, chance_corrected)


def induction_score(pattern, seq_len: Optional[int] = None, exclude_bos: bool = False,
                    chance_corrected: bool = False) -> float:
    """Mean attention to the token after the previous occurrence, for period ``seq_len``.

    Without ``seq_len`` the pattern is taken to be a sequence repeated twice (after an optional
    BOS): seq_len = q // 2.
    """
    a = _matrix(pattern)
    if seq_len is None:
        seq_len = a.shape[0] // 2
    seq_len = int(seq_len)
    if seq_len < 1:
        raise ValueError(f"induction_score: seq_len must be >= 1, got {seq_len}")
    return _corrected(_induction, a, exclude_bos, chance_corrected, seq_len=seq_len)


def duplicate_token_score(pattern, tokens: Sequence[int], exclude_bos: bool = False) -> float:
    """Attention from each repeated token to its earlier copies (mean over rows that have one)."""
    a = _matrix(pattern)
    toks = list(tokens)
    if len(toks) != a.shape[0]:
        raise ValueError(f"duplicate_token_score: {len(toks)} tokens for a pattern of {a.shape[0]} rows")
    start = 1 if exclude_bos else 0
    vals = []
    for i in range(start, len(toks)):
        earlier = [j for j in range(start, i) if toks[j] == toks[i]]
        if earlier:
            vals.append(float(a[i, earlier].sum()))
    return float(np.mean(vals)) if vals else 0.0


class HeadScore(NamedTuple):
    """One head's score: ``.layer``, ``.head``, ``.score``; unpacks as (layer, head, score)."""

    layer: int
    head: int
    score: float

    def __repr__(self):
        return f"HeadScore(L{self.layer}H{self.head}, score={self.score:.3f})"


class AttentionPatternDetector:
    """Scores one head on every built-in pattern and classifies it by thresholds.

    A head belongs to a type when its score reaches the type's threshold (>=).
    """

    def __init__(self, induction_threshold: float = 0.4, previous_token_threshold: float = 0.5,
                 first_token_threshold: float = 0.3, current_token_threshold: float = 0.3,
                 exclude_bos: bool = False, chance_corrected: bool = False):
        for name, t in (("induction_threshold", induction_threshold),
                        ("previous_token_threshold", previous_token_threshold),
                        ("first_token_threshold", first_token_threshold),
                        ("current_token_threshold", current_token_threshold)):
            if not 0.0 <= float(t) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {t}")
        self.induction_threshold = float(induction_threshold)
        self.previous_token_threshold = float(previous_token_threshold)
        self.first_token_threshold = float(first_token_threshold)
        self.current_token_threshold = float(current_token_threshold)
        self.exclude_bos = exclude_bos
        self.chance_corrected = chance_corrected

    def thresholds(self) -> Dict[str, float]:
        return {"previous_token": self.previous_token_threshold,
                "first_token": self.first_token_threshold,
                "current_token": self.current_token_threshold,
                "induction": self.induction_threshold}

    def analyze_head(self, pattern, seq_len_for_induction: Optional[int] = None) -> Dict[str, float]:
        """All scores of one head; "induction" only when ``seq_len_for_induction`` is given."""
        kw = dict(exclude_bos=self.exclude_bos, chance_corrected=self.chance_corrected)
        scores = {"previous_token": previous_token_score(pattern, **kw),
                  "first_token": first_token_score(pattern, **kw),
                  "current_token": current_token_score(pattern, **kw)}
        if seq_len_for_induction is not None:
            scores["induction"] = induction_score(pattern, seq_len_for_induction, **kw)
        return scores

    def classify_head(self, pattern, seq_len_for_induction: Optional[int] = None) -> List[str]:
        """Every type whose threshold the head reaches, or ["unknown"]."""
        scores = self.analyze_head(pattern, seq_len_for_induction)
        limits = self.thresholds()
        types = [t for t in HEAD_TYPES if t in scores and scores[t] >= limits[t]]
        return types or ["unknown"]


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


def _repeat_period(tokens: Sequence[int]) -> Optional[int]:
    """The period p if the tokens after a BOS are one block repeated (p >= 2), else None."""
    body = list(tokens[1:])
    n = len(body)
    for p in range(2, n // 2 + 1):
        if all(body[i] == body[i - p] for i in range(p, n)):
            return p
    return None


def detect_head_types(model, text, threshold: float = 0.4, layers: Optional[Sequence[int]] = None,
                      detector: Optional[AttentionPatternDetector] = None) -> Dict[str, List[Tuple[int, int]]]:
    """One traced run of ``text``; every head of ``layers`` (default all) classified.

    Returns {head type: [(layer, head), ...]} with keys previous_token, first_token,
    current_token, induction (scored when the text repeats a block of tokens), duplicate_token
    (when a token repeats) and unknown. ``threshold`` applies to every type unless a
    ``detector`` with its own thresholds is given.
    """
    _check_threshold(threshold)
    detector = detector or AttentionPatternDetector(threshold, threshold, threshold, threshold)
    trace, patterns = _patterns_of(model, text, layers)
    tokens = trace.tokens[0]
    period = _repeat_period(tokens)
    has_dup = len(set(tokens)) < len(tokens)
    results: Dict[str, List[Tuple[int, int]]] = {t: [] for t in HEAD_TYPES}
    results["duplicate_token"] = []
    results["unknown"] = []
    for layer in sorted(patterns):
        attn = patterns[layer]
        for head in range(attn.shape[1]):
            a = attn[0, head]
            types = [t for t in detector.classify_head(a, period) if t != "unknown"]
            if has_dup and duplicate_token_score(a, tokens) >= threshold:
                types.append("duplicate_token")
            for t in types or ["unknown"]:
                results[t].append((layer, head))
    return results


def _random_repeated_tokens(model, n_random_tokens: int, n_repeats: int, seed: int) -> List[int]:
    """BOS + a random block of ordinary tokens repeated ``n_repeats`` times."""
    rng = np.random.default_rng(seed)
    vocab = model.vocab_size
    ordinary = [t for t in range(vocab) if model._core.token_type(t) == 1]  # TokenType::Normal
    if len(ordinary) < 2:
        raise ValueError("the model's vocabulary has too few ordinary tokens for a random sequence")
    block = rng.choice(ordinary, size=n_random_tokens, replace=len(ordinary) < n_random_tokens)
    ids = [int(t) for t in np.tile(block, n_repeats)]
    bos = model._core.bos_id
    return ([bos] if bos >= 0 else []) + ids


def detect_induction_heads(model, n_random_tokens: int = 50, n_repeats: int = 2,
                           threshold: float = 0.3, layers: Optional[Sequence[int]] = None,
                           seed: int = 42) -> List[HeadScore]:
    """Induction heads found on BOS + a random token block repeated ``n_repeats`` times.

    Returns the heads whose ``induction_score`` (period ``n_random_tokens``) reaches ``threshold``
    as HeadScore(layer, head, score), highest score first. Deterministic for a ``seed``.
    """
    _check_threshold(threshold)
    if n_random_tokens < 1 or n_repeats < 2:
        raise ValueError("detect_induction_heads needs n_random_tokens >= 1 and n_repeats >= 2")
    n_ctx = model.config.get("n_ctx", 0)
    total = n_random_tokens * n_repeats + 1
    if n_ctx and total > n_ctx:
        raise ValueError(f"{n_repeats} x {n_random_tokens} random tokens + BOS = {total} tokens "
                         f"exceed the model's context of {n_ctx}")
    ids = _random_repeated_tokens(model, int(n_random_tokens), int(n_repeats), int(seed))
    _, patterns = _patterns_of(model, ids, layers)
    found = []
    for layer in sorted(patterns):
        attn = patterns[layer]
        for head in range(attn.shape[1]):
            s = induction_score(attn[0, head], seq_len=n_random_tokens)
            if s >= threshold:
                found.append(HeadScore(layer, head, s))
    found.sort(key=lambda h: (-h.score, h.layer, h.head))
    return found


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
    attn = np.asarray(patterns[layer])[batch]
    return attn.mean(axis=0), attn.max(axis=0)


def head_entropy(patterns: Dict[int, np.ndarray], layer: int, batch: int = 0) -> np.ndarray:
    """Mean entropy (nats) of each head's attention rows: [heads]."""
    attn = np.asarray(patterns[layer], dtype=np.float64)[batch]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(attn > 0, -attn * np.log(attn), 0.0)
    return terms.sum(axis=-1).mean(axis=-1)


__all__ = [
    "previous_token_score", "first_token_score", "current_token_score", "induction_score",
    "duplicate_token_score", "HeadScore", "AttentionPatternDetector", "detect_head_types",
    "detect_induction_heads", "find_attention_pattern", "PatternRegistry",
    "layer_attention_summary", "head_entropy", "HEAD_TYPES",
]
