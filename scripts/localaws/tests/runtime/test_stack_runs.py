"""The generated stack really runs in the local AWS (`--run`), and fairflow's commands tell the truth about it.

One module-scoped deployment of `fairflow generate`'s default template at Airflow 3.2.2 (deployed with
`fairflow deploy`, DAGs from a local git repository through the stack's git-sync service), then what an
on-call user would do and check: status, a DAG through the ALB URL, its S3 log, component logs, EFS, the
database, scaling, and faults (an unhealthy target, a broken worker environment caught by deploy's stall
detector, a missing secret); then `fairflow upgrade` to 3.3.2 (refused by its import test, then killed
mid-migration, resumed, and rolled back by a failing canary); and at last teardown leaving no process, port
or directory. Needs FAIRFLOW_BIN (scripts/test sets it); skipped without it.
"""
import datetime
import json
import os
import pathlib
import shutil
import socket
import subprocess
import time

import pytest

from census import census

FAIRFLOW_BIN = os.environ.get("FAIRFLOW_BIN")
ROOT = pathlib.Path(__file__).resolve().parents[4]
STACK = "FairflowStack"
FROM_VERSION, TO_VERSION = "3.2.2", "3.3.2"   # the upgrade the module rehearses
pytestmark = pytest.mark.skipif(not FAIRFLOW_BIN, reason="FAIRFLOW_BIN (the built fairflow) is not set")


