"""ECS tasks are process groups: RunTask starts real processes (each task on its own loopback address),
StopTask stops them, DescribeTasks reports what happened in ECS's words; secrets, awslogs, health checks,
dependsOn and the task role's credentials work as on ECS."""
import json
import os
import socket
import time
import urllib.request

import pytest

CLUSTER = "tasks"


@pytest.fixture(scope="module")
def env(run_aws):
    ec2, ecs = run_aws.client("ec2"), run_aws.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=CLUSTER)
    return {"aws": run_aws, "ecs": ecs, "logs": run_aws.client("logs"),
            "net": {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}}}


def register(env, family, containers, **kw):
    for c in containers:
        c.setdefault("essential", True)
    return env["ecs"].register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=containers, **kw)["taskDefinition"]["taskDefinitionArn"]


def run(env, td, count=1, **kw):
    r = env["ecs"].run_task(cluster=CLUSTER, taskDefinition=td, count=count, launchType="FARGATE",
                            networkConfiguration=env["net"], **kw)
    assert not r["failures"], r["failures"]
    return [t["taskArn"] for t in r["tasks"]]


def describe(env, arns):
    return env["ecs"].describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]


def wait_for(env, arns, pred, timeout=30):
    deadline = time.time() + timeout
    while True:
        tasks = describe(env, arns)
        if all(pred(t) for t in tasks):
            return tasks
        if time.time() > deadline:
            raise AssertionError(f"tasks did not get there in {timeout} s: {json.dumps(tasks, default=str)[:3000]}")
        time.sleep(0.2)


def stopped(t):
    return t["lastStatus"] == "STOPPED"


def private_ip(task):
    return next(d["value"] for d in task["attachments"][0]["details"] if d["name"] == "privateIPv4Address")


def twin(ip):
    return "127." + ".".join(ip.split(".")[1:])


def log_lines(env, group, stream, want=None, timeout=15):
    deadline = time.time() + timeout
    while True:
        try:
            ev = env["logs"].get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        except env["logs"].exceptions.ResourceNotFoundException:
            ev = []
        lines = [e["message"] for e in ev]
        if want is None or any(want in x for x in lines) or time.time() > deadline:
            return lines
        time.sleep(0.2)


def awslogs(group, prefix):
    return {"logDriver": "awslogs", "options": {"awslogs-group": group, "awslogs-region": "us-east-1",
                                                  "awslogs-stream-prefix": prefix, "awslogs-create-group": "true"}}


WEB = ["python3", "-u", "-c",
       "import http.server, socket\n"
       "class H(http.server.BaseHTTPRequestHandler):\n"
       "    def do_GET(self):\n"
       "        b = socket.gethostname().encode()\n"
       "        self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers()\n"
       "        self.wfile.write(b)\n"
       "    def log_message(self, *a): pass\n"
       "http.server.ThreadingHTTPServer(('0.0.0.0', 8080), H).serve_forever()\n"]


