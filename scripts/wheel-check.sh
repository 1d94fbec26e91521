#!/usr/bin/env bash
# The installed package, not the source tree: build the wheel, install it into a clean virtualenv
# outside the repository, and run the pipeline from there (scripts/wheel_smoke.py). A package or data
# file left out of the wheel (the page's static files, a simulator subpackage, SQL) fails here.
#   scripts/wheel-check.sh [WHEEL]   (default: build one from this checkout)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
uv="$repo/.venv/bin/uv"
tmp=$(mktemp -d /tmp/feijian-wheel.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 1 ]; then
  wheel=$1
else
  "$uv" build --quiet --wheel --out-dir "$tmp/dist" "$repo"
  wheel=$(ls "$tmp"/dist/feijian-*.whl)
fi
echo "wheel: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KB)"
python3 -m venv "$tmp/venv"
"$uv" pip sync --quiet --compile-bytecode --python "$tmp/venv/bin/python" "$repo/requirements.lock"
"$uv" pip install --quiet --compile-bytecode --no-deps --python "$tmp/venv/bin/python" "$wheel"
mkdir "$tmp/run"
cd "$tmp/run"
# the smoke script is copied out so that nothing of the source tree is on sys.path
cp "$repo/scripts/wheel_smoke.py" "$tmp/wheel_smoke.py"
env -u PYTHONPATH -u FEIJIAN_WORKSPACE -u FEIJIAN_MODELS -u FEIJIAN_MLRUNS -u FEIJIAN_DB_URL \
  -u FEIJIAN_PSEUDONYM_KEY -u FEIJIAN_PSEUDONYM_KEY_FILE \
  "$tmp/venv/bin/python" -I "$tmp/wheel_smoke.py" "$tmp/venv"