class Stack:
    def __init__(self, aws, work):
        self.aws, self.work = aws, work
        self.env_file = work / "us-east-1.env"
        self.registered = []   # task definition revisions the tests register (not the stack's)

    def env(self, **extra):
        env = {**os.environ, "AWS_ENDPOINT_URL": self.aws["LOCAL_AWS_ENDPOINT"], "AWS_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": self.aws["AWS_ACCESS_KEY_ID"],
               "AWS_SECRET_ACCESS_KEY": self.aws["AWS_SECRET_ACCESS_KEY"], "AWS_EC2_METADATA_DISABLED": "true",
               "FAIRFLOW_POLL_SECONDS": "1", "HOSTS": self.aws["LOCAL_AWS_HOSTS_FILE"], "NO_COLOR": "1", **extra}
        env.pop("AWS_PROFILE", None)
        return env

    def argv(self, *args):
        return ["unshare", "-m", "sh", "-c", 'mount --bind "$HOSTS" /etc/hosts && exec "$@"', "fairflow",
                FAIRFLOW_BIN, *args, "--env", str(self.env_file)]

    def ff(self, *args, timeout=600, check=None, env=None):
        """Runs fairflow with the local AWS's hosts file over /etc/hosts (this process tree only)."""
        r = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, env=self.env(**(env or {})),
                           cwd=str(self.work))
        if check is not None and r.returncode != check:
            raise AssertionError(f"fairflow {' '.join(args)} exited {r.returncode} (wanted {check})\n"
                                 f"stdout:\n{r.stdout[-4000:]}\nstderr:\n{r.stderr[-6000:]}")
        return r

    def git(self, *args):
        subprocess.run(["git", "-C", str(self.repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                       check=True, capture_output=True)

    def json(self, *args, check=0, timeout=600):
        r = self.ff(*args, "--output", "json", timeout=timeout, check=check)
        return json.loads(r.stdout)

    def service(self, component_prefix):
        ecs = self.aws.client("ecs")
        cluster = self.output("ClusterName")
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        for s in ecs.describe_services(cluster=cluster, services=arns)["services"]:
            if s["serviceName"].lower().startswith(f"{STACK}-{component_prefix}".lower()) or \
                    component_prefix.lower() in s["serviceName"].lower():
                return s
        raise AssertionError(f"no ECS service like {component_prefix}: {arns}")

    def output(self, key):
        outs = self.aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
        return next(o["OutputValue"] for o in outs if o["OutputKey"] == key)

    def task_processes(self, task_arn):
        """PIDs in the task's cgroup (the runtime names each task's cgroup after its id)."""
        task_id = task_arn.rsplit("/", 1)[-1]
        base = pathlib.Path(f"/sys/fs/cgroup/unified/fairflow-local-aws-{self.aws['LOCAL_AWS_PID']}")
        pids = []
        for d in base.rglob("cgroup.procs"):
            if task_id in str(d.parent):
                pids += [int(x) for x in d.read_text().split()]
        return pids


def wait_for(what, fn, timeout, every=2.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def stack(run_aws, tmp_path_factory):
    work = tmp_path_factory.mktemp("stack")
    repo = work / "dags.git"
    repo.mkdir()
    for d in (ROOT / "scripts" / "demo-dags", pathlib.Path(__file__).parent / "upgrade-dags"):
        for f in d.iterdir():
            shutil.copy(f, repo / f.name)
    subprocess.run(["git", "-C", str(repo), "init", "-q", "-b", "main"], check=True)
    s = Stack(run_aws, work)
    s.repo = repo
    s.git("add", "-A")
    s.git("commit", "-qm", "dags")
    s.env_file.write_text(f"DAG_REPOSITORY=file://{repo}\nIP_WHITELIST=\n")
    s.ff("secrets", "init", "--yes", check=0)
    started = time.time()
    r = s.ff("deploy", "--yes", "--airflow-version", FROM_VERSION, timeout=900)
    s.deploy_seconds = time.time() - started
    if r.returncode != 0:
        raise AssertionError(f"deploy failed ({r.returncode}) after {s.deploy_seconds:.0f} s\n{r.stderr[-8000:]}\n"
                             f"local AWS log tail:\n{run_aws.server_log()[-6000:]}")
    yield s


def test_deploy_waits_for_services_and_status_is_healthy(stack):
    st = stack.json("status")
    assert st["problems"] == [], st["problems"]
    assert st["stackStatus"] == "CREATE_COMPLETE"
    for svc in st["services"]:
        assert svc["running"] == svc["desired"] >= 1, svc
    elbv2 = stack.aws.client("elbv2")
    for tg in elbv2.describe_target_groups()["TargetGroups"]:
        health = elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
        assert health and all(h["TargetHealth"]["State"] == "healthy" for h in health), (tg["TargetGroupName"], health)
    rds = stack.aws.client("rds").describe_db_instances()["DBInstances"]
    assert [d["DBInstanceStatus"] for d in rds] == ["available"]
    # the api-server task is a real process group
    ecs = stack.aws.client("ecs")
    api = stack.service("ApiServer")
    tasks = ecs.list_tasks(cluster=stack.output("ClusterName"), serviceName=api["serviceName"])["taskArns"]
    assert tasks and all(stack.task_processes(t) for t in tasks)


def test_a_dag_runs_through_the_alb_and_its_log_is_in_s3(stack):
    r = stack.ff("dags", "trigger", "MeaningOfLifeDag", "--unpause", "--wait", "--timeout", "300", "--output", "json",
                 check=0, timeout=400)
    run = json.loads(r.stdout)
    assert run["state"] == "success"
    # The worker uploads the log when the try ends, a moment after the run's state says success.
    log = wait_for("the task log in S3", lambda: (lambda r: r if r.returncode == 0 else None)(
        stack.ff("logs", "task", "MeaningOfLifeDag", run["runId"], "runs_on_worker")), 60, 3)
    assert "The meaning of life is 42" in log.stdout


def test_the_ecs_operator_dag_runs_the_external_tasks(stack):
    """EcsRunTaskOperator with the task role's own permissions (RunTask scoped to the families and the
    cluster, DescribeTasks, GetLogEvents on the external log group), each task a real process."""
    r = stack.ff("dags", "trigger", "ECSExternalTasks", "--unpause", "--wait", "--timeout", "300", "--output", "json",
                 timeout=400)
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "success", r.stdout + r.stderr[-3000:]
    logs = stack.aws.client("logs")
    group = stack.output("ExternalTaskLogGroup")
    lines = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert any("hello from the big task" in m for m in lines) and any("hello from the little task" in m for m in lines), lines


def test_logs_tail_shows_real_scheduler_lines(stack):
    r = stack.ff("logs", "tail", "scheduler", "--since", "30m", check=0)
    assert "scheduler" in r.stdout.lower() or "Starting the scheduler" in r.stdout, r.stdout[-2000:]
    assert len(r.stdout.splitlines()) > 5


def test_efs_ls_lists_the_synced_dags(stack):
    r = stack.ff("efs", "ls", "/repo", "--access-point", "dags", check=0)
    for f in ("meaning_of_life.py", "synchronize_repository.py", "ecs_external_tasks.py"):
        assert f in r.stdout, r.stdout


def test_db_check_is_ok_on_the_migrated_schema(stack):
    stack.ff("db", "check", check=0)


def test_scaling_the_workers_starts_and_stops_process_groups(stack):
    ecs = stack.aws.client("ecs")
    cluster = stack.output("ClusterName")
    worker = stack.service("Worker")["serviceName"]

    def running():
        arns = ecs.list_tasks(cluster=cluster, serviceName=worker, desiredStatus="RUNNING")["taskArns"]
        ts = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
        return [t["taskArn"] for t in ts if t["lastStatus"] == "RUNNING"]

    # (3 → 1 with light containers: test_ecs_services.py; here the real Celery workers, 2 → 1)
    stack.ff("scale", "worker", "2", "--yes", check=0, timeout=600)
    two = running()
    assert len(two) == 2 and all(stack.task_processes(t) for t in two)
    addrs = {next(d["value"] for d in ecs.describe_tasks(cluster=cluster, tasks=[t])["tasks"][0]["attachments"][0]["details"]
                  if d["name"] == "privateIPv4Address") for t in two}
    assert len(addrs) == 2, addrs    # each task its own address: no collision on the log server's 8793
    stack.ff("scale", "worker", "1", "--yes", check=0, timeout=600)
    one = wait_for("one worker", lambda: (lambda r: r if len(r) == 1 else None)(running()), 120)
    stopped = [t for t in two if t not in one]
    assert len(stopped) == 1
    wait_for("stopped workers' processes gone", lambda: all(not stack.task_processes(t) for t in stopped), 60)


def test_an_unhealthy_target_makes_status_exit_3_naming_it(stack):
    elbv2 = stack.aws.client("elbv2")
    tg = next(t for t in elbv2.describe_target_groups()["TargetGroups"] if t["Port"] == 8080)
    orig = {k: tg[k] for k in ("Matcher", "HealthCheckIntervalSeconds", "UnhealthyThresholdCount",
                               "HealthyThresholdCount")}
    # Airflow's UI answers 200 on any path (the SPA), so the check is made to want another code.
    elbv2.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], Matcher={"HttpCode": "201"},
                              HealthCheckIntervalSeconds=5, UnhealthyThresholdCount=2, HealthyThresholdCount=2)
    try:
        wait_for("the UI target unhealthy", lambda: any(
            h["TargetHealth"]["State"] == "unhealthy" for h in
            elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]), 60, 1)
        r = stack.ff("status", "--output", "json", check=3)
        problems = json.loads(r.stdout)["problems"]   # [{component, problem, evidence}]
        assert any(p["component"] == "api-server" and "healthy" in json.dumps(p).lower() for p in problems), problems
    finally:
        elbv2.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], Matcher=orig["Matcher"],
                                  HealthCheckIntervalSeconds=5, UnhealthyThresholdCount=orig["UnhealthyThresholdCount"],
                                  HealthyThresholdCount=2)
    wait_for("the UI target healthy again", lambda: (lambda hs: hs and all(
        h["TargetHealth"]["State"] == "healthy" for h in hs))(
        elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]), 300, 2)


