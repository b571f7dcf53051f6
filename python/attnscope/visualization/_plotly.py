"""The plotly backend: interactive figures (returns plotly Figures)."""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import numpy as np

from .config import AttentionVisualizationConfig


def _unique(labels: Sequence[str]) -> List[str]:
    # Plotly merges equal category labels; number the positions so repeated tokens stay apart.
    return [f"{i}: {t}" for i, t in enumerate(labels)]


def _colorscale(name: str) -> str:
    import plotly.colors

    known = {n.lower() for n in plotly.colors.named_colorscales()}
    base = name[:-2] if name.endswith("_r") else name
    if base.lower() not in known:
        raise ValueError(f"unknown colorscale {name!r} for plotly; e.g. Blues, Reds, Viridis, YlOrRd")
    return name


def _heatmap(data, query_tokens, key_tokens, config, show_scale=True):
    import plotly.graph_objects as go

    finite = data[np.isfinite(data)]
    zmax = config.vmax if config.vmax is not None else (float(finite.max()) if finite.size else 1.0)
    zmin = config.vmin if config.vmin is not None else (float(finite.min()) if finite.size else 0.0)
    z = np.where(np.isfinite(data), data, None)  # None: a gap (masked future position)
    return go.Heatmap(
        z=z.tolist(), x=_unique(key_tokens), y=_unique(query_tokens),
        colorscale=_colorscale(config.colorscale), zmin=zmin, zmax=zmax,
        showscale=show_scale and config.show_colorbar, hoverongaps=False,
        hovertemplate="%{y} → %{x}: %{z:.1%}<extra></extra>" if config.hover_info else None)


def heatmap_figure(data: np.ndarray, query_tokens, key_tokens, title: str,
                   config: AttentionVisualizationConfig):
    import plotly.graph_objects as go

    fig = go.Figure(data=_heatmap(data, query_tokens, key_tokens, config))
    fig.update_layout(title=title, xaxis_title="Key (attended to)", yaxis_title="Query (attending)",
                      width=config.figure_width, height=config.figure_height,
                      yaxis=dict(autorange="reversed"))
    return fig


def grid_figure(panels: List[Tuple[str, np.ndarray]], query_tokens, key_tokens,
                config: AttentionVisualizationConfig):
    from plotly.subplots import make_subplots

    n = len(panels)
    cols = min(int(config.heads_per_row), n)
    rows = math.ceil(n / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[label for label, _ in panels],
                        horizontal_spacing=0.04, vertical_spacing=min(0.08, 0.6 / max(rows, 1)))
    for i, (_, data) in enumerate(panels):
        r, c = divmod(i, cols)
        fig.add_trace(_heatmap(data, query_tokens, key_tokens, config, show_scale=(i == 0)),
                      row=r + 1, col=c + 1)
        fig.update_yaxes(autorange="reversed", row=r + 1, col=c + 1)
    side = max(200, config.figure_width // 3)
    fig.update_layout(title="Attention patterns", width=side * cols + 100, height=side * rows + 100)
    return fig
