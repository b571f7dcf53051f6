#!/usr/bin/env bash
# `pip install --no-build-isolation .` from a clean copy of the repository (tracked and
# untracked-but-not-ignored files: no build directories) into a fresh
# `python3 -m venv --system-site-packages`, then a smoke test of the installed package run from
# outside the source tree. Usage: scripts/test_pip_install.sh WORK_DIR [MODELS_DIR]
# WORK_DIR is emptied first; keeping it at a fixed path lets ccache reuse the compiled objects.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:?usage: test_pip_install.sh WORK_DIR}
rm -rf "$work"
mkdir -p "$work/src"
cd "$src"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$work/src"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache
fi
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
"$work/venv/bin/pip" install --no-build-isolation --no-index --no-deps -q "$work/src"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import pathlib, sys
import numpy as np
import attnscope
from attnscope import InterpretableModel
from attnscope.visualization import get_attention_patterns

where = pathlib.Path(attnscope.__file__).resolve()
assert "venv" in where.parts, f"imported {where}, not the installed package"
model = InterpretableModel("attnscope:toy")
with model.trace("abcdefghij abcde") as trace:
    pass
patterns = get_attention_patterns(trace)
assert sorted(patterns) == [0, 1] and patterns[1].shape[:2] == (1, 4), {k: v.shape for k, v in patterns.items()}
rows = patterns[1][0].sum(axis=-1)
assert np.allclose(rows, 1, atol=1e-5), rows
# The toy's L1H0 is an induction head: on the repeat it predicts the next letter.
assert model.token_to_str(model.get_token_predictions(trace.output[0, -1], top_k=1)[0]) == "f"
print("installed attnscope", attnscope.__version__, "from", where.parent)
PY
# The command comes with the package: the venv's console script runs the bundled program.
version=$("$work/venv/bin/attnscope" --version)
[ "$version" = "attnscope $("$work/venv/bin/python" -c 'import attnscope; print(attnscope.__version__)')" ] || {
  echo "venv attnscope --version printed '$version'"
  exit 1
}
"$work/venv/bin/attnscope" info -m attnscope:toy --json | "$work/venv/bin/python" -c \
  'import json, sys; c = json.load(sys.stdin)["model"]; assert c["n_layer"] == 2, c; print("installed command:", c["arch"])'
