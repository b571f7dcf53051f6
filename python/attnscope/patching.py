"""Exact activation patching sweeps (TransformerLens' ``transformer_lens.patching`` names and
layouts) and path patching (Wang et al. 2022, "Interpretability in the Wild", the IOI paper).

Activation patching, as TransformerLens: run the CORRUPTED prompt, overwrite one component with
its value on the CLEAN prompt, return ``metric(patched logits)``; one entry per component. The
prompts (text or token ids) must have the same number of tokens. The clean and corrupted runs
are made once; every patched run starts at the patched layer from the corrupted residual stream
and one layer's runs are the rows of one batch (equal to one full pass each, to float rounding).

Metrics: ``logit_diff(answer, wrong, pos=-1)``, ``logit(token)``, ``log_prob(token)`` (tokens as
text, exactly one token each, or ids), or any callable ``f(logits) -> float`` with logits a numpy
array [1, T, V] (TransformerLens' patching_metric gets [batch, pos, d_vocab]).
``normalize=True`` gives TransformerLens' (patched - corrupted) / (clean - corrupted).

Layouts: ``get_act_patch_resid_pre`` / ``_resid_mid`` / ``_attn_out`` / ``_mlp_out`` [n_layers, pos];
``_attn_head_out_by_pos`` and the q/k/v ``_by_pos`` [n_layers, pos, n_heads];
``_attn_head_out_all_pos`` and q/k/v/pattern ``_all_pos`` [n_layers, n_heads];
``_attn_head_pattern_by_pos`` [n_layers, n_heads, dest_pos]; ``_attn_head_pattern_dest_src_pos``
[n_layers, n_heads, dest_pos, src_pos]; ``_block_every`` [3, n_layers, pos];
``_attn_head_all_pos_every`` [5, n_layers, n_heads]; ``_attn_head_by_pos_every``
[5, n_layers, pos, n_heads]. Under grouped-query attention the k and v sweeps index key/value
heads. ``sweep(...)`` returns a PatchingResult with the axes' names and ``to_frame()`` (pandas).

Path patching: ``path_patch(model, clean, corrupted, senders, receivers, metric,
receiver_inputs="q")``: the senders' corrupted outputs, with every other head frozen to its clean
output, reach only the receivers' q / k / v inputs (or the logits when ``receivers`` is empty);
returns the metric of that run on the clean prompt (``normalize=True``: (patched - clean) /
(clean - corrupted)). ``path_patch_sweep`` tries every head as the sender: [n_layers, n_heads].
"""

from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._native import core

__all__ = [
    "Metric", "logit_diff", "logit", "log_prob", "PatchingResult", "sweep", "sweep_names", "path_patch",
    "path_patch_sweep",
]


class Metric:
    """A built-in patching metric: kind in logit_diff / logit / log_prob, tokens as text or ids."""

    def __init__(self, kind: str, answer, wrong=None, pos: int = -1):
        self.kind, self.answer, self.wrong, self.pos = kind, answer, wrong, pos

    def __repr__(self):
        return f"Metric({self.kind!r}, {self.answer!r}, {self.wrong!r}, pos={self.pos})"


def logit_diff(answer, wrong, pos: int = -1) -> Metric:
    return Metric("logit_diff", answer, wrong, pos)


def logit(token, pos: int = -1) -> Metric:
    return Metric("logit", token, None, pos)


def log_prob(token, pos: int = -1) -> Metric:
    return Metric("log_prob", token, None, pos)


def _core_model(model):
    return model._core if hasattr(model, "_core") else model


def _ids(model, inputs) -> List[int]:
    if isinstance(inputs, str):
        return list(_core_model(model).encode(inputs, True))
    return [int(t) for t in np.asarray(inputs).reshape(-1)]


def _token(model, t) -> int:
    if t is None:
        return -1
    if isinstance(t, str):
        return int(_core_model(model).to_single_token(t))
    return int(t)


