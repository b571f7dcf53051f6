"""Beyond attention weights: what a head moves, what it writes into the logits, which later heads
read it, and how attention accumulates over layers. Names follow TransformerLens where it has one.

Heads are (layer, head). Shapes: B batch, T positions, L layers, H heads, D d_model, C parts of
the residual stream. Weights are in TransformerLens' row-vector orientation (W_Q [D, d_head]).

- ``value_weighted_patterns(model, inputs)``: Kobayashi et al. 2020, ``||alpha_ij v_j W_O^h||``
  per head, {layer: [B, H, T, T]} in residual-stream norm units (``normalized=True``: each row is
  the share of the head's output norm, summing to 1; rows of a head that writes nothing stay 0;
  with a post-attention RMSNorm, Gemma 2/3 and OLMo-2, its weight and frozen per-query scale are
  part of what a head writes).
- ``get_full_resid_decomposition(model, trace)`` -> (stack [C, T, D], labels), ``apply_ln_to_stack``
  (final-norm scale frozen from the clean run), ``logit_attrs`` -> [C, T] logits, and
  ``direct_logit_attribution(model, text, token, minus=None, positions=None)``, whose parts
  (embedding, every head, attention biases, MLPs, a LayerNorm bias) add up to the model's logit
  (Gemma 2/3, OLMo-2: each head's part goes through the post-attention RMSNorm with its scale
  frozen on the layer's output; Gemma 2: the logit before its final soft-cap).
- ``all_composition_scores(model, "Q"|"K"|"V")`` -> [L, H, L, H] (Elhage et al. 2021, entry
  (l1, h1, l2, h2) = composition of the earlier head into the later one, 0 unless l1 < l2, in
  [0, 1]; the reading layer's norm weight folded into W_Q/W_K/W_V, q/k norm weights into W_Q/W_K,
  a post-attention norm's into W_O, W_O centred for LayerNorm models; biases and RoPE are not part
  of W_QK/W_OV); ``composition_scores(model)`` gives all three
  and ``top_composition_edges`` lists the strongest.
- ``attention_rollout(patterns)`` -> [L, T, T] and ``attention_flow(patterns, queries)`` -> [Q, T]
  (Abnar & Zuidema 2020; residual-averaged A~ = 0.5 mean_h A + 0.5 I).
"""

from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._native import core

__all__ = [
    "value_weighted_patterns", "value_vector_norms", "get_full_resid_decomposition", "apply_ln_to_stack",
    "logit_attrs", "direct_logit_attribution", "all_composition_scores", "composition_scores",
    "top_composition_edges", "attention_rollout", "attention_flow", "resid_decomposition_hooks",
    "value_weighted_hooks",
]


def _core_model(model):
    return model._core if hasattr(model, "_core") else model


def _core_trace(trace):
    return trace._require_run() if hasattr(trace, "_require_run") else trace


def _ids(model, inputs) -> List[int]:
    if isinstance(inputs, str):
        return list(model._core.encode(inputs, True))
    return [int(t) for t in inputs]


def _token_id(model, token) -> int:
    # Text must be exactly one token (TransformerLens' to_single_token), never the first of several.
    if isinstance(token, str):
        return int(_core_model(model).to_single_token(token))
    return int(token)


def value_weighted_hooks(model, layers: Optional[Sequence[int]] = None) -> List[str]:
    """Hook names to capture for value_weighted_patterns (hook_pattern and hook_v, and hook_z
    where a post-attention norm's frozen scale is needed: Gemma 2/3, OLMo-2)."""
    return list(core.value_weighted_hooks(_core_model(model), [] if layers is None else [int(l) for l in layers]))


def resid_decomposition_hooks(model) -> List[str]:
    """Hook names to capture for get_full_resid_decomposition."""
    return list(core.resid_decomposition_hooks(_core_model(model)))


def _traced(model, inputs, capture):
    if hasattr(inputs, "_require_run"):
        return inputs
    with model.trace(inputs, capture=capture, attention=False) as trace:
        pass
    return trace


def value_vector_norms(model, trace) -> Dict[int, np.ndarray]:
    """{layer: [B, H, T]}: ||v_j W_O^h|| of every key (what each token would write through each head)."""
    return dict(core.value_vector_norms(_core_model(model), _core_trace(trace)))


def value_weighted_patterns(model, inputs, normalized: bool = False) -> Dict[int, np.ndarray]:
    """{layer: [B, H, T, T]} value-weighted attention of ``inputs`` (text, ids, or a Trace that
    captured ``value_weighted_hooks(model)``), from one forward pass."""
    trace = _traced(model, inputs, value_weighted_hooks(model))
    return dict(core.value_weighted_patterns(_core_model(model), _core_trace(trace), bool(normalized)))


