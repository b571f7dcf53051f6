"""The interactive attention explorer (built by the C++ core) for Jupyter and standalone HTML."""

from __future__ import annotations

import html as _html
import os
from typing import Dict, Optional, Sequence

import numpy as np

from .._native import core
from .config import InteractiveAttentionConfig


class ExplorerHTML(str):
    """The explorer's HTML document. A ``str``; Jupyter shows it as the live explorer."""

    height = 900

    def _repr_html_(self) -> str:
        return _iframe(self, self.height)

    def save(self, path) -> str:
        path = os.fspath(path)
        with open(path, "w", encoding="utf-8") as f:
            f.write(self)
        return path


def _iframe(document: str, height: int) -> str:
    # An iframe keeps the explorer's script and styles apart from the notebook's page.
    return (f'<div class="attnscope-explorer"><iframe srcdoc="{_html.escape(document, quote=True)}" '
            f'style="width:100%;height:{int(height)}px;border:0" '
            'sandbox="allow-scripts"></iframe></div>')


def _marks(head_types) -> list:
    marks = []
    if not head_types:
        return marks
    for label, heads in head_types.items():
        if label == "unknown":
            continue
        for item in heads:
            layer, head = int(item[0]), int(item[1])
            score = float(item[2]) if len(item) > 2 else 0.0
            marks.append((layer, head, str(label), score))
    return marks


def _prepare(patterns: Dict[int, np.ndarray], tokens: Sequence[str]):
    if not patterns:
        raise ValueError("no attention patterns to show")
    prepared = {}
    for layer, p in patterns.items():
        a = np.ascontiguousarray(np.asarray(p, dtype=np.float32))
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4:
            raise ValueError(f"layer {layer}: patterns must be [batch, heads, q, k], got {a.shape}")
        prepared[int(layer)] = a
    return prepared, [str(t) for t in tokens]


def interactive_attention(patterns: Dict[int, np.ndarray], tokens: Sequence[str],
                          config: Optional[InteractiveAttentionConfig] = None, model=None,
                          ids: Optional[Sequence[int]] = None) -> ExplorerHTML:
    """The explorer for ``patterns`` ({layer: [batch, heads, q, k]}) as one HTML document.

    With ``model`` (an InterpretableModel) and the run's token ``ids`` it also carries the views
    beyond the weights: value-weighted and rollout views, heads ranked by direct logit attribution
    and the composition edges of the selected head (``attnscope.attribution``)."""
    if not hasattr(core, "explorer_html"):
        raise NotImplementedError("this build of attnscope has no interactive explorer")
    config = config or InteractiveAttentionConfig()
    prepared, labels = _prepare(patterns, tokens)
    doc = ExplorerHTML(core.explorer_html(prepared, labels, config.title, config.colorscale,
                                          int(config.bits), int(config.batch), int(config.heatmap_size),
                                          _marks(config.head_types), config.subtitle,
                                          None if model is None else getattr(model, "_core", model),
                                          [] if ids is None else [int(i) for i in ids]))
    doc.height = int(config.heatmap_size) + 520
    return doc


def save_interactive_attention(patterns: Dict[int, np.ndarray], tokens: Sequence[str], path,
                               config: Optional[InteractiveAttentionConfig] = None) -> str:
    """Writes the explorer to ``path`` (a standalone HTML file); returns the path."""
    return interactive_attention(patterns, tokens, config).save(path)


def display_interactive_attention(patterns: Dict[int, np.ndarray], tokens: Sequence[str],
                                  config: Optional[InteractiveAttentionConfig] = None) -> ExplorerHTML:
    """Shows the explorer in Jupyter (IPython.display); returns its HTML."""
    doc = interactive_attention(patterns, tokens, config)
    try:
        from IPython.display import HTML, display
    except ImportError:  # pragma: no cover - IPython is part of the supported setup
        return doc
    display(HTML(doc._repr_html_()))
    return doc


def interactive_attention_from_trace(trace, tokens: Sequence[str], layers=None,
                                     config: Optional[InteractiveAttentionConfig] = None,
                                     analysis: bool = False) -> ExplorerHTML:
    """The explorer straight from a trace (all layers, or ``layers``); ``analysis=True``: with the
    views beyond the weights (one more forward pass of the trace's first row)."""
    from .attention import get_attention_patterns

    model = getattr(trace, "_model", None) if analysis else None
    ids = trace.tokens[0] if model is not None else None
    return interactive_attention(get_attention_patterns(trace, layers), tokens, config, model, ids)