def test_two_tasks_listen_on_one_port_each_at_its_own_address_and_stop_by_user(env):
    td = register(env, "web", [{"name": "web", "image": "python:3.12-slim", "command": WEB,
                                "portMappings": [{"containerPort": 8080}]}])
    arns = run(env, td, count=2)
    tasks = wait_for(env, arns, lambda t: t["lastStatus"] == "RUNNING")
    ips = [private_ip(t) for t in tasks]
    assert len(set(ips)) == 2 and all(ip.startswith("10.0.2.") for ip in ips)
    cg_root = f"/sys/fs/cgroup/unified/fairflow-local-aws-{env['aws']['LOCAL_AWS_PID']}"
    for t, ip in zip(tasks, ips):
        assert t["desiredStatus"] == "RUNNING" and t["startedAt"] and t["connectivity"] == "CONNECTED"
        body = None
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://{twin(ip)}:8080/", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert body == "ip-" + ip.replace(".", "-") + ".ec2.internal"   # its own host name
        pids = open(f"{cg_root}/task-{t['taskArn'].split('/')[-1]}/web/cgroup.procs").read().split()
        assert pids and "ThreadingHTTPServer" in open(f"/proc/{pids[0]}/cmdline").read()
    assert set(arns) <= set(env["ecs"].list_tasks(cluster=CLUSTER)["taskArns"])
    # from another task: the first one by its private DNS name and by its private IP (as inside a VPC)
    name = "ip-" + ips[0].replace(".", "-") + ".ec2.internal"
    client = register(env, "client", [{"name": "c", "image": "python:3.12-slim", "logConfiguration": awslogs(
        "/test/web", "client"), "command": ["python3", "-u", "-c",
                                            "import sys, urllib.request as u\n"
                                            "for url in sys.argv[1:]: print(url, u.urlopen(url).read().decode())",
                                            f"http://{name}:8080/", f"http://{ips[0]}:8080/"]}])
    c_arn = run(env, client)[0]
    assert wait_for(env, [c_arn], stopped)[0]["containers"][0]["exitCode"] == 0
    assert log_lines(env, "/test/web", f"client/c/{c_arn.split('/')[-1]}", f"http://{ips[0]}") == [
        f"http://{name}:8080/ {name}", f"http://{ips[0]}:8080/ {name}"]
    r = env["ecs"].stop_task(cluster=CLUSTER, task=arns[0])["task"]
    assert r["desiredStatus"] == "STOPPED"
    t0 = wait_for(env, arns[:1], stopped)[0]
    assert t0["stopCode"] == "UserInitiated" and t0["stoppedReason"] == "Task stopped by user"
    assert t0["containers"][0]["exitCode"] == 143 and t0["stoppedAt"] and t0["executionStoppedAt"]
    with pytest.raises(OSError):
        socket.create_connection((twin(ips[0]), 8080), timeout=1).close()
    assert not os.path.exists(f"{cg_root}/task-{arns[0].split('/')[-1]}")
    assert urllib.request.urlopen(f"http://{twin(ips[1])}:8080/", timeout=2).status == 200   # the other one runs
    assert arns[0] in env["ecs"].list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
    assert arns[0] not in env["ecs"].list_tasks(cluster=CLUSTER)["taskArns"]
    env["ecs"].stop_task(cluster=CLUSTER, task=arns[1], reason="done with it")
    t1 = wait_for(env, arns[1:], stopped)[0]
    assert t1["stoppedReason"] == "done with it"


def test_essential_container_exit_stops_the_task_with_its_exit_code(env):
    td = register(env, "exit3", [{"name": "main", "image": "python:3.12-slim",
                                  "command": ["python3", "-c", "import sys; sys.exit(3)"]}])
    t = wait_for(env, run(env, td), stopped)[0]
    assert t["stopCode"] == "EssentialContainerExited"
    assert t["stoppedReason"] == "Essential container in task exited"
    assert t["containers"][0]["exitCode"] == 3 and t["containers"][0]["lastStatus"] == "STOPPED"
    r = env["ecs"].describe_tasks(cluster=CLUSTER, tasks=[t["taskArn"], "0123456789abcdef0123456789abcdef"])
    assert [x["taskArn"] for x in r["tasks"]] == [t["taskArn"]]
    assert [f["reason"] for f in r["failures"]] == ["MISSING"]


def test_depends_on_success_orders_containers_and_a_failed_dependency_stops_the_task(env):
    group = "/test/deps"
    init = {"name": "init", "image": "python:3.12-slim", "essential": False,
            "command": ["python3", "-c", "import time; open('/work/ready','w').write('made by init'); time.sleep(1)"],
            "mountPoints": [{"sourceVolume": "work", "containerPath": "/work"}], "logConfiguration": awslogs(group, "d")}
    main = {"name": "main", "image": "python:3.12-slim",
            "command": ["python3", "-u", "-c", "print('main sees:', open('/work/ready').read())\n"
                        "try: open('/work/x', 'w')\nexcept OSError as e: print('read-only:', e.strerror)"],
            "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
            "mountPoints": [{"sourceVolume": "work", "containerPath": "/work", "readOnly": True}],
            "logConfiguration": awslogs(group, "d")}
    td = register(env, "deps", [init, main], volumes=[{"name": "work"}])
    arn = run(env, td)[0]
    t = wait_for(env, [arn], stopped)[0]
    by = {c["name"]: c for c in t["containers"]}
    assert by["init"]["exitCode"] == 0 and by["main"]["exitCode"] == 0
    assert log_lines(env, group, f"d/main/{arn.split('/')[-1]}", "read-only") == [
        "main sees: made by init", "read-only: Read-only file system"]
    # init fails: main never starts, the task stops
    bad = dict(init, command=["python3", "-c", "import sys; sys.exit(1)"])
    td = register(env, "deps-bad", [bad, main], volumes=[{"name": "work"}])
    t = wait_for(env, run(env, td), stopped)[0]
    by = {c["name"]: c for c in t["containers"]}
    assert by["init"]["exitCode"] == 1
    assert by["main"]["exitCode"] == 143 and "dependency did not exit successfully" in by["main"]["reason"]
    assert t["stoppedReason"] == "Essential container in task exited"