def iso(t):
    return datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))


def test_a_broken_worker_is_a_stall_verdict_quoting_celery_and_the_update_rolls_back(stack):
    """deploy's stall detector: a worker whose broker URL names no transport crashes at once; the second crash
    is the verdict (ECS's reason, the exit code, Celery's own error line), --on-stall fail cancels the update."""
    started = time.time()
    r = stack.ff("deploy", "--yes", "--airflow-version", FROM_VERSION, "--on-stall", "fail", "--output", "json",
                 env={"FAIRFLOW_TEST_CONTAINER_ENV": "worker:AIRFLOW__CELERY__BROKER_URL=nosuchtransport://redis:6379/0",
                      "FAIRFLOW_STALL_POLL_SECONDS": "3"}, timeout=900)
    took = time.time() - started
    assert r.returncode == 1, r.stderr[-6000:]
    line = next((x for x in r.stderr.splitlines() if '"event":"stall"' in x), None)
    assert line, r.stderr[-6000:]
    v = json.loads(line)["verdict"]
    assert v["component"] == "worker", v
    assert v["exitCode"] not in (None, 0), v
    assert v["reason"] == "Essential container in task exited", v
    assert any("nosuchtransport" in x.lower() for x in v["logLines"]), v["logLines"]
    assert "UPDATE_ROLLBACK_COMPLETE" in r.stderr, r.stderr[-3000:]
    verdict_after = (iso(v["detectedAt"]) - iso(v["firstFailureAt"])).total_seconds()
    print(f"\nstall detector: first crash to verdict {verdict_after:.0f} s; deploy to exit {took:.0f} s")
    assert verdict_after < 180, v
    # the timeline shows the update, the failing worker tasks and the rollback, in that order
    entries = stack.json("timeline", "--since", "1h")["entries"]
    msgs = [f"{e['source']}\t{e['component']}\t{e['message']}" for e in entries]
    update = max(i for i, m in enumerate(msgs) if f"{STACK} UPDATE_IN_PROGRESS" in m)
    crash = max(i for i, m in enumerate(msgs) if m.startswith("ecs-task\tworker\t"))
    rollback = max(i for i, m in enumerate(msgs) if f"{STACK} UPDATE_ROLLBACK_COMPLETE" in m)
    assert update < crash < rollback, "\n".join(msgs[-40:])
    # back on the working template: status healthy again
    stack.ff("status", "--watch", "--timeout", "5m", "--interval", "5s", check=0, timeout=400)


