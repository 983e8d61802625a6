# Sourced by scripts/bench (bin = release fairflow, local AWS env exported): `fairflow logs tail --since 1h`
# against `aws logs filter-log-events` over the same few thousand events, both paging 1000 at a time.
bench_logs() {
  local events=${FAIRFLOW_BENCH_LOG_EVENTS:-5000} stack=fairflow-bench-logs tmp group now
  tmp=$(mktemp -d)
  cat >"$tmp/stack.json" <<'JSON'
{"Resources": {"SchedulerLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}}},
 "Outputs": {"SchedulerLogGroup": {"Value": {"Ref": "SchedulerLogGroup"}}}}
JSON
  aws cloudformation create-stack --stack-name "$stack" --template-body "file://$tmp/stack.json" >/dev/null
  local i
  for i in $(seq 1 150); do
    [ "$(aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].StackStatus' --output text)" = CREATE_COMPLETE ] && break
    sleep 0.2
  done
  group=$(aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Outputs[?OutputKey=='SchedulerLogGroup'].OutputValue" --output text)
  now=$(( $(date +%s) * 1000 ))
  python3 - "$tmp" "$events" "$now" <<'PY'
import json, sys
tmp, n, now = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for s in range(2):
    ev = [{"timestamp": now - 3_000_000 + i * 500 + s, "message": f"[2026-11-25 01:{i % 60:02d}:00] INFO scheduler_job_runner.py:{i} task {s}-{i} queued for execution with a realistic length of text"} for i in range(n // 2)]
    for c in range(0, len(ev), 5000):
        json.dump(ev[c:c + 5000], open(f"{tmp}/events-{s}-{c}.json", "w"))
PY
  for s in 0 1; do
    aws logs create-log-stream --log-group-name "$group" --log-stream-name "scheduler/scheduler/bench$s"
    for f in "$tmp"/events-$s-*.json; do
      aws logs put-log-events --log-group-name "$group" --log-stream-name "scheduler/scheduler/bench$s" --log-events "file://$f" >/dev/null
    done
  done
  local got
  got=$("$bin" logs tail scheduler --since 1h --stack "$stack" | wc -l)
  [ "$got" -eq "$events" ] || { echo "bench-logs: fairflow printed $got lines, expected $events" >&2; return 1; }
  python3 scripts/lib/bench.py --runs "$runs" --title "logs over $events events, pages of 1000 (local AWS)" \
    --name "fairflow logs tail --since 1h" -- "$bin" logs tail scheduler --since 1h --stack "$stack" --page-size 1000 \
    --name "aws logs filter-log-events" -- aws logs filter-log-events --log-group-name "$group" --start-time $((now - 3600000)) --page-size 1000
  aws cloudformation delete-stack --stack-name "$stack"
  rm -rf "$tmp"
}
bench_logs
