#!/usr/bin/env bash
# Installs the Python packages scripts/local-aws and its tests need, at the pinned versions. Idempotent.
# The moto pin must match MOTO_PIN in scripts/localaws/moto_ext/__init__.py (the extensions patch
# moto's internals and are verified against this version only).
set -euo pipefail
MOTO_VERSION=5.2.1
py=${PYTHON:-python3}
have() { "$py" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('$1') == '$2' else 1)" 2>/dev/null; }
if have moto "$MOTO_VERSION" && "$py" -c "import flask, flask_cors, boto3, pytest, yaml, cfnlint" 2>/dev/null; then
  echo "install-local-aws: moto $MOTO_VERSION (server extra) and pytest already installed"
  exit 0
fi
"$py" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" boto3 pytest pyyaml
echo "install-local-aws: installed moto[server]==$MOTO_VERSION, boto3, pytest"