def test_secrets_resolved_into_environment_and_a_missing_secret_stops_the_task(env):
    sm, iam = env["aws"].client("secretsmanager"), env["aws"].client("iam")
    db = sm.create_secret(Name="db-creds", SecretString=json.dumps({"username": "airflow", "password": "s3cret"}))["ARN"]
    plain = sm.create_secret(Name="plain", SecretString="just-a-string")["ARN"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    gone = db.replace("db-creds", "nope")
    exec_role = iam.create_role(RoleName="exec", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="exec", PolicyName="secrets", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                "Resource": [db, plain, gone]}]}))
    group = "/test/secrets"
    c = {"name": "app", "image": "python:3.12-slim",
         "command": ["python3", "-u", "-c", "import os; print('user=%s pass=%s plain=%s mode=%s by-name=%s' % ("
                     "os.environ['DB_USER'], os.environ['DB_PASSWORD'], os.environ['PLAIN'], os.environ['MODE'], "
                     "os.environ['BY_NAME']))"],
         "environment": [{"name": "MODE", "value": "from-td"}],
         "secrets": [{"name": "DB_USER", "valueFrom": f"{db}:username::"},
                     {"name": "DB_PASSWORD", "valueFrom": f"{db}:password::"},
                     {"name": "PLAIN", "valueFrom": plain},
                     {"name": "BY_NAME", "valueFrom": "db-creds:username::"}],
         "logConfiguration": awslogs(group, "s")}
    td = register(env, "secrets", [c], executionRoleArn=exec_role)
    arn = run(env, td, overrides={"containerOverrides": [{"name": "app", "environment": [
        {"name": "MODE", "value": "overridden"}]}]})[0]
    t = wait_for(env, [arn], stopped)[0]
    assert log_lines(env, group, f"s/app/{arn.split('/')[-1]}", "user=") == \
        ["user=airflow pass=s3cret plain=just-a-string mode=overridden by-name=airflow"], (t["stoppedReason"], t["containers"])
    # a secret that does not exist (which the role may read)
    td = register(env, "secrets-missing", [dict(c, secrets=[{"name": "X", "valueFrom": gone}])],
                  executionRoleArn=exec_role)
    t = wait_for(env, run(env, td), stopped)[0]
    assert t["stopCode"] == "TaskFailedToStart"
    assert t["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        f"failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch "
        f"secret {gone} from secrets manager: ResourceNotFoundException")
    # an execution role that may not read it
    other = sm.create_secret(Name="other", SecretString="x")["ARN"]
    td = register(env, "secrets-denied", [dict(c, secrets=[{"name": "X", "valueFrom": other}])],
                  executionRoleArn=exec_role)
    t = wait_for(env, run(env, td), stopped)[0]
    assert "AccessDeniedException" in t["stoppedReason"] and "secretsmanager:GetSecretValue" in t["stoppedReason"]


def test_health_checks_make_the_task_healthy_or_unhealthy(env):
    ok = {"name": "web", "image": "python:3.12-slim", "command": WEB, "portMappings": [{"containerPort": 8080}],
          "healthCheck": {"command": ["CMD", "python3", "-c",
                                      "import urllib.request as u; u.urlopen('http://localhost:8080/'); u.urlopen('http://127.0.0.1:8080/')"],
                          "interval": 5, "timeout": 3, "retries": 2, "startPeriod": 10}}
    bad = dict(ok, healthCheck={"command": ["CMD-SHELL", "exit 1"], "interval": 5, "timeout": 2, "retries": 1})
    good_arn = run(env, register(env, "hc-ok", [ok]))[0]
    bad_arn = run(env, register(env, "hc-bad", [bad]))[0]
    t = wait_for(env, [good_arn], lambda t: t["healthStatus"] == "HEALTHY")[0]
    assert t["containers"][0]["healthStatus"] == "HEALTHY" and t["lastStatus"] == "RUNNING"
    t = wait_for(env, [bad_arn], lambda t: t["healthStatus"] == "UNHEALTHY")[0]
    assert t["containers"][0]["healthStatus"] == "UNHEALTHY"
    for a in (good_arn, bad_arn):
        env["ecs"].stop_task(cluster=CLUSTER, task=a)
    wait_for(env, [good_arn, bad_arn], stopped)


