# Sourced by scripts/repro.sh and scripts/test.sh: create .venv if missing, install the pinned
# packages when pyproject.toml changed, and put the venv first on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
if [ ! -e .dvc/plots/offline.html ] || ! grep -qs html_template .dvc/config.local; then
    python -m pipeline offline-plots >/dev/null
fi
