"""Attention at long context: head statistics in linear memory, chosen pattern rows, and long-context head types.

The Python face of ``attnscope sinks``, ``attnscope retrieval`` and ``attnscope induction --lengths``
(C++ include/attnscope/long_context.h)::

    from attnscope import InterpretableModel, long_context
    model = InterpretableModel("attnscope:toy")
    sinks = long_context.attention_sinks(model, lengths=[64, 128, 256])   # random tokens
    sinks.mean_mass            # numpy [n_layers, n_heads]: mean attention on the first token(s)
    sinks.rate                 # share of heads above epsilon (Gu et al. 2024's sink rate)
    sinks.to_dataframe()       # length, layer, head, mass, sink
    ret = long_context.retrieval_heads(model, lengths=[128, 480], depths=[0, 0.5, 1])
    ret.score                  # numpy [n_layers, n_heads]; ret.heads: [(layer, head, score)] above 0.1
    ind = long_context.induction_by_length(model, lengths=[16, 64, 200])
    ind.score                  # numpy [n_lengths, n_layers, n_heads]

Every head's statistics and chosen attention rows at any length, without a [T, T] pattern
(C++ head_stats.h, pattern_rows.h; ``attnscope stats``)::

    stats = long_context.head_statistics(model, open("book.txt").read(), chunk=2048)
    stats.table("sink_mass")                 # ndarray [n_layer, n_head]
    stats.to_frame()                         # one row per head, one column per statistic
    rows = long_context.pattern_rows(model, text, last=1, top_k=16)
    values, keys = rows[5]["values"], rows[5]["indices"]   # [batch, heads, rows, 16]

Text sources of the head types: ``text`` (a string) gives the tokens (no BOS; BOS is added); without it, random
tokens. Layers not measured are NaN.
"""

import json
import os
from typing import Dict, List, Optional, Sequence, Union

from ._native import core

__all__ = ["attention_sinks", "retrieval_heads", "induction_by_length", "SinkResult", "RetrievalResult",
           "LongInductionResult", "head_statistics", "pattern_rows", "HeadStatistics", "STATISTICS"]


def _core_model(model):
    inner = getattr(model, "_core", None)  # InterpretableModel
    return inner if inner is not None else model


def _tokens(model, text: Optional[str]) -> List[int]:
    return [] if not text else list(model.encode(text, False))


class _Result:
    def __init__(self, native):
        self._native = native
        self.data = json.loads(native.to_json())

    def table(self) -> str:
        return self._native.table()

    def to_csv(self, path=None) -> str:
        text = self._native.to_csv()
        if path is not None:
            with open(os.fspath(path), "w", encoding="utf-8") as f:
                f.write(text)
        return text

    def to_frame(self):
        """The CSV rows as a pandas DataFrame."""
        import io

        import pandas as pd

        return pd.read_csv(io.StringIO(self._native.to_csv()))

    def save_figure(self, path, *args):
        self._native.save_figure(os.fspath(path), *args)

    def __str__(self):
        return self.table()


class SinkResult(_Result):
    """``mass`` [n_lengths, L, H], ``mean_mass`` [L, H], ``rate``, ``rate_by_length``, ``lengths``."""

    lengths = property(lambda self: self._native.lengths)
    layers = property(lambda self: self._native.layers)
    mass = property(lambda self: self._native.mass)
    mean_mass = property(lambda self: self._native.mean_mass)
    rate = property(lambda self: self._native.rate)
    rate_by_length = property(lambda self: self._native.rate_by_length)
    layer_rate_by_length = property(lambda self: self._native.layer_rate_by_length)

    def save_length_figure(self, path):
        self._native.save_length_figure(os.fspath(path))


class RetrievalResult(_Result):
    """``score`` [L, H] (mean over trials), ``heads`` above the threshold, ``trials``, ``accuracy``."""

    score = property(lambda self: self._native.score)
    heads = property(lambda self: self._native.heads)
    trials = property(lambda self: self._native.trials)
    accuracy = property(lambda self: self._native.accuracy)
    needle = property(lambda self: self._native.needle)


class LongInductionResult(_Result):
    """``score`` [n_lengths, L, H] induction score per repeat distance."""

    lengths = property(lambda self: self._native.lengths)
    score = property(lambda self: self._native.score)


def attention_sinks(model, text: Optional[str] = None, lengths: Sequence[int] = (), sink_tokens: int = 1,
                    epsilon: float = 0.3, layers: Sequence[int] = (), seed: int = 42) -> SinkResult:
    """Mean attention on the first ``sink_tokens`` keys per head at each length (BOS included).

    Without ``text``, random tokens (``lengths`` then defaults to 64 and 128). Xiao et al. 2023;
    Gu et al. 2024 (sink rate: share of heads above ``epsilon``)."""
    m = _core_model(model)
    tokens = _tokens(m, text)
    lengths = list(lengths)
    if not tokens:
        lengths = lengths or [64, 128]
        tokens = core.random_content_tokens(m, max(lengths), seed)
    return SinkResult(core.attention_sinks(m, tokens, lengths, sink_tokens, epsilon, list(layers)))