def test_task_role_credentials_work_against_the_local_aws(env):
    iam = env["aws"].client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName="app-task", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="app-task", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    group = "/test/creds"
    # python:3.11-slim here is the host's Python 3.11, which has boto3 (the real image would need pip install)
    td = register(env, "creds", [{"name": "app", "image": "python:3.11-slim", "logConfiguration": awslogs(group, "c"),
                                  "command": ["python3", "-u", "-c",
                                              "import boto3, json, os, urllib.request as u\n"
                                              "print('arn=' + boto3.client('sts').get_caller_identity()['Arn'])\n"
                                              "m = json.load(u.urlopen(os.environ['ECS_CONTAINER_METADATA_URI_V4'] + '/task'))\n"
                                              "print('metadata=' + m['TaskARN'] + ' ' + m['Containers'][0]['Networks'][0]['IPv4Addresses'][0])"]}],
                  taskRoleArn=role)
    arn = run(env, td)[0]
    t = wait_for(env, [arn], stopped)[0]
    tid = arn.split("/")[-1]
    lines = log_lines(env, group, f"c/app/{tid}", "metadata=")
    assert f"arn=arn:aws:sts::{role.split(':')[4]}:assumed-role/app-task/{tid}" in lines, (lines, t)
    assert f"metadata={arn} {private_ip(t)}" in lines       # the task metadata endpoint v4
    assert t["containers"][0]["exitCode"] == 0


def test_faults_are_ecs_shaped(env):
    unknown = register(env, "unknown-image", [{"name": "x", "image": "example.com/nothing/here:1"}])
    taken = register(env, "port-taken", [
        {"name": "a", "image": "python:3.12-slim", "command": WEB},
        {"name": "b", "image": "python:3.12-slim", "command": WEB,
         "dependsOn": [{"containerName": "a", "condition": "START"}]}])
    no_efs = register(env, "no-efs", [{"name": "x", "image": "python:3.12-slim", "command": ["true"],
                                       "mountPoints": [{"sourceVolume": "v", "containerPath": "/mnt/v"}]}],
                      volumes=[{"name": "v", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0"}}])
    no_group = register(env, "no-log-group", [{"name": "x", "image": "python:3.12-slim", "command": ["true"],
                                               "logConfiguration": {"logDriver": "awslogs", "options": {
                                                   "awslogs-group": "/not/there", "awslogs-region": "us-east-1",
                                                   "awslogs-stream-prefix": "x"}}}])
    no_prog = register(env, "no-program", [{"name": "x", "image": "python:3.12-slim", "command": ["no-such-program"]}])
    u, p, e = run(env, unknown)[0], run(env, taken)[0], run(env, no_efs)[0]
    g, n = run(env, no_group)[0], run(env, no_prog)[0]
    tasks = {t["taskArn"]: t for t in wait_for(env, [u, p, e, g, n], stopped, timeout=60)}
    assert tasks[u]["stopCode"] == "TaskFailedToStart"
    assert tasks[u]["stoppedReason"].startswith("CannotPullContainerError:")
    by = {c["name"]: c for c in tasks[p]["containers"]}
    assert tasks[p]["stoppedReason"] == "Essential container in task exited"
    assert 1 in (by["a"].get("exitCode"), by["b"].get("exitCode"))     # the loser's own error and exit code
    assert tasks[e]["stoppedReason"].startswith("ResourceInitializationError: failed to invoke EFS utils")
    assert tasks[g]["stoppedReason"].startswith("ResourceInitializationError: failed to validate logger args")
    assert "The specified log group does not exist" in tasks[g]["stoppedReason"]
    assert tasks[n]["stopCode"] == "TaskFailedToStart"
    assert 'exec: "no-such-program": executable file not found in $PATH' in tasks[n]["stoppedReason"]
    assert tasks[n]["stoppedReason"].startswith("CannotStartContainerError:")


def test_a_container_that_ignores_sigterm_is_killed_after_its_stop_timeout(env):
    group = "/test/stubborn"
    td = register(env, "stubborn", [{"name": "x", "image": "python:3.12-slim", "stopTimeout": 2, "command": [
        "python3", "-u", "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ignoring SIGTERM');"
        " time.sleep(300)"], "logConfiguration": awslogs(group, "s")}])
    arn = run(env, td)[0]
    wait_for(env, [arn], lambda t: t["lastStatus"] == "RUNNING")
    # RUNNING is the process started, not its handler installed: on a busy machine a SIGTERM before that line
    # would kill it at once (Python's default), as it would on ECS
    assert "ignoring SIGTERM" in log_lines(env, group, f"s/x/{arn.split('/')[-1]}", "ignoring SIGTERM", timeout=60)
    t0 = time.time()
    env["ecs"].stop_task(cluster=CLUSTER, task=arn)
    t = wait_for(env, [arn], stopped)[0]
    took = time.time() - t0
    assert 2 <= took < 8, took
    assert t["containers"][0]["exitCode"] == 137      # SIGKILL, as Docker reports it