def _metric_args(model, metric):
    if isinstance(metric, Metric):
        return (metric.kind, _token(model, metric.answer), _token(model, metric.wrong), int(metric.pos), None)
    if callable(metric):
        return ("custom", -1, -1, -1, metric)
    raise TypeError("metric must be patching.logit_diff/logit/log_prob(...) or a callable on the logits")


class PatchingResult:
    """One sweep: ``values`` (numpy, the layout above), ``axes`` (names of its dimensions),
    ``components`` (the stacked sweeps of the *_every forms), the unpatched metrics."""

    def __init__(self, d: dict):
        self.sweep = d["sweep"]
        self.values = np.asarray(d["values"])
        self.axes = list(d["axes"])
        self.components = list(d["components"])
        self.clean_metric = float(d["clean_metric"])
        self.corrupted_metric = float(d["corrupted_metric"])
        self.normalized = bool(d["normalized"])
        self.forward_passes = int(d["forward_passes"])
        self.patched_runs = int(d["patched_runs"])

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def to_frame(self):
        """A long pandas DataFrame: one row per entry, a column per axis, then ``value``."""
        import pandas as pd

        idx = np.indices(self.values.shape).reshape(self.values.ndim, -1)
        cols = {}
        for name, col in zip(self.axes, idx):
            cols[name] = [self.components[i] for i in col] if name == "component" else col
        cols["value"] = self.values.reshape(-1)
        return pd.DataFrame(cols)


def sweep_names() -> List[str]:
    return list(core.patching_sweep_names())


def sweep(model, clean, corrupted, metric, sweep: str = "attn_head_out_all_pos", normalize: bool = False,
          max_batch: int = 16) -> PatchingResult:
    """Runs one sweep by name (TransformerLens' function name with or without ``get_act_patch_``,
    or the CLI's ``heads``, ``heads-by-pos``, ``resid``, ``attn-out``, ``mlp-out``, ``pattern``)."""
    kind, answer, wrong, pos, fn = _metric_args(model, metric)
    d = core.patching_sweep(_core_model(model), sweep, _ids(model, clean), _ids(model, corrupted), kind, answer,
                            wrong, pos, fn, bool(normalize), int(max_batch))
    return PatchingResult(d)


def _tl(name):
    def fn(model, corrupted_tokens, clean, patching_metric, normalize: bool = False, max_batch: int = 16):
        return sweep(model, clean, corrupted_tokens, patching_metric, name, normalize, max_batch).values

    fn.__name__ = "get_act_patch_" + name
    fn.__doc__ = (f"TransformerLens' get_act_patch_{name}(model, corrupted_tokens, clean, patching_metric): "
                  "numpy array in its layout (module docstring). `clean` is the clean prompt (text or ids).")
    return fn


for _name in core.patching_sweep_names():
    globals()["get_act_patch_" + _name] = _tl(_name)
    __all__.append("get_act_patch_" + _name)
del _name


Head = Tuple[int, int]


def _heads(hs) -> List[Tuple[int, int]]:
    return [(int(l), int(h)) for l, h in hs]


def path_patch(model, clean, corrupted, senders: Sequence[Head], receivers: Sequence[Head], metric,
               receiver_inputs: str = "q", normalize: bool = False) -> float:
    kind, answer, wrong, pos, fn = _metric_args(model, metric)
    return float(core.path_patch(_core_model(model), _ids(model, clean), _ids(model, corrupted), _heads(senders),
                                 _heads(receivers), kind, answer, wrong, pos, fn, receiver_inputs, bool(normalize),
                                 False))


def path_patch_sweep(model, clean, corrupted, receivers: Sequence[Head], metric, receiver_inputs: str = "q",
                     normalize: bool = False) -> np.ndarray:
    kind, answer, wrong, pos, fn = _metric_args(model, metric)
    return np.asarray(core.path_patch(_core_model(model), _ids(model, clean), _ids(model, corrupted), [],
                                      _heads(receivers), kind, answer, wrong, pos, fn, receiver_inputs,
                                      bool(normalize), True))
