"""Attention patterns out of a trace, and the figures drawn from them."""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .config import AttentionVisualizationConfig

Patterns = Dict[int, np.ndarray]


def get_attention_patterns(trace, layers: Optional[Union[int, Sequence[int]]] = None) -> Patterns:
    """{layer: array [batch, heads, q, k]} for every layer the trace captured (or ``layers``).

    The arrays are the softmax buffers the forward pass multiplied with V (no copy). A requested
    layer the trace does not hold is left out with a warning.
    """
    if hasattr(trace, "attention_patterns"):
        all_patterns = dict(trace.attention_patterns())
    elif isinstance(trace, dict):
        all_patterns = _patterns_from_activations(trace)
    else:
        raise TypeError("get_attention_patterns takes a trace from model.trace(...)")
    if layers is None:
        out = {layer: all_patterns[layer] for layer in sorted(all_patterns)}
        warn_non_finite(out, stacklevel=3)
        return out
    if isinstance(layers, (int, np.integer)):
        layers = [int(layers)]
    out = {}
    missing = []
    for layer in layers:
        layer = int(layer)
        if layer in all_patterns:
            out[layer] = all_patterns[layer]
        else:
            missing.append(layer)
    if missing:
        have = sorted(all_patterns)
        warnings.warn(f"layers {missing} are not in the trace (it holds layers {have})", stacklevel=2)
    warn_non_finite(out, stacklevel=3)
    return out


def non_finite_heads(patterns: Patterns) -> List[Tuple[int, int]]:
    """(layer, head) of every head whose pattern holds NaN or inf, in any batch row."""
    bad = []
    for layer in sorted(patterns):
        a = np.asarray(patterns[layer])
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or np.isfinite(a).all():
            continue
        per_head = ~np.isfinite(a).all(axis=(0, 2, 3))
        bad += [(int(layer), int(h)) for h in np.nonzero(per_head)[0]]
    return bad


def warn_non_finite(patterns: Patterns, stacklevel: int = 2) -> None:
    """A NonFiniteAttentionWarning naming the heads whose patterns hold NaN/inf: such a pattern
    is not attention (its scores are NaN, its figures draw the cells blank)."""
    from ..errors import NonFiniteAttentionWarning
    bad = non_finite_heads(patterns)
    if bad:
        names = " ".join(f"L{l}H{h}" for l, h in bad)
        warnings.warn(f"{len(bad)} attention head(s) hold non-finite values (NaN/inf): {names}",
                      NonFiniteAttentionWarning, stacklevel=stacklevel)


def _patterns_from_activations(acts: dict) -> Patterns:
    from .._native import core
    pattern = core.HookPoint.__members__["attn.hook_pattern"]
    out = {}
    for name, value in acts.items():
        ref = core.parse_hook_name(str(name))
        if ref is not None and ref[0] == pattern:
            out[ref[1]] = np.asarray(value)
    return out


def _head_matrix(attention, head_idx: int, batch: int = 0) -> np.ndarray:
    a = np.asarray(attention)
    if a.ndim == 4:
        if not 0 <= head_idx < a.shape[1]:
            raise IndexError(f"head_idx {head_idx} out of range: the pattern has {a.shape[1]} heads")
        return a[batch, head_idx]
    if a.ndim == 3:
        if not 0 <= head_idx < a.shape[0]:
            raise IndexError(f"head_idx {head_idx} out of range: the pattern has {a.shape[0]} heads")
        return a[head_idx]
    if a.ndim == 2:
        return a
    raise ValueError(f"attention must be [batch, heads, q, k], [heads, q, k] or [q, k]; got {a.shape}")


def masked(matrix: np.ndarray, mask_upper_tri: bool) -> np.ndarray:
    """The matrix as float64 with future positions (key after query) set to NaN when asked."""
    m = np.array(matrix, dtype=np.float64)
    if mask_upper_tri:
        q, k = m.shape
        offset = k - q  # queries are the last q positions
        m[np.triu(np.ones((q, k), dtype=bool), k=offset + 1)] = np.nan
    return m


def resolve_backend(backend: Optional[str], config: AttentionVisualizationConfig) -> str:
    """The backend to use: explicit argument, then config; "auto" picks plotly, else matplotlib."""
    b = backend or config.backend
    if b == "circuitsvis":
        b = "interactive"
    if b == "auto":
        try:
            import plotly  # noqa: F401
            return "plotly"
        except ImportError:
            return "matplotlib"
    if b not in ("matplotlib", "plotly", "interactive"):
        raise ValueError(f"unknown backend {b!r}: use 'auto', 'matplotlib', 'plotly' or 'interactive'")
    return b


def head_label(layer: int, head: int, head_notation: str = "LH") -> str:
    """"L5H3" (head_notation "LH", also "standard") or "5.3" ("dot")."""
    if head_notation in ("LH", "standard"):
        return f"L{layer}H{head}"
    if head_notation == "dot":
        return f"{layer}.{head}"
    raise ValueError(f"head_notation must be 'LH' or 'dot', got {head_notation!r}")


def _check_tokens(tokens, n: int, what: str) -> List[str]:
    tokens = [str(t) for t in tokens]
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} token labels for {what} of {n} positions: use "
                         "model.to_str_tokens() on the text that was traced")
    return tokens


