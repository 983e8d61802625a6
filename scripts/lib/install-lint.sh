#!/usr/bin/env bash
# Installs the template linters, idempotently: cfn-lint (system pip) and checkov (own venv, it pins
# many packages that would otherwise fight moto's and awscli's). Re-running is a no-op when present.
set -euo pipefail
CFN_LINT_VERSION=${CFN_LINT_VERSION:-1.51.0}
CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}
CHECKOV_VENV=${CHECKOV_VENV:-/opt/fairflow-lint/checkov}

if ! command -v cfn-lint >/dev/null 2>&1; then
  python3 -m pip install --quiet "cfn-lint==${CFN_LINT_VERSION}"
fi

if ! "$CHECKOV_VENV/bin/checkov" --version >/dev/null 2>&1; then
  mkdir -p "$(dirname "$CHECKOV_VENV")"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet --upgrade pip
  "$CHECKOV_VENV/bin/pip" install --quiet "checkov==${CHECKOV_VERSION}"
fi
ln -sf "$CHECKOV_VENV/bin/checkov" /usr/local/bin/checkov
echo "cfn-lint $(cfn-lint --version 2>&1 | awk '{print $NF}'), checkov $(checkov --version 2>&1 | tail -1)"