def retrieval_heads(model, haystack: Optional[str] = None, lengths: Sequence[int] = (256,),
                    depths: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0), needle: Optional[str] = None,
                    needle_tokens: int = 16, question: Optional[str] = None, cue_tokens: int = 1,
                    generate: bool = False, threshold: float = 0.1, seed: int = 42,
                    layers: Sequence[int] = ()) -> RetrievalResult:
    """Retrieval scores (Wu et al. 2024) from needle-in-a-haystack copy tasks.

    The answer (the needle after its first ``cue_tokens``) is teacher-forced unless ``generate``.
    Without ``haystack`` the haystack is random tokens that avoid the needle's tokens."""
    m = _core_model(model)
    return RetrievalResult(core.retrieval_heads(m, _tokens(m, haystack), list(lengths), list(depths),
                                                _tokens(m, needle), needle_tokens, _tokens(m, question), cue_tokens,
                                                generate, threshold, seed, list(layers)))


def induction_by_length(model, lengths: Sequence[int] = (16, 64, 256), seed: int = 42, chance_corrected: bool = True,
                        exclude_bos: bool = False, distinct_tokens: bool = True,
                        layers: Sequence[int] = ()) -> LongInductionResult:
    """The random-repeat induction scan (BOS + n random tokens twice) at each repeat distance n."""
    return LongInductionResult(core.induction_by_length(_core_model(model), list(lengths), seed, distinct_tokens,
                                                        exclude_bos, chance_corrected, list(layers)))


# --- Head statistics and selective capture ---------------------------------------------------

STATISTICS = list(core.HeadStats.names())

Prompt = Union[str, Sequence[int]]


def _batch(model, prompts, add_bos: bool) -> List[List[int]]:
    core_model = _core_model(model)
    if isinstance(prompts, str) or (len(prompts) > 0 and isinstance(prompts[0], int)):
        prompts = [prompts]
    return [list(core_model.encode(p, add_bos)) if isinstance(p, str) else [int(t) for t in p] for p in prompts]


class HeadStatistics:
    """Per-head statistics (sums over query rows; ``merge`` adds another run's)."""

    def __init__(self, native, chance_corrected: bool):
        self._native = native
        self.chance_corrected = chance_corrected

    def table(self, name: str, chance_corrected: Optional[bool] = None):
        """``[n_layer, n_head]`` float32 array of one statistic (see ``STATISTICS``)."""
        cc = self.chance_corrected if chance_corrected is None else chance_corrected
        return self._native.table(name, cc)

    def rows(self, name: str, layer: int, head: int) -> int:
        """How many query rows the statistic of that head is the mean of."""
        return self._native.rows(name, layer, head)

    def distance_histogram(self, layer: int, head: int) -> List[float]:
        """Attention mass by distance: bin 0 is distance 0, bin k is [2^(k-1), 2^k)."""
        return list(self._native.distance_histogram(layer, head))

    def merge(self, other: "HeadStatistics") -> "HeadStatistics":
        self._native.merge(other._native)
        return self

    def to_frame(self):
        """A pandas DataFrame: one row per (layer, head), a column per statistic."""
        import pandas as pd
        n = self._native
        records = []
        for layer in range(n.n_layer):
            for head in range(n.n_head):
                rec = {"layer": layer, "head": head}
                for name in STATISTICS:
                    rec[name] = n.value(name, layer, head, self.chance_corrected)
                records.append(rec)
        return pd.DataFrame.from_records(records)

    def __repr__(self):
        kind = "chance-corrected" if self.chance_corrected else "raw"
        return f"HeadStatistics({self._native.n_layer} layers x {self._native.n_head} heads, {kind})"


def head_statistics(model, prompts: Union[Prompt, Sequence[Prompt]], *, chunk: int = 0, sink_tokens: int = 1,
                    local_window: int = 8, exclude_bos: bool = False, seq_len: Optional[int] = None,
                    chance_corrected: bool = True, add_bos: bool = True) -> HeadStatistics:
    """Every head's statistics over one or more prompts (texts or token ids), pooled over their rows.

    ``chunk`` prefills long prompts in chunks of that many tokens; ``seq_len`` scores induction on random
    repeats of that segment length instead of by tokens; target masses are chance-corrected by default.
    """
    native = core.head_statistics(_core_model(model), _batch(model, prompts, add_bos), exclude_bos, seq_len,
                                  sink_tokens, local_window, chunk)
    return HeadStatistics(native, chance_corrected)


def pattern_rows(model, prompts: Union[Prompt, Sequence[Prompt]], *, layers: Sequence[int] = (),
                 heads: Sequence[int] = (), rows: Sequence[int] = (), last: int = 0, every: int = 0,
                 key_begin: int = 0, key_end: int = 0, top_k: int = 0, chunk: int = 0,
                 add_bos: bool = True) -> Dict[int, dict]:
    """Chosen attention rows of equal-length prompts: ``{layer: {"values", "indices", "rows", "heads"}}``.

    ``values`` is ``[batch, heads, rows, keys]`` (the key window) or ``[batch, heads, rows, top_k]`` with
    ``indices`` the key positions (-1 where a row has fewer keys).
    """
    sel = core.PatternSelection()
    sel.layers, sel.heads, sel.rows = list(layers), list(heads), list(rows)
    sel.last, sel.every, sel.key_begin, sel.key_end, sel.top_k = last, every, key_begin, key_end, top_k
    out = core.capture_pattern_rows(_core_model(model), _batch(model, prompts, add_bos), sel, chunk)
    return {layer: {"values": v, "indices": i, "rows": list(r), "heads": list(h)} for layer, (v, i, r, h) in out.items()}
