"""examples/attention_guide.ipynb runs top to bottom and saves its figures under the build dir."""

import os
import shutil

import pytest

from conftest import MODELS_DIR, SOURCE_DIR

NOTEBOOK = SOURCE_DIR / "examples" / "attention_guide.ipynb"
FIGURES = ["quick_start_heatmap.png", "colorscales.png", "toy_grid.png", "stories_grid_plotly.html",
           "attention_explorer.html", "layer_summary.png", "prompt_comparison.png"]


def test_example_notebook_executes(artifacts):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    out = artifacts / "notebook"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    env_backup = dict(os.environ)
    os.environ["ATTNSCOPE_NOTEBOOK_OUT"] = str(out)
    os.environ["ATTNSCOPE_MODELS_DIR"] = str(MODELS_DIR)
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    try:
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(out)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    nbformat.write(nb, str(out / "attention_guide.executed.ipynb"))
    for name in FIGURES:
        assert (out / name).stat().st_size > 1000, name
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Captured 5 layers" in text
    assert "L1H0" in text  # the toy's induction head is reported
    assert any("text/html" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))  # the explorer was displayed
