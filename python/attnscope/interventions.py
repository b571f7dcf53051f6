"""Interventions: edits applied to values at hook points during a traced forward pass.

Used as ``model.trace(text, interventions={hook_name: edit})``::

    from attnscope import interventions as iv

    with model.trace(text, interventions={"model.model.layers.1.self_attn": iv.zero_out}):
        ablated = model.output.save()

Edits: ``zero_out`` (use it as is), ``scale(f)``, ``add_vector(v, coeff)``, ``clamp(lo, hi)``,
``noise(std, seed)``, ``replace_with(array, align)``, ``compose(e1, e2, ...)``, ``custom(fn)`` and any
plain callable ``f(array) -> array | None``. They run inside the C++ forward pass (the built-in
ones without the Python interpreter lock).

Head-level edits return a ready ``{hook: edit}`` dict to pass (or merge into) ``interventions=``:
``ablate_heads(layer, heads)`` (zero or mean ablation of query heads on ``hook_z``, exact under
grouped-query attention), ``set_head_pattern(layer, head, pattern)``,
``set_head_pattern_uniform(layer, head)``, ``patch_heads(layer, heads, source_trace)``,
``patch_hook(name, source_trace)``.

The head-ablation sweep ablates every head in turn and reports how one target token's logit and
probability change (the C++ ``head_ablation_sweep``, also ``attnscope ablate --sweep``)::

    sweep = iv.head_ablation_sweep(model, "abcdabc", target="d")
    sweep.delta_logit          # numpy [swept layers, heads]
    sweep.ranked()[:3]         # [(layer, head, delta_logit), ...], largest drop first
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from ._native import core


class Intervention:
    """An edit of a hook point's value. Call it on an array to apply it outside a trace."""

    def __init__(self, native_factory: Callable[[], object], description: str,
                 numpy_fn: Optional[Callable[[np.ndarray], np.ndarray]] = None):
        self._factory = native_factory
        self._numpy_fn = numpy_fn
        self.description = description

    def _core_object(self):
        return self._factory()

    def __call__(self, x):
        """Applies the edit to a copy of ``x`` (numpy), e.g. to check what it does."""
        if self._numpy_fn is not None:
            return self._numpy_fn(np.asarray(x, dtype=np.float32))
        raise NotImplementedError(f"{self.description} runs only inside a trace")

    def __repr__(self):
        return f"<attnscope intervention {self.description}>"


def _fmt(x: float) -> str:
    return f"{x:g}"


# Used without calling it, as in mlxterp: interventions={name: iv.zero_out}.
zero_out = Intervention(core.iv_zero_out, "zero_out", lambda x: np.zeros_like(x))


def scale(factor: float) -> Intervention:
    """Multiplies the value by ``factor``."""
    f = float(factor)
    return Intervention(lambda: core.iv_scale(f), f"scale({_fmt(f)})", lambda x: x * np.float32(f))


def add_vector(vector, coeff: float = 1.0) -> Intervention:
    """Adds ``coeff * vector`` (steering); ``vector`` matches the value's trailing dimensions."""
    v = np.ascontiguousarray(np.asarray(vector, dtype=np.float32))
    c = float(coeff)
    return Intervention(lambda: core.iv_add_vector(v, c), f"add_vector(coeff={_fmt(c)})",
                        lambda x: (x + np.float32(c) * v).astype(np.float32))


def clamp(lo: float, hi: float) -> Intervention:
    """Clamps every element into [lo, hi]."""
    lo, hi = float(lo), float(hi)
    if lo > hi:
        raise ValueError(f"clamp(lo={lo}, hi={hi}): lo must not exceed hi")
    return Intervention(lambda: core.iv_clamp(lo, hi), f"clamp({_fmt(lo)}, {_fmt(hi)})",
                        lambda x: np.clip(x, lo, hi))


def noise(std: float, seed: int = 0) -> Intervention:
    """Adds Gaussian noise N(0, std^2); reproducible for a seed, different per hook point."""
    s, sd = float(std), int(seed)
    if s < 0:
        raise ValueError(f"noise(std={s}): std must be >= 0")
    return Intervention(lambda: core.iv_noise(s, sd), f"noise({_fmt(s)}, seed={sd})")