def attention_heatmap(attention, tokens: Sequence[str], head_idx: int = 0,
                      title: Optional[str] = None, backend: Optional[str] = None,
                      config: Optional[AttentionVisualizationConfig] = None, layer: Optional[int] = None,
                      batch: int = 0, ax=None):
    """One head's heatmap: query tokens down, key tokens across.

    ``attention``: [batch, heads, q, k] (as in ``patterns[layer]``), [heads, q, k] or [q, k].
    Returns a matplotlib Figure, a plotly Figure, or (backend "interactive") the explorer's HTML
    (a ``str`` that Jupyter displays).
    """
    config = config or AttentionVisualizationConfig()
    which = resolve_backend(backend, config)
    if which == "interactive":
        from .interactive import interactive_attention
        from .config import InteractiveAttentionConfig

        a = np.asarray(attention)
        a4 = a if a.ndim == 4 else a[None] if a.ndim == 3 else a[None, None]
        key = 0 if layer is None else int(layer)
        return interactive_attention({key: a4}, tokens, config=InteractiveAttentionConfig(
            title=title or "Attention", colorscale=config.colorscale))
    matrix = _head_matrix(attention, int(head_idx), batch)
    q, k = matrix.shape
    key_tokens = _check_tokens(tokens, k, "a pattern")
    query_tokens = key_tokens[k - q:]
    if title is None:
        title = f"Head {head_idx}" if layer is None else head_label(layer, head_idx)
    if not np.isfinite(matrix).all():  # drawn blank, like the masked cells: say why
        title += " (non-finite: NaN shown blank)"
        from ..errors import NonFiniteAttentionWarning
        warnings.warn(f"{title}: the pattern holds non-finite values", NonFiniteAttentionWarning, stacklevel=2)
    data = masked(matrix, config.mask_upper_tri)
    if which == "matplotlib":
        from ._matplotlib import heatmap_figure
        return heatmap_figure(data, query_tokens, key_tokens, title, config, ax=ax)
    from ._plotly import heatmap_figure
    return heatmap_figure(data, query_tokens, key_tokens, title, config)


def _head_list(patterns: Patterns, heads) -> List[Tuple[int, int]]:
    """(layer, head) pairs to draw: ``heads`` as head numbers (for every layer) or (layer, head)."""
    out = []
    if heads is None:
        for layer in sorted(patterns):
            out += [(layer, h) for h in range(patterns[layer].shape[1])]
        return out
    heads = list(heads)
    if all(isinstance(h, (int, np.integer)) for h in heads):
        for layer in sorted(patterns):
            n = patterns[layer].shape[1]
            bad = [h for h in heads if not 0 <= h < n]
            if bad:
                raise IndexError(f"heads {bad} out of range: layer {layer} has {n} heads")
            out += [(layer, int(h)) for h in heads]
        return out
    for item in heads:
        layer, head = (int(x) for x in item)
        if layer not in patterns:
            raise KeyError(f"layer {layer} is not among the patterns (layers {sorted(patterns)})")
        if not 0 <= head < patterns[layer].shape[1]:
            raise IndexError(f"head {head} out of range for layer {layer}")
        out.append((layer, head))
    return out


def attention_grid(patterns: Patterns, tokens: Sequence[str], heads=None, head_notation: str = "LH",
                   config: Optional[AttentionVisualizationConfig] = None, backend: Optional[str] = None,
                   batch: int = 0):
    """A grid of heads (rows of ``config.heads_per_row`` panels), titled in ``head_notation``."""
    config = config or AttentionVisualizationConfig()
    which = resolve_backend(backend, config)
    pairs = _head_list(patterns, heads)
    if not pairs:
        raise ValueError("no heads to draw")
    head_label(0, 0, head_notation)  # validates the notation
    panels = []
    for layer, head in pairs:
        m = np.asarray(patterns[layer])[batch, head]
        panels.append((head_label(layer, head, head_notation), masked(m, config.mask_upper_tri)))
    k = panels[0][1].shape[1]
    key_tokens = _check_tokens(tokens, k, "patterns")
    query_tokens = key_tokens[k - panels[0][1].shape[0]:]
    if which == "matplotlib":
        from ._matplotlib import grid_figure
        return grid_figure(panels, query_tokens, key_tokens, config)
    if which == "plotly":
        from ._plotly import grid_figure
        return grid_figure(panels, query_tokens, key_tokens, config)
    raise ValueError("a grid is drawn with the matplotlib or plotly backend; use mode='interactive' "
                     "for the explorer")


def attention_from_trace(trace, tokens: Sequence[str], layers=None, heads=None, mode: str = "grid",
                         head_notation: str = "LH",
                         config: Optional[AttentionVisualizationConfig] = None, backend: Optional[str] = None):
    """Figures straight from a trace.

    mode "grid": every selected head of every selected layer (``heads``: head numbers for each
    layer, or (layer, head) pairs); "single": the first selected head; "interactive": the explorer.
    ``head_notation``: "LH" for L5H3 titles, "dot" for 5.3.
    """
    config = config or AttentionVisualizationConfig()
    patterns = get_attention_patterns(trace, layers)
    if not patterns:
        raise ValueError("the trace holds no attention patterns for the requested layers")
    which = resolve_backend(backend, config)
    if mode == "interactive" or (which == "interactive" and mode == "grid"):
        from .interactive import interactive_attention
        from .config import InteractiveAttentionConfig

        return interactive_attention(patterns, tokens,
                                     config=InteractiveAttentionConfig(colorscale=config.colorscale))
    if mode == "single":
        layer, head = _head_list(patterns, heads)[0]
        return attention_heatmap(patterns[layer], tokens, head_idx=head,
                                 title=head_label(layer, head, head_notation),
                                 backend=which, config=config, layer=layer)
    if mode == "grid":
        return attention_grid(patterns, tokens, heads, head_notation, config, which)
    raise ValueError(f"mode must be 'grid', 'single' or 'interactive', got {mode!r}")
