"""Loads the compiled extension with an error that says what to do when it is missing."""

try:
    from . import _core as core  # noqa: F401
except ImportError as exc:  # pragma: no cover - only when the package was not built
    raise ImportError(
        "attnscope's compiled extension (attnscope._core) could not be imported: "
        f"{exc}. Build it with `cmake --build <build-dir> --target _core` and put "
        "<build-dir>/python on PYTHONPATH, or install with `pip install --no-build-isolation .`"
    ) from exc
