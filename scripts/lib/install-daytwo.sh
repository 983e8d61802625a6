#!/usr/bin/env bash
# DayTwoTests check the Fernet key with Python's cryptography package (moto depends on it, so it is
# normally there already). Idempotent.
set -euo pipefail
python3 -c "import cryptography.fernet" 2>/dev/null || python3 -m pip install -q cryptography
