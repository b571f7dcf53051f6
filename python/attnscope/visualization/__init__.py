"""Attention visualization and analysis (names as in mlxterp's attention guide).

Extraction: ``get_attention_patterns``. Figures: ``attention_heatmap``, ``attention_from_trace``,
``attention_grid`` with ``AttentionVisualizationConfig`` (backends matplotlib, plotly,
interactive, auto). Explorer: ``interactive_attention``, ``display_interactive_attention``,
``save_interactive_attention``, ``interactive_attention_from_trace``,
``InteractiveAttentionConfig``. Analysis: the score functions, ``AttentionPatternDetector``,
``detect_head_types``, ``detect_induction_heads``, ``find_attention_pattern``.
"""

from .attention import (attention_from_trace, attention_grid, attention_heatmap, get_attention_patterns,
                        head_label)
from .config import AttentionVisualizationConfig, InteractiveAttentionConfig
from .interactive import (ExplorerHTML, display_interactive_attention, interactive_attention,
                          interactive_attention_from_trace, save_interactive_attention)
from .patterns import (HEAD_TYPES, AttentionPatternDetector, HeadScore, PatternRegistry,
                       current_token_score, detect_head_types, detect_induction_heads,
                       duplicate_token_score, find_attention_pattern, first_token_score,
                       head_entropy, induction_score, layer_attention_summary, previous_token_score)

__all__ = [
    "get_attention_patterns", "attention_heatmap", "attention_from_trace", "attention_grid", "head_label",
    "AttentionVisualizationConfig", "InteractiveAttentionConfig", "ExplorerHTML",
    "interactive_attention", "display_interactive_attention", "save_interactive_attention",
    "interactive_attention_from_trace", "previous_token_score", "first_token_score",
    "current_token_score", "induction_score", "duplicate_token_score", "HeadScore",
    "AttentionPatternDetector", "detect_head_types", "detect_induction_heads",
    "find_attention_pattern", "PatternRegistry", "layer_attention_summary", "head_entropy", "HEAD_TYPES",
]