def get_full_resid_decomposition(model, trace, batch: int = 0) -> Tuple[np.ndarray, List[str]]:
    """Every additive part of the final residual stream: (stack [C, T, D], labels) with labels
    "embed", "pos_embed" (GPT-2), "L{l}H{h}", "{l}_attn_bias", "{l}_mlp_out". ``trace`` is a Trace
    that captured ``resid_decomposition_hooks(model)``, or text / ids to run."""
    trace = _traced(model, trace, resid_decomposition_hooks(model))
    stack, labels = core.get_full_resid_decomposition(_core_model(model), _core_trace(trace), int(batch))
    return stack, list(labels)


def apply_ln_to_stack(model, trace, stack, batch: int = 0) -> np.ndarray:
    """[C, T, D] -> [C, T, D]: each part through the final norm with its scale frozen from the
    clean final residual stream of ``trace`` (TransformerLens' apply_ln_to_stack)."""
    return core.apply_ln_to_stack(_core_model(model), _core_trace(trace), np.asarray(stack, np.float32), int(batch))


def logit_attrs(model, stack, tokens, incorrect_tokens=None) -> np.ndarray:
    """[C, T] logits: each part of a normalised stack [C, T, D] dotted with the unembedding of
    ``tokens`` (one id, or one per position), minus that of ``incorrect_tokens`` when given."""
    stack = np.asarray(stack, np.float32)
    T = stack.shape[1]
    toks = [_token_id(model, tokens)] * T if isinstance(tokens, (int, str, np.integer)) else [_token_id(model, t) for t in tokens]
    minus: List[int] = []
    if incorrect_tokens is not None:
        minus = ([_token_id(model, incorrect_tokens)] * T if isinstance(incorrect_tokens, (int, str, np.integer))
                 else [_token_id(model, t) for t in incorrect_tokens])
    return core.logit_attrs(_core_model(model), stack, toks, minus)


def direct_logit_attribution(model, inputs, token, minus=None, positions: Optional[Sequence[int]] = None) -> dict:
    """Direct logit attribution of ``token`` (text or id; minus ``minus`` for a logit difference) at
    ``positions`` (default: the last). Returns {"labels": [C], "attribution": [P, C] logits,
    "heads": [P, L, H], "mlp": [P, L], "logit": [P] (the model's own; before Gemma 2's final
    soft-cap), "positions", "str_tokens"}.
    The attributions of each position add up to its logit."""
    r = core.direct_logit_attribution(model._core, _ids(model, inputs), _token_id(model, token),
                                      None if minus is None else _token_id(model, minus),
                                      [] if positions is None else [int(p) for p in positions])
    return dict(r)


def all_composition_scores(model, mode: str = "K") -> np.ndarray:
    """[L, H, L, H] Q-, K- or V-composition scores (TransformerLens' all_composition_scores)."""
    return core.all_composition_scores(_core_model(model), str(mode))


def composition_scores(model, top: int = 20) -> dict:
    """{"Q", "K", "V": [L, H, L, H], "top_edges": [(l1, h1, l2, h2, kind, score), ...]}."""
    return dict(core.composition_scores(_core_model(model), int(top)))


def top_composition_edges(scores: dict, n: int = 20, kind: Optional[str] = None,
                          into: Optional[Tuple[int, int]] = None,
                          out_of: Optional[Tuple[int, int]] = None) -> List[tuple]:
    """The n strongest edges (l1, h1, l2, h2, kind, score) of composition_scores(model), of one kind
    and into / out of one head when given."""
    return list(core.top_composition_edges(scores, int(n), kind or "", into, out_of))


def attention_rollout(patterns: Dict[int, np.ndarray], batch: int = 0) -> np.ndarray:
    """[L, T, T]: rollout after each layer (every layer's pattern {layer: [B, H, T, T]} from 0)."""
    return core.attention_rollout({int(k): np.asarray(v, np.float32) for k, v in patterns.items()}, int(batch))


def attention_flow(patterns: Dict[int, np.ndarray], queries: Optional[Sequence[int]] = None,
                   batch: int = 0) -> np.ndarray:
    """[Q, T]: maximum attention flow from each query position (default: all) to each input token."""
    return core.attention_flow({int(k): np.asarray(v, np.float32) for k, v in patterns.items()},
                               [] if queries is None else [int(q) for q in queries], int(batch))
