"""Attention at long context: every head's statistics in linear memory, and the pattern rows you ask for.

The Python face of C++ ``head_statistics`` (include/attnscope/head_stats.h) and ``PatternRowCapture``
(include/attnscope/pattern_rows.h). Neither stores a ``[T, T]`` pattern: the forward pass computes
attention in row blocks and these read each block while it is in cache::

    from attnscope import InterpretableModel, long_context
    model = InterpretableModel("stories260K.gguf")
    stats = long_context.head_statistics(model, open("book.txt").read(), chunk=2048)
    stats.table("sink_mass")                 # ndarray [n_layer, n_head]
    stats.to_frame()                         # one row per head, one column per statistic
    rows = long_context.pattern_rows(model, text, last=1, top_k=16)
    values, keys = rows[5]["values"], rows[5]["indices"]   # [batch, heads, rows, 16]
"""

from typing import Dict, List, Optional, Sequence, Union

from ._native import core

__all__ = ["head_statistics", "pattern_rows", "HeadStatistics", "STATISTICS"]

STATISTICS = list(core.HeadStats.names())

Prompt = Union[str, Sequence[int]]


def _core_model(model):
    return model._core if hasattr(model, "_core") else model


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
