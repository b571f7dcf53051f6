#!/usr/bin/env bash
# Installs everything attnscope needs on Debian 12 (as root), builds it, and runs the main job:
# the interactive attention explorer on the built-in toy model. Safe to run again.
#   bash scripts/setup.sh            install + build + install attnscope into /usr/local + explore
#   bash scripts/setup.sh --deps     install only (used by .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libdnnl-dev libpcre2-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev libcairo2-dev
  libcurl4-openssl-dev libssl-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
  fonts-dejavu-core
  python3 python3-dev pybind11-dev python3-pybind11 python3-numpy python3-matplotlib
  python3-plotly python3-pytest python3-ipython python3-setuptools python3-pip
  python3-nbformat python3-nbclient python3-ipykernel python3-pandas python3-dask python3-distributed python3-tqdm
  python3-venv libhwy-dev clang clang-format libclang-rt-14-dev libomp-14-dev libboost-dev
  chromium
)
# Node.js: Debian's nodejs + npm on a fresh machine; a Node.js that is already installed (e.g. a
# vendor package that bundles npm and conflicts with Debian's npm package) is used as it is.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Browser tests drive Debian's chromium through playwright-core (npm; it never downloads a browser).
if [ -f tests/browser/package-lock.json ]; then
  (
    cd tests/browser
    want=$(node -p "require('./package-lock.json').packages['node_modules/playwright-core'].version")
    have=$(node -p "require('./node_modules/playwright-core/package.json').version" 2>/dev/null || true)
    [ "$want" = "$have" ] || npm ci --no-audit --no-fund
  )
fi

[ "${1:-}" = "--deps" ] && exit 0

cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
# The command, headers, libraries, CMake package and pkg-config file into /usr/local: `attnscope`
# is on the PATH, and find_package(attnscope) / pkg-config find the library.
cmake --install build/release --prefix /usr/local >/dev/null
mkdir -p out
attnscope explore -o out/explorer.html
echo "setup: open out/explorer.html in a browser"
