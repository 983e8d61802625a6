"""The generated stack really runs in the local AWS (`--run`), and fairflow's commands tell the truth about it.

One module-scoped deployment of `fairflow generate`'s default template (deployed with `fairflow deploy`,
DAGs from a local git repository through the stack's git-sync service), then what an on-call user would do
and check: status, a DAG through the ALB URL, its S3 log, component logs, EFS, the database, scaling, and
faults (an unhealthy target, a broken worker environment, a missing secret), and at last teardown leaving
no process, port or directory. Needs FAIRFLOW_BIN (scripts/test sets it); skipped without it.
"""
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
pytestmark = pytest.mark.skipif(not FAIRFLOW_BIN, reason="FAIRFLOW_BIN (the built fairflow) is not set")


class Stack:
    def __init__(self, aws, work):
        self.aws, self.work = aws, work
        self.env_file = work / "us-east-1.env"
        self.registered = []   # task definition revisions the tests register (not the stack's)

    def ff(self, *args, timeout=600, check=None):
        """Runs fairflow with the local AWS's hosts file over /etc/hosts (this process tree only)."""
        env = {**os.environ, "AWS_ENDPOINT_URL": self.aws["LOCAL_AWS_ENDPOINT"], "AWS_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": self.aws["AWS_ACCESS_KEY_ID"],
               "AWS_SECRET_ACCESS_KEY": self.aws["AWS_SECRET_ACCESS_KEY"], "AWS_EC2_METADATA_DISABLED": "true",
               "FAIRFLOW_POLL_SECONDS": "1", "HOSTS": self.aws["LOCAL_AWS_HOSTS_FILE"], "NO_COLOR": "1"}
        env.pop("AWS_PROFILE", None)
        argv = ["unshare", "-m", "sh", "-c", 'mount --bind "$HOSTS" /etc/hosts && exec "$@"', "fairflow",
                FAIRFLOW_BIN, *args, "--env", str(self.env_file)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(self.work))
        if check is not None and r.returncode != check:
            raise AssertionError(f"fairflow {' '.join(args)} exited {r.returncode} (wanted {check})\n"
                                 f"stdout:\n{r.stdout[-4000:]}\nstderr:\n{r.stderr[-6000:]}")
        return r

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
    for f in (ROOT / "scripts" / "demo-dags").iterdir():
        shutil.copy(f, repo / f.name)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "-C", str(repo), "init", "-q", "-b", "main"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "dags"], check=True)
    s = Stack(run_aws, work)
    s.env_file.write_text(f"DAG_REPOSITORY=file://{repo}\nIP_WHITELIST=\n")
    s.ff("secrets", "init", "--yes", check=0)
    started = time.time()
    r = s.ff("deploy", "--yes", timeout=900)
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


def test_a_broken_worker_environment_stops_with_its_real_error_and_trips_the_breaker(stack):
    ecs = stack.aws.client("ecs")
    cluster = stack.output("ClusterName")
    svc = stack.service("Worker")
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    for c in td["containerDefinitions"]:
        if c["name"] == "worker":
            c["environment"] = [e for e in c["environment"] if e["name"] != "AIRFLOW__CELERY__BROKER_URL"] + \
                [{"name": "AIRFLOW__CELERY__BROKER_URL", "value": "nosuchtransport://redis:6379/0"}]
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
            "requiresCompatibilities", "cpu", "memory")
    broken = ecs.register_task_definition(**{k: td[k] for k in keep if k in td})["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=svc["serviceName"], taskDefinition=broken)
    stack.registered.append(broken)

    def failed():
        d = ecs.describe_services(cluster=cluster, services=[svc["serviceName"]])["services"][0]
        return d if any(x.get("rolloutState") == "FAILED" for x in d["deployments"]) or \
            (d["taskDefinition"] == svc["taskDefinition"] and "circuit breaker" in json.dumps(d["events"][:10], default=str)) else None
    d = wait_for("the circuit breaker to trip", failed, 600, 3)
    arns = ecs.list_tasks(cluster=cluster, serviceName=svc["serviceName"], desiredStatus="STOPPED")["taskArns"]
    stopped = [t for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if t["taskDefinitionArn"] == broken]
    assert stopped
    assert stopped[0]["stoppedReason"] == "Essential container in task exited"
    worker = next(c for c in stopped[0]["containers"] if c["name"] == "worker")
    assert worker["exitCode"] not in (None, 0)
    # rolled back to the good definition, which reaches a steady state again
    wait_for("rollback to the previous task definition", lambda: (lambda s: s["taskDefinition"] == svc["taskDefinition"]
             and s["runningCount"] == s["desiredCount"])(
        ecs.describe_services(cluster=cluster, services=[svc["serviceName"]])["services"][0]), 300, 3)
    # the container's real error is in its log
    logs = stack.ff("logs", "tail", "worker", "--since", "15m", check=0).stdout
    assert "nosuchtransport" in logs.lower() or "No such transport" in logs, logs[-3000:]


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
