"""Settings of the attention figures and of the interactive explorer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

BACKENDS = ("auto", "matplotlib", "plotly", "interactive")
HEAD_NOTATIONS = ("LH", "dot")


@dataclass
class AttentionVisualizationConfig:
    """How attention heatmaps and grids are drawn.

    colorscale: a colormap name (Blues, Reds, Greens, Purples, Oranges, Greys, YlOrRd, viridis,
        magma, inferno, plasma, cividis, RdBu, ... anything matplotlib knows for that backend).
    mask_upper_tri: leave future positions (key after query) blank, as a causal model never
        attends there.
    figsize: matplotlib figure size in inches for one heatmap; grids use ``cell_size`` per panel.
    backend: "auto" (plotly if installed, else matplotlib), "matplotlib", "plotly" or
        "interactive" (the self-contained HTML explorer).
    heads_per_row: panels per row of a grid.
    vmin, vmax: colour range (default 0 .. the data's maximum).
    """

    colorscale: str = "Blues"
    mask_upper_tri: bool = True
    figsize: Tuple[float, float] = (8, 6)
    backend: str = "auto"
    heads_per_row: int = 4
    show_colorbar: bool = True
    vmin: Optional[float] = 0.0
    vmax: Optional[float] = None
    cell_size: float = 3.0          # inches per grid panel (matplotlib)
    figure_width: int = 800         # pixels (plotly)
    figure_height: int = 600
    font_size: int = 9
    max_label_chars: int = 12       # longer token labels are shortened with an ellipsis
    hover_info: bool = True
    dpi: int = 100

    def __post_init__(self):
        if self.backend not in BACKENDS and self.backend != "circuitsvis":
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {self.backend!r}")
        if int(self.heads_per_row) < 1:
            raise ValueError(f"heads_per_row must be >= 1, got {self.heads_per_row}")
        if len(tuple(self.figsize)) != 2:
            raise ValueError(f"figsize must be (width, height), got {self.figsize!r}")


@dataclass
class InteractiveAttentionConfig:
    """The interactive explorer (one self-contained HTML file).

    title: shown at the top.  heatmap_size: pixels of the main heatmap.  colorscale: colormap.
    subtitle: a line under the title (e.g. model and prompt).  bits: 8 or 16 bit storage of the
    weights (0: automatic).  head_types: {type: [(layer, head), ...]} as returned by
    ``detect_head_types``, shown as an overlay on the head thumbnails.
    """

    title: str = "Attention Explorer"
    heatmap_size: int = 400
    colorscale: str = "Blues"
    subtitle: str = ""
    bits: int = 0
    head_types: Optional[dict] = None
    batch: int = 0

    def __post_init__(self):
        if int(self.heatmap_size) < 50:
            raise ValueError(f"heatmap_size must be at least 50 pixels, got {self.heatmap_size}")
        if self.bits not in (0, 8, 16):
            raise ValueError(f"bits must be 0, 8 or 16, got {self.bits}")
