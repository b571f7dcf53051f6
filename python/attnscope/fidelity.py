"""How far a model's stored-precision path, or another file of the same model, moves each head.

The Python face of ``attnscope fidelity`` (C++ ``compare_fidelity``, include/attnscope/fidelity.h)::

    from attnscope import InterpretableModel, fidelity
    model = InterpretableModel("stories260K-Q4_K_M.gguf")
    report = fidelity.compare(model, ["Once upon a time"])            # bfloat16 vs float32 path
    report = fidelity.compare(model, ["Once upon a time"], reference="stories260K.gguf")
    print(report)                      # worst heads first, differences are model - reference
    report.heads[0]["js_mean"]         # Jensen-Shannon divergence of the rows, nats
    report.save_figure("fidelity.png")

Per head: ``max_abs_delta``, ``mean_abs_delta`` (causal entries), ``js_mean``/``js_max`` (nats,
Lin 1991), ``scores`` (reference, model, delta, max_abs_delta per built-in score),
``reference_types``/``model_types``. Per prompt: ``argmax_agreement``, ``max_abs_logit_delta``.
"""

import json
import os
from typing import List, Optional, Sequence, Union

from ._native import core

__all__ = ["compare", "FidelityReport", "lossy_path_warning"]


def _core_model(model):
    return model._core if hasattr(model, "_core") else model


class FidelityReport:
    """The comparison: ``data`` is the JSON document ``attnscope fidelity --json`` prints."""

    def __init__(self, native):
        self._native = native
        self.data = json.loads(native.to_json())

    @property
    def heads(self) -> List[dict]:
        return self.data["heads"]

    @property
    def prompts(self) -> List[dict]:
        return self.data["prompts"]

    def table(self, sort: str = "js_mean", top: int = 10) -> str:
        return self._native.table(sort, top)

    def to_csv(self, path: Optional[str] = None) -> str:
        text = self._native.to_csv()
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    def save_figure(self, path) -> List[str]:
        return self._native.save_figure(os.fspath(path))

    def __str__(self):
        return self.table()


def compare(model, prompts: Union[str, Sequence[str], Sequence[Sequence[int]]], reference=None,
            reference_dtype: str = "float32", layers: Optional[Sequence[int]] = None, add_bos: bool = True,
            chance_corrected: bool = True, exclude_bos: bool = False) -> FidelityReport:
    """Runs ``prompts`` through ``model`` and ``reference`` and compares them head by head.

    ``reference=None`` compares the model's file on its bfloat16 (stored-precision) path with the
    float32 path on the same file; otherwise ``reference`` is a path or a model of the same
    architecture and tokenizer (a pair that is not is refused with ``InvalidArgumentError``).
    """
    core_model = _core_model(model)
    if isinstance(prompts, str):
        prompts = [prompts]
    prompts = list(prompts)
    if reference is None:
        source = core_model.source
        test = core.Model.load(source, dtype="bfloat16")
        ref = core.Model.load(source, dtype=reference_dtype)
    else:
        test = core_model
        ref = (core.Model.load(os.fspath(reference), dtype=reference_dtype)
               if isinstance(reference, (str, os.PathLike)) else _core_model(reference))
    native = core.compare_fidelity(test, ref, prompts, list(layers or []), add_bos, chance_corrected, exclude_bos)
    return FidelityReport(native)


def lossy_path_warning(model) -> Optional[str]:
    """The warning ``heads``/``induction``/``scan`` print when the model runs on a lossy path, else None."""
    return core.lossy_path_warning(_core_model(model))
