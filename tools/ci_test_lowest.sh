#!/usr/bin/env bash
# The fast suite (`pytest -m "not slow"`: no e2e, no PostgreSQL; sorted in tests/conftest.py) against the
# lowest Prefect that pyproject.toml allows, in an environment of its own, .tools/venv-lowest (.venv keeps
# uv.lock's Prefect).
#
# The floor is read from pyproject.toml (`prefect>=X,<4` installs prefect==X), so the range stated there is
# the range tested. Every other package keeps uv.lock's version wherever that Prefect accepts it: the lock's
# export is written first to the file `uv pip compile` then writes, and uv keeps the pins it finds there,
# changing only what the older Prefect requires (and resolving what it needs that the lock lacks).
# Arguments are passed to pytest. `make test-lowest` runs it (with xdist); .ci/run runs part of it after
# `make test-all`.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.tools/bin/uv}
VENV=.tools/venv-lowest

floor=$("${PYTHON:-python3}" - <<'EOF'
import re
import tomllib

with open("pyproject.toml", "rb") as f:
    dependencies = tomllib.load(f)["project"]["dependencies"]
prefect = next(d for d in dependencies if re.match(r"prefect\s*[<>=!~]", d))
print(re.search(r">=\s*([0-9][0-9.]*)", prefect).group(1))
EOF
)

[ -x "$VENV/bin/python" ] || "$UV" venv --quiet "$VENV"
echo "prefect==$floor" > "$VENV/prefect-floor.txt"
"$UV" export --frozen --quiet --no-hashes --no-emit-project --group dev --output-file "$VENV/requirements.txt"
"$UV" pip compile --quiet --python "$VENV/bin/python" pyproject.toml --group pyproject.toml:dev \
  --constraint "$VENV/prefect-floor.txt" --output-file "$VENV/requirements.txt"
"$UV" pip sync --quiet --python "$VENV/bin/python" "$VENV/requirements.txt"
"$UV" pip install --quiet --python "$VENV/bin/python" --no-deps --editable .

"$VENV/bin/python" - "$floor" <<'EOF'
import sys

import prefect
from packaging.version import Version

if Version(prefect.__version__) != Version(sys.argv[1]):
    sys.exit(f"expected prefect {sys.argv[1]} in .tools/venv-lowest, found {prefect.__version__}")
print(f"the fast suite against prefect {prefect.__version__}, the floor in pyproject.toml")
EOF
exec "$VENV/bin/python" -m pytest -m "not slow" "$@"
