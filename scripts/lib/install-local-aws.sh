#!/usr/bin/env bash
# The local AWS's pinned moto (with its server extra).
set -euo pipefail
MOTO_VERSION=5.2.1
have=$(python3 -c "import moto; print(moto.__version__)" 2>/dev/null || true)
if [ "$have" != "$MOTO_VERSION" ] || ! python3 -c "import flask, flask_cors" 2>/dev/null; then
  echo "install-local-aws: pip install moto[server]==$MOTO_VERSION" >&2
  python3 -m pip install -q "moto[server]==$MOTO_VERSION"
fi