def test_a_missing_secret_stops_the_task_with_ecs_reason(stack):
    ecs = stack.aws.client("ecs")
    cluster = stack.output("ClusterName")
    big = ecs.describe_task_definition(taskDefinition=stack.output("BigTaskDefinitionFamily"))["taskDefinition"]
    c = dict(big["containerDefinitions"][0])
    c["secrets"] = [{"name": "NOPE", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret-AbCdEf"}]
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "volumes", "requiresCompatibilities", "cpu", "memory")
    td = ecs.register_task_definition(**{k: big[k] for k in keep if k in big}, containerDefinitions=[c])["taskDefinition"]
    stack.registered.append(td["taskDefinitionArn"])
    subnets = stack.output("PrivateSubnetIds").split(",")
    sg = stack.output("ExternalTasksSecurityGroupId")
    t = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"], launchType="FARGATE",
                     networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}})["tasks"][0]
    done = wait_for("the task to stop", lambda: (lambda x: x if x["lastStatus"] == "STOPPED" else None)(
        ecs.describe_tasks(cluster=cluster, tasks=[t["taskArn"]])["tasks"][0]), 60, 1)
    assert done["stoppedReason"].startswith("ResourceInitializationError: unable to pull secrets or registry auth"), done
    assert done["stopCode"] == "TaskFailedToStart"


def one_off_definitions(stack):
    """ACTIVE task definitions the upgrade's one-off tasks registered (they must all be gone again)."""
    ecs = stack.aws.client("ecs")
    return ecs.list_task_definitions(familyPrefix=f"{STACK}-upgrade", status="ACTIVE")["taskDefinitionArns"]