def replace_with(value, align: str = "exact") -> Intervention:
    """Overwrites the value with ``value`` ([B, T, ...] or [T, ...]). ``align``: "exact", "start",
    or "end" (line up the last positions) when the position counts differ."""
    v = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
    if align not in ("exact", "start", "end"):
        raise ValueError(f"align must be 'exact', 'start' or 'end', not {align!r}")
    return Intervention(lambda: core.iv_replace_with(v, align), f"replace_with(align={align})")


def custom(fn: Callable, description: Optional[str] = None) -> Intervention:
    """A Python callable ``fn(array) -> array | None`` (or ``fn(array, ctx)``) as an edit."""
    from .model import _as_callable

    desc = description or getattr(fn, "__name__", "custom")
    adapted = _as_callable(fn, desc)
    return Intervention(lambda: adapted, desc, None)


def compose(*edits) -> Intervention:
    """Applies the edits in order (``compose(scale(2), clamp(-1, 1))``)."""
    if len(edits) == 1 and isinstance(edits[0], (list, tuple)):
        edits = tuple(edits[0])
    if not edits:
        raise ValueError("compose() needs at least one edit")
    parts = [e if isinstance(e, Intervention) else custom(e) for e in edits]

    def numpy_fn(x):
        for p in parts:
            x = p(x)
        return x

    has_numpy = all(p._numpy_fn is not None for p in parts)
    return Intervention(lambda: core.iv_compose([p._core_object() for p in parts]),
                        "compose(" + ", ".join(p.description for p in parts) + ")",
                        numpy_fn if has_numpy else None)


class _Bound(Intervention):
    """A head-level edit whose hook point is fixed by the C++ core."""

    def __init__(self, pair, description=None):
        target, native = pair
        super().__init__(lambda: native, description or native.description)
        self.target = target

    def as_dict(self) -> Dict[str, Intervention]:
        return {self.target: self}


def _heads(heads) -> List[int]:
    if isinstance(heads, (int, np.integer)):
        return [int(heads)]
    return [int(h) for h in heads]


def ablate_heads(layer: int, heads: Union[int, Iterable[int]], kind: str = "zero",
                 means=None) -> Dict[str, Intervention]:
    """Ablates query heads of ``layer`` on ``blocks.L.attn.hook_z`` (zero, or mean over the
    prompt / the given ``means`` [H, Dh]). Returns ``{hook: edit}`` for ``interventions=``."""
    if kind == "zero":
        return _Bound(core.iv_zero_ablate_heads(int(layer), _heads(heads))).as_dict()
    if kind == "mean":
        m = None if means is None else np.ascontiguousarray(np.asarray(means, dtype=np.float32))
        return _Bound(core.iv_mean_ablate_heads(int(layer), _heads(heads), m)).as_dict()
    raise ValueError(f"kind must be 'zero' or 'mean', not {kind!r}")


def zero_ablate_heads(layer: int, heads) -> Dict[str, Intervention]:
    return ablate_heads(layer, heads, "zero")


def mean_ablate_heads(layer: int, heads, means=None) -> Dict[str, Intervention]:
    return ablate_heads(layer, heads, "mean", means)


def set_head_pattern(layer: int, head: int, pattern) -> Dict[str, Intervention]:
    """Replaces one head's attention pattern ([q, k] or [B, q, k]) before it multiplies V."""
    p = np.ascontiguousarray(np.asarray(pattern, dtype=np.float32))
    return _Bound(core.iv_set_head_pattern(int(layer), int(head), p)).as_dict()


def set_head_pattern_uniform(layer: int, head: int) -> Dict[str, Intervention]:
    """Makes one head attend uniformly to every position it may see."""
    return _Bound(core.iv_set_head_pattern_uniform(int(layer), int(head))).as_dict()


def patch_heads(layer: int, heads, source, hook: str = "attn.hook_z") -> Dict[str, Intervention]:
    """Activation patching: the heads' outputs from ``source`` (a trace of a same-length prompt that
    captured ``blocks.L.<hook>``)."""
    return _Bound(core.iv_patch_heads(int(layer), _heads(heads), _core_trace(source), hook)).as_dict()


def patch_hook(target: str, source) -> Dict[str, Intervention]:
    """Overwrites a whole hook point with its value in ``source``."""
    return _Bound(core.iv_patch_hook(target, _core_trace(source))).as_dict()


