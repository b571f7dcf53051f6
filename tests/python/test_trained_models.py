"""Real trained models from ../shared/models/trained (README.md there), through the Python package.

Each reference.json comes from an independent float64 forward with Hugging Face semantics. The
tolerances (patterns 1e-5, last logits 1e-4) are about ten times the agreement the README measured
for a correct float32 forward. The induction-2l heads are the README's independent analysis:
induction L1H2 (0.969), fed by the previous-token head L0H3.
"""

import json

import numpy as np
import pytest

from attnscope import InterpretableModel
from attnscope import visualization as viz
from conftest import MODELS_DIR

TRAINED = MODELS_DIR / "trained"


def _reference(name):
    return json.loads((TRAINED / name / "reference.json").read_text())


@pytest.mark.parametrize("path", ["tinystories-656k", "induction-2l", "induction-2l/model.gguf"])
def test_trained_model_reproduces_its_reference(path):
    model = InterpretableModel(str(TRAINED / path), dtype="float32")
    ref = _reference(path.split("/")[0])
    for case in ref["cases"]:
        with model.trace(case["ids"]) as trace:
            pass
        patterns = viz.get_attention_patterns(trace)
        for layer, want in enumerate(case["patterns"]):
            np.testing.assert_allclose(patterns[layer][0], np.array(want), atol=1e-5, rtol=0)
        np.testing.assert_allclose(trace.output[0, -1], np.array(case["last_logits"]), atol=1e-4, rtol=0)


def test_induction_2l_detectors_find_its_emergent_heads():
    model = InterpretableModel(str(TRAINED / "induction-2l" / "model.gguf"))
    # The README's stimulus: BOS + 50 random pieces twice, 10 seeds; the scan's default threshold.
    heads = viz.detect_induction_heads(model, n_random_tokens=50, n_repeats=2, threshold=0.3, n_seeds=10)
    assert [(h.layer, h.head) for h in heads] == [(1, 2)]
