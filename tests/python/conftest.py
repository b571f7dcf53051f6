"""Shared fixtures of the Python tests: the models, the CLI, and where artifacts go.

Run by ctest as `python3 -m pytest tests/python` with PYTHONPATH=<build>/python and
ATTNSCOPE_MODELS_DIR / ATTNSCOPE_BINARY_DIR / ATTNSCOPE_CLI set (tests/CMakeLists.txt).
"""

import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot

import pytest  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
SOURCE_DIR = HERE.parent.parent
MODELS_DIR = pathlib.Path(os.environ.get("ATTNSCOPE_MODELS_DIR", SOURCE_DIR.parent / "shared" / "models")).resolve()
BINARY_DIR = pathlib.Path(os.environ.get("ATTNSCOPE_BINARY_DIR", SOURCE_DIR / "build" / "release")).resolve()
CLI = os.environ.get("ATTNSCOPE_CLI", str(BINARY_DIR / "bin" / "attnscope"))
STORIES = MODELS_DIR / "stories260K.gguf"

# The toy model's constructed heads (README "The toy model").
TOY_PREVIOUS = (0, 0)
TOY_FIRST = (0, 2)
TOY_CURRENT = (0, 3)
TOY_INDUCTION = (1, 0)


@pytest.fixture(scope="session")
def toy():
    from attnscope import InterpretableModel

    return InterpretableModel("attnscope:toy")


@pytest.fixture(scope="session")
def stories():
    from attnscope import InterpretableModel

    if not STORIES.exists():
        pytest.skip(f"{STORIES} not present")
    return InterpretableModel(str(STORIES))


@pytest.fixture(scope="session", params=["toy", "stories260K"])
def any_model(request, toy, stories):
    return toy if request.param == "toy" else stories


@pytest.fixture(scope="session")
def artifacts():
    """Where tests leave figures and HTML for people to look at."""
    out = BINARY_DIR / "test_artifacts" / "python"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
