#!/usr/bin/env bash
# Writes the template for every mode with the built binary, runs cfn-lint and checkov on each, and
# prints per-mode counts. Fails if cfn-lint reports anything or checkov fails more than 10 checks.
# Usage: scripts/lib/lint-templates.sh [--seed DIR] [--keep DIR]
#   --seed DIR  also measure the seed's synthesized templates in DIR (e.g. ../shared/reference/fairflow-cdk)
#   --keep DIR  write the templates to DIR and keep them (default: a temp dir, removed)
# Needs: swift build (or FAIRFLOW_BIN), cfn-lint and checkov (scripts/lib/install-lint.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FAIRFLOW_BIN:-$root/.build/debug/fairflow}
max_checkov=10
seed="" keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "lint-templates: unknown argument $1 — see the usage at the top of the script" >&2; exit 64 ;;
  esac
done
[ -x "$bin" ] || { echo "lint-templates: $bin not found — run swift build first (or set FAIRFLOW_BIN)" >&2; exit 1; }
command -v cfn-lint >/dev/null || { echo "lint-templates: cfn-lint missing — run scripts/lib/install-lint.sh" >&2; exit 1; }
command -v checkov >/dev/null || { echo "lint-templates: checkov missing — run scripts/lib/install-lint.sh" >&2; exit 1; }

if [ -n "$keep" ]; then out=$keep; mkdir -p "$out"; else out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
arn() { echo "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-$1-AbCdEf"; }
cat > "$out/test.env" <<ENV
AIRFLOW_FERNET_KEY_SECRET_ARN=$(arn fernet-key)
AIRFLOW_ADMIN_PASSWORD_SECRET_ARN=$(arn admin-password)
AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN=$(arn flower-credentials)
GIT_READ_ONLY_SECRET_ARN=
DAG_REPOSITORY=https://github.com/bshinnebarger/airflow-example-dags.git
IP_WHITELIST=
ENV
sed 's/^IP_WHITELIST=.*/IP_WHITELIST=203.0.113.10,198.51.100.0\/24/' "$out/test.env" > "$out/allowlist.env"
cert=arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0

# mode | env file | flags
modes="default|test.env|
ha|test.env|--ha
ha-autoscaling|test.env|--ha --autoscaling
autoscaling|test.env|--autoscaling
allowlist|allowlist.env|
certificate|test.env|--certificate-arn $cert
airflow2|test.env|--airflow-version 2
airflow2-ha-autoscaling|test.env|--airflow-version 2 --ha --autoscaling
airflow3-ha-autoscaling-yaml|test.env|--airflow-version 3 --ha --autoscaling --format yaml"

files=()
while IFS='|' read -r mode envf flags; do
  ext=json; case "$flags" in *yaml*) ext=yaml ;; esac
  # shellcheck disable=SC2086
  "$bin" generate --env "$out/$envf" $flags -o "$out/$mode.template.$ext" 2>/dev/null
  files+=("$out/$mode.template.$ext")
done <<< "$modes"

# counts: cfn-lint errors/warnings, checkov failed (and the failed IDs)
measure() {  # file -> "E W F ids"
  local f=$1 lint e w ck failed ids
  lint=$(cfn-lint --regions us-east-1 --format parseable -- "$f" 2>&1 || true)
  e=$(printf '%s\n' "$lint" | grep -c ':E[0-9]' || true)
  w=$(printf '%s\n' "$lint" | grep -c ':W[0-9]' || true)
  ck=$(checkov -f "$f" --framework cloudformation --compact --skip-download --quiet 2>/dev/null || true)
  failed=$(printf '%s\n' "$ck" | sed -n 's/.*Failed checks: \([0-9]*\).*/\1/p' | head -1)
  ids=$(printf '%s\n' "$ck" | grep -oE 'Check: CKV2?_AWS_[0-9]+' | awk '{print $2}' | sort | uniq -c | awk '{printf "%s%s ", $2, ($1>1?"x"$1:"")}')
  echo "${e:-0} ${w:-0} ${failed:-0} ${ids}"
}

status=0
printf '%-32s %8s %8s %8s  %s\n' MODE CFN-ERR CFN-WARN CHECKOV "FAILED CHECKS"
for f in "${files[@]}"; do
  read -r e w c ids <<< "$(measure "$f")"
  mode=$(basename "$f"); mode=${mode%.template.*}
  printf '%-32s %8s %8s %8s  %s\n' "$mode" "$e" "$w" "$c" "$ids"
  if [ "$e" != 0 ] || [ "$w" != 0 ]; then status=1; cfn-lint --regions us-east-1 -- "$f" >&2 || true; fi
  if [ "$c" -gt "$max_checkov" ]; then status=1; fi
done
if [ -n "$seed" ]; then
  for s in default ha ha-autoscaling autoscaling default-ipwhitelist; do
    [ -f "$seed/$s.template.json" ] || continue
    read -r e w c ids <<< "$(measure "$seed/$s.template.json")"
    printf '%-32s %8s %8s %8s  %s\n' "seed:$s" "$e" "$w" "$c" "$ids"
  done
fi
[ $status = 0 ] && echo "lint-templates: ok (cfn-lint clean, checkov <= $max_checkov failed per mode)" \
                || echo "lint-templates: FAILED (cfn-lint findings or checkov > $max_checkov)" >&2
exit $status
