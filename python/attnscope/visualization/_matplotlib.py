"""The matplotlib backend: publication figures (returns matplotlib Figures)."""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import numpy as np

from .config import AttentionVisualizationConfig


def _short(label: str, limit: int) -> str:
    label = label.replace("\n", "\\n")
    return label if len(label) <= limit else label[: max(1, limit - 1)] + "…"


def _cmap(name: str):
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name].copy()
    except KeyError:
        lowered = {n.lower(): n for n in matplotlib.colormaps}
        if name.lower() not in lowered:
            raise ValueError(f"unknown colorscale {name!r} for matplotlib; e.g. Blues, Reds, viridis, YlOrRd")
        cmap = matplotlib.colormaps[lowered[name.lower()]].copy()
    cmap.set_bad("white")  # masked (future) positions
    return cmap


def _range(data: np.ndarray, config: AttentionVisualizationConfig) -> Tuple[float, float]:
    finite = data[np.isfinite(data)]
    vmax = config.vmax if config.vmax is not None else (float(finite.max()) if finite.size else 1.0)
    vmin = config.vmin if config.vmin is not None else (float(finite.min()) if finite.size else 0.0)
    if vmax <= vmin:
        vmax = vmin + 1e-9
    return vmin, vmax


def _draw(ax, data, query_tokens, key_tokens, config, show_x=True, show_y=True, fontsize=None):
    vmin, vmax = _range(data, config)
    im = ax.imshow(data, cmap=_cmap(config.colorscale), vmin=vmin, vmax=vmax,
                   interpolation="nearest", aspect="auto")
    fs = fontsize or config.font_size
    limit = config.max_label_chars
    if show_x:
        ax.set_xticks(range(len(key_tokens)))
        ax.set_xticklabels([_short(t, limit) for t in key_tokens], rotation=60, ha="right", fontsize=fs)
    else:
        ax.set_xticks([])
    if show_y:
        ax.set_yticks(range(len(query_tokens)))
        ax.set_yticklabels([_short(t, limit) for t in query_tokens], fontsize=fs)
    else:
        ax.set_yticks([])
    return im


def heatmap_figure(data: np.ndarray, query_tokens: Sequence[str], key_tokens: Sequence[str],
                   title: str, config: AttentionVisualizationConfig, ax=None):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=tuple(config.figsize), dpi=config.dpi, layout="constrained")
    else:
        fig = ax.figure
    im = _draw(ax, data, query_tokens, key_tokens, config)
    ax.set_xlabel("Key (attended to)")
    ax.set_ylabel("Query (attending)")
    ax.set_title(title)
    if config.show_colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig


def grid_figure(panels: List[Tuple[str, np.ndarray]], query_tokens, key_tokens,
                config: AttentionVisualizationConfig):
    import matplotlib.pyplot as plt

    n = len(panels)
    cols = min(int(config.heads_per_row), n)
    rows = math.ceil(n / cols)
    size = config.cell_size
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 1.0, size * rows + 0.5),
                             dpi=config.dpi, squeeze=False, layout="constrained")
    fs = max(4, config.font_size - 2)
    im = None
    for i, (label, data) in enumerate(panels):
        r, c = divmod(i, cols)
        ax = axes[r][c]
        last_in_column = i + cols >= n
        im = _draw(ax, data, query_tokens, key_tokens, config, show_x=last_in_column, show_y=(c == 0),
                   fontsize=fs)
        ax.set_title(label, fontsize=config.font_size + 1)
    for i in range(n, rows * cols):
        r, c = divmod(i, cols)
        axes[r][c].axis("off")
    if config.show_colorbar and im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.02)
    return fig
