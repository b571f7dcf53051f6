"""TransformerLens' ActivationCache keys: ``trace["pattern", 4]``, ``trace["z", 4]``,
``trace["resid_pre", 2]``, ``trace["normalized", 3, "ln2"]``, ``trace["embed"]``, as
``transformer_lens.utils.get_act_name`` spells them, resolved through the hook table
(``_core.HookPoint``, ``hook_name``) so the short names cannot drift from the hook points."""

from __future__ import annotations

import numbers
from typing import Dict, List, Optional, Tuple

from ._native import core

# get_act_name's aliases of activation and layer-type names.
_NAME_ALIASES = {"attn": "pattern", "attn_logits": "attn_scores", "key": "k", "query": "q", "value": "v",
                 "mlp_pre": "pre", "mlp_post": "post"}
_MODULE_ALIASES = {"a": "attn", "m": "mlp", "b": "", "block": "", "blocks": "", "attention": "attn"}

_TABLE: Optional[Dict[str, List[Tuple["core.HookPoint", str, bool]]]] = None


def _short_names() -> Dict[str, List[Tuple["core.HookPoint", str, bool]]]:
    """short name -> [(point, module, in_block)] from the table's suffixes: "attn.hook_pattern" is
    "pattern" in module "attn", "ln_final.hook_normalized" is "normalized" in "ln_final"."""
    global _TABLE
    if _TABLE is None:
        table: Dict[str, List[Tuple["core.HookPoint", str, bool]]] = {}
        for suffix, point in core.HookPoint.__members__.items():
            *module, last = suffix.split(".")
            short = last[len("hook_"):] if last.startswith("hook_") else last
            table.setdefault(short, []).append((point, ".".join(module), bool(core.hook_in_block(point))))
        _TABLE = table
    return _TABLE


def resolve(key, n_layers: int) -> str:
    """The canonical hook name of a cache key: a hook name or alias, or TransformerLens' (name,
    layer[, layer_type]) / short name. KeyError saying why for anything else."""
    if isinstance(key, tuple):
        if not 1 <= len(key) <= 3 or not isinstance(key[0], str):
            raise KeyError(f"{key!r}: a cache key is a hook name or (name, layer[, layer_type]), "
                           "e.g. ('pattern', 4)")
        name, layer, module = (tuple(key) + (None, None))[:3]
    elif isinstance(key, str):
        canonical = core.canonical_hook_name(key)
        if canonical is not None:
            return canonical
        name, layer, module = key, None, None
    else:
        raise KeyError(f"{key!r}: a cache key is a hook name or (name, layer[, layer_type]), e.g. ('pattern', 4)")
    if layer is not None:
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
            raise KeyError(f"{key!r}: the layer must be an integer")
        layer = int(layer)
        if not -n_layers <= layer < n_layers:
            raise KeyError(f"{key!r}: layer {layer} is outside the model's layers 0..{n_layers - 1}")
        layer %= n_layers
    name = _NAME_ALIASES.get(name, name)
    table = _short_names()
    if name not in table:
        raise KeyError(f"{key!r} names no hook point; short names are {sorted(table)} "
                       "(or a full name such as 'blocks.0.attn.hook_pattern')")
    per_layer = layer is not None
    scope = [(p, m) for p, m, in_block in table[name] if in_block == per_layer]
    if not scope:
        raise KeyError(f"{key!r}: {name!r} is {'not ' if per_layer else ''}a per-layer hook point "
                       f"({'drop' if per_layer else 'give'} the layer)")
    found = scope
    if module is not None:
        module = _MODULE_ALIASES.get(module, module)
        found = [(p, m) for p, m in scope if m == module]
    spelled = [core.hook_name(p, layer if per_layer else -1) for p, _ in scope]
    if not found:
        raise KeyError(f"{key!r}: no {name!r} hook point in {module!r}; there are {spelled}")
    if len(found) > 1:
        raise KeyError(f"{key!r} is ambiguous: {spelled}; add the layer type, e.g. "
                       f"({name!r}, {layer}, {found[0][1]!r})")
    return core.hook_name(found[0][0], layer if per_layer else -1)
