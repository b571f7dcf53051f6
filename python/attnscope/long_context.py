"""Long-context head types: attention sinks, retrieval heads, induction over long repeats.

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

Text sources: ``text`` (a string) gives the tokens (no BOS; BOS is added); without it, random
tokens. Layers not measured are NaN.
"""

import json
import os
from typing import List, Optional, Sequence

from ._native import core

__all__ = ["attention_sinks", "retrieval_heads", "induction_by_length", "SinkResult", "RetrievalResult",
           "LongInductionResult"]


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

    def to_dataframe(self):
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