def test_an_upgrade_whose_import_test_finds_a_broken_dag_is_refused_with_nothing_changed(stack):
    """uses_action_logger.py imports a module Airflow 3.3 removed: it parses on 3.2.2, not on 3.3.2."""
    before = stack.aws.client("ecs").describe_services(cluster=stack.output("ClusterName"),
                                                       services=[stack.service("Scheduler")["serviceName"]])["services"][0]
    r = stack.ff("upgrade", "--airflow-version", TO_VERSION, "--yes", timeout=900)
    assert r.returncode == 1, r.stdout + r.stderr[-4000:]
    assert "uses_action_logger.py" in r.stderr and "action_logger" in r.stderr, r.stderr[-4000:]
    assert "import-test" in r.stdout and "failed" in r.stdout, r.stdout
    assert stack.output("AirflowVersion") == FROM_VERSION
    snaps = stack.aws.client("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert not [x for x in snaps if x["DBSnapshotIdentifier"].startswith("fairflow-upgrade-")], snaps
    after = stack.aws.client("ecs").describe_services(cluster=stack.output("ClusterName"),
                                                      services=[before["serviceName"]])["services"][0]
    assert (after["taskDefinition"], after["desiredCount"]) == (before["taskDefinition"], before["desiredCount"])
    assert one_off_definitions(stack) == []


def test_an_upgrade_killed_mid_migration_resumes_and_a_failing_canary_rolls_it_back(stack):
    """3.2.2 → 3.3.2: SIGKILL while the migration task runs; `runbook resume` follows the same task (no second
    migration), rolls every service, verifies with two canaries: MeaningOfLifeDag runs to success on 3.3.2,
    CanaryFails fails (the forced failure at step 7), so the rollback downgrades the schema and redeploys 3.2.2,
    where the DAG runs from before the upgrade are still there."""
    stack.git("rm", "-q", "uses_action_logger.py")
    stack.git("commit", "-qm", "drop the DAG that breaks on 3.3")
    stack.ff("dags", "sync", check=0, timeout=400)
    runs_before = stack.json("dags", "runs", "MeaningOfLifeDag")
    assert any(x["state"] == "success" for x in runs_before["runs"]), runs_before
    argv = stack.argv("upgrade", "--airflow-version", TO_VERSION, "--canary", "MeaningOfLifeDag", "--canary", "CanaryFails", "--yes")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=stack.env(),
                         cwd=str(stack.work), start_new_session=True)
    err = []
    deadline = time.time() + 600
    for line in p.stderr:   # the first line of the migration task's log: the migration is under way
        err.append(line)
        if line.startswith("migrate | ") or time.time() > deadline:
            break
    os.killpg(p.pid, 9)
    p.wait()
    first = "".join(err)
    assert "migrate | " in first, first[-4000:]
    run_id = next(x.split()[1].rstrip(":") for x in err if x.startswith("run "))
    r = stack.ff("runbook", "resume", run_id, "--output", "json", timeout=1500)
    summary = json.loads(r.stdout)
    steps = {x["id"]: x for x in summary["steps"]}
    print("\nupgrade step times (s): " + ", ".join(f"{k} {v.get('durationSeconds') or 0:.0f}" for k, v in steps.items()))
    assert r.returncode == 1 and summary["status"] == "failed", r.stderr[-6000:]
    for sid in ("preflight", "import-test", "snapshot", "quiesce", "migrate", "roll"):
        assert steps[sid]["outcome"] == "succeeded", (sid, steps[sid])
    assert steps["verify"]["outcome"] == "failed" and "CanaryFails" in steps["verify"]["error"], steps["verify"]
    assert steps["rollback"]["outcome"] == "succeeded", (steps["rollback"], r.stderr[-6000:])
    assert steps["rollback"]["outputs"]["method"] == "downgrade", steps["rollback"]
    # the resumed run followed the killed run's migration task: one migration in all
    ecs = stack.aws.client("ecs")
    cluster = stack.output("ClusterName")
    stopped = ecs.list_tasks(cluster=cluster, family=f"{STACK}-upgrade-migrate", desiredStatus="STOPPED")["taskArns"]
    assert len(stopped) == 1, stopped
    # MeaningOfLifeDag ran to success on 3.3.2 before the forced failure
    assert "canary: triggering MeaningOfLifeDag" in r.stderr and "verify: the canary DAG CanaryFails ended failed" in r.stderr
    # back on 3.2.2: the output, the images, the schema, and the runs from before
    assert stack.output("AirflowVersion") == FROM_VERSION
    sched = ecs.describe_services(cluster=cluster, services=[stack.service("Scheduler")["serviceName"]])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=sched["taskDefinition"])["taskDefinition"]
    assert {c["image"] for c in td["containerDefinitions"]} == {f"apache/airflow:{FROM_VERSION}"}
    assert sched["desiredCount"] == sched["runningCount"] == 1
    db = stack.json("db", "check")
    assert next(c for c in db["checks"] if c["name"] == "schema-revision")["status"] == "pass", db
    runs_after = {x["runId"] for x in stack.json("dags", "runs", "MeaningOfLifeDag")["runs"]}
    assert {x["runId"] for x in runs_before["runs"]} <= runs_after
    assert one_off_definitions(stack) == []
    # the snapshot is the run's, kept for the user (and `upgrade --rollback --restore snapshot`)
    snap = steps["snapshot"]["outputs"]["snapshotId"]
    assert stack.aws.client("rds").describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]["Status"] == "available"


def test_teardown_leaves_no_resource_process_or_port(stack):
    for arn in stack.registered:   # what the tests above registered themselves is theirs to remove
        stack.aws.client("ecs").deregister_task_definition(taskDefinition=arn)
    alb = stack.output("AlbDnsName")
    hosts = pathlib.Path(stack.aws["LOCAL_AWS_HOSTS_FILE"]).read_text().split("\n")
    alb_ip = next(line.split()[0] for line in hosts if line.strip().endswith(alb.lower()))
    assert alb_ip.startswith("127.")
    stack.ff("teardown", "--yes", "--delete-secrets", check=0, timeout=900)
    left = {k: v for k, v in census(stack.aws.client).items() if v}
    # The airflow-* secrets are scheduled for deletion (7-day recovery window), as teardown says.
    sm = stack.aws.client("secretsmanager")
    left["secretsmanager:secret"] = [n for n in left.get("secretsmanager:secret", [])
                                     if "DeletedDate" not in sm.describe_secret(SecretId=n)]
    left = {k: v for k, v in left.items() if v}
    assert not left, left
    base = pathlib.Path(f"/sys/fs/cgroup/unified/fairflow-local-aws-{stack.aws['LOCAL_AWS_PID']}")
    procs = [p for f in base.rglob("cgroup.procs") for p in f.read_text().split()]
    assert not procs, f"processes left: {procs}"
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((alb_ip, 80)) != 0, "the ALB still listens"