class HeadAblationSweep:
    """What ``head_ablation_sweep`` found. Tables are numpy float32 arrays [len(layers), n_heads]
    whose row i is layer ``layers[i]`` (all layers unless the sweep was restricted)."""

    def __init__(self, result):
        self._result = result
        self.layers: List[int] = list(result.layers)
        self.n_layers, self.n_heads = result.n_layer, result.n_head
        self.target, self.target_str = result.target, result.target_str
        self.position = result.position
        self.kind = result.kind  # "zero" or "mean"
        self.clean_logit, self.clean_prob = result.clean_logit, result.clean_prob
        self.logit, self.prob = result.logit, result.prob  # of the target with the head ablated
        self.delta_logit, self.delta_prob = result.delta_logit, result.delta_prob  # ablated - clean
        self.forward_passes, self.seconds = result.forward_passes, result.seconds

    def at(self, layer: int, head: int) -> Dict[str, float]:
        """One head's numbers: logit, prob, delta_logit, delta_prob."""
        e = self._result.at(int(layer), int(head))
        return {"logit": e.logit, "prob": e.prob, "delta_logit": e.delta_logit, "delta_prob": e.delta_prob}

    def ranked(self) -> List[tuple]:
        """(layer, head, delta_logit) for every swept head, largest drop of the logit first."""
        return [(e.layer, e.head, e.delta_logit) for e in self._result.ranked()]

    def to_json(self) -> str:
        """The same JSON as ``attnscope ablate --sweep --json``."""
        return self._result.to_json()

    def to_csv(self) -> str:
        """layer,head,logit,prob,delta_logit,delta_prob, one row per head."""
        return self._result.to_csv()

    def __repr__(self):
        top = ", ".join(f"L{l}H{h} {d:+.3f}" for l, h, d in self.ranked()[:3])
        return (f"<HeadAblationSweep {self.kind} target={self.target_str or self.target!r} "
                f"position={self.position} clean_logit={self.clean_logit:.4f} top: {top}>")


def _core_model(model):
    from .model import InterpretableModel

    if isinstance(model, InterpretableModel):
        return model._core
    if isinstance(model, core.Model):
        return model
    raise TypeError("expected an InterpretableModel (or attnscope._core.Model)")


def head_ablation_sweep(model, prompt, target, position: int = -1, mean: bool = False,
                        layers: Optional[Iterable[int]] = None, add_bos: bool = True,
                        max_batch: int = 0, reuse_prefix: bool = True) -> HeadAblationSweep:
    """Ablates each query head in turn (zero, or ``mean=True``: its mean output over the prompt)
    on ``blocks.L.attn.hook_z`` and measures the change of ``target``'s logit and probability at
    ``position`` (default: the last).

    ``prompt`` is text (encoded with BOS unless ``add_bos=False``) or a list of token ids used as
    is. ``target`` is a token id or text that encodes to exactly one token (without BOS;
    ``model.to_single_token``, as ``attnscope ablate --target``): InvalidArgumentError (a
    ValueError) naming the tokens and the single-token candidates otherwise. ``layers`` restricts the sweep. Runs without the Python
    interpreter lock."""
    m = _core_model(model)
    if isinstance(prompt, str):
        ids = list(m.encode(prompt, bool(add_bos)))
    else:
        ids = [int(i) for i in np.asarray(prompt).reshape(-1)]
    if isinstance(target, str):
        target_id = int(m.to_single_token(target))
    elif isinstance(target, (int, np.integer)):
        target_id = int(target)
    else:
        raise TypeError(f"target must be a token id or text, not {type(target).__name__}")
    lay = [] if layers is None else _heads(layers)
    return HeadAblationSweep(core.head_ablation_sweep(m, ids, target_id, int(position), bool(mean), lay,
                                                      bool(reuse_prefix), int(max_batch)))


def _core_trace(trace):
    from .model import Trace

    if isinstance(trace, Trace):
        return trace._require_run()
    if isinstance(trace, core.Trace):
        return trace
    raise TypeError("expected a trace from model.trace(...)")


__all__ = [
    "Intervention", "zero_out", "scale", "add_vector", "clamp", "noise", "replace_with", "custom",
    "compose", "ablate_heads", "zero_ablate_heads", "mean_ablate_heads", "set_head_pattern",
    "set_head_pattern_uniform", "patch_heads", "patch_hook", "head_ablation_sweep", "HeadAblationSweep",
]
