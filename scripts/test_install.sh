#!/usr/bin/env bash
# `cmake --install` of a build into WORK_DIR/prefix, then examples/cpp built against it twice — with
# find_package(attnscope) and with pkg-config — and run on MODEL: both must print one line per
# layer with the pattern shape `attnscope info` gives and rows that sum to 1.
# Usage: scripts/test_install.sh BUILD_DIR WORK_DIR MODEL
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: test_install.sh BUILD_DIR WORK_DIR MODEL}
work=${2:?usage: test_install.sh BUILD_DIR WORK_DIR MODEL}
model=${3:?usage: test_install.sh BUILD_DIR WORK_DIR MODEL}
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
prompt="The cat sat on the mat"

cmake -S "$src/examples/cpp" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/trace_patterns" "$model" "$prompt" >"$work/cmake.out"

# shellcheck disable=SC2046  # pkg-config's flags are meant to split
g++ -std=c++20 -O1 "$src/examples/cpp/trace_patterns.cpp" -o "$work/pkg_config_example" \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs attnscope)
"$work/pkg_config_example" "$model" "$prompt" >"$work/pkg_config.out"

"$work/prefix/bin/attnscope" info -m "$model" --json >"$work/info.json"
"$work/prefix/bin/attnscope" tokens -m "$model" --json "$prompt" >"$work/tokens.json"
/usr/bin/python3 - "$work" <<'PY'
import json, pathlib, re, sys
work = pathlib.Path(sys.argv[1])
config = json.loads((work / "info.json").read_text())["model"]
n_tokens = len(json.loads((work / "tokens.json").read_text())["ids"])
for name in ("cmake.out", "pkg_config.out"):
    lines = (work / name).read_text().splitlines()
    assert len(lines) == config["n_layer"], (name, lines)
    for layer, line in enumerate(lines):
        m = re.fullmatch(r"layer (\d+) \[(\d+), (\d+), (\d+), (\d+)\] max \|row sum - 1\| (\S+)", line)
        assert m, (name, line)
        shape = [int(g) for g in m.groups()[1:5]]
        assert int(m.group(1)) == layer and shape == [1, config["n_head"], n_tokens, n_tokens], (name, line)
        assert float(m.group(6)) < 1e-5, (name, line)
print(f"installed package: {config['n_layer']} layers x {config['n_head']} heads over {n_tokens} tokens, "
      "built with find_package and with pkg-config")
PY
