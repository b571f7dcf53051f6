"""attnscope.fidelity: the per-head figures equal ones computed here with numpy from two ordinary
traces (Jensen-Shannon as entropies, H(m) - (H(a) + H(b)) / 2), a pair of different models is
refused, and the lossy-path warning names quantised files only."""

import numpy as np
import pytest

from attnscope import InterpretableModel, errors, fidelity
from attnscope._native import core
from attnscope.visualization import get_attention_patterns

from conftest import STORIES

TEXT = "Once upon a time, there was a cat. The cat sat."


def _run(model):
    with model.trace(TEXT) as t:
        logits = model.output.save()
    return {l: np.array(p[0], dtype=np.float64) for l, p in get_attention_patterns(t).items()}, np.array(logits)[0]


def _entropy(p):
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=-1)


@pytest.fixture(scope="module")
def q8(tmp_path_factory):
    path = tmp_path_factory.mktemp("fidelity") / "stories-Q8_0.gguf"
    core.quantize_gguf_file(str(STORIES), str(path), "Q8_0")
    return path


def test_per_head_figures_match_numpy(q8):
    model = InterpretableModel(str(q8), dtype="bfloat16")
    ref = InterpretableModel(str(STORIES), dtype="float32")
    report = fidelity.compare(model, TEXT, reference=ref)
    pa, la = _run(model)
    pb, lb = _run(ref)
    assert report.data["js_unit"] == "nats"
    assert len(report.heads) == 5 * 8
    worst = 0.0
    for h in report.heads:
        a, b = pa[h["layer"]][h["head"]], pb[h["layer"]][h["head"]]
        d = np.abs(a - b)
        assert h["max_abs_delta"] == pytest.approx(d.max(), abs=1e-12)
        assert h["mean_abs_delta"] == pytest.approx(d[np.tril_indices(d.shape[0])].mean(), abs=1e-12)
        js = _entropy((a + b) / 2) - (_entropy(a) + _entropy(b)) / 2
        assert h["js_mean"] == pytest.approx(max(js.mean(), 0.0), abs=1e-9)
        assert h["js_max"] == pytest.approx(js.max(), abs=1e-9)
        worst = max(worst, d.max())
    assert worst > 1e-4  # Q8_0 does move something: not 0 == 0
    p = report.prompts[0]
    assert p["argmax_agreement"] == pytest.approx(np.mean(la.argmax(-1) == lb.argmax(-1)))
    assert p["max_abs_logit_delta"] == pytest.approx(np.abs(la - lb).max(), abs=1e-12)
    assert "worst first" in str(report)


def test_one_file_both_paths_and_figure(q8, tmp_path):
    report = fidelity.compare(InterpretableModel(str(q8)), [TEXT])
    assert report.data["model"]["dtype"] == "bfloat16"
    assert report.data["reference"]["dtype"] == "float32"
    out = tmp_path / "fid.svg"
    report.save_figure(out)
    assert out.read_text().lstrip().startswith("<?xml")
    assert report.to_csv().startswith("layer,head,max_abs_delta")


def test_different_models_refused():
    with pytest.raises(errors.InvalidArgumentError, match="not the same model"):
        fidelity.compare(InterpretableModel(str(STORIES)), TEXT, reference="attnscope:toy")


def test_lossy_path_warning(q8):
    assert "attnscope fidelity" in fidelity.lossy_path_warning(InterpretableModel(str(q8), dtype="float32"))
    assert fidelity.lossy_path_warning(InterpretableModel(str(STORIES), dtype="bfloat16")) is None
