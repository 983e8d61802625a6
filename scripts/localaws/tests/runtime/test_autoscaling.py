"""Workers that scale on the work waiting and never lose a running task when they scale in
(`scripts/local-aws --run`): ECS task scale-in protection through the API and through the agent endpoint a
container calls on itself, and Application Auto Scaling target tracking that really changes desired counts
from a custom CloudWatch metric."""
import datetime
import json
import os
import re
import subprocess
import tempfile
import time

import botocore.exceptions
import pytest

MINUTE = 30     # seconds one ExpiresInMinutes minute lasts here (LOCAL_AWS_TASK_PROTECTION_MINUTE)
SLEEPER = "import time\nwhile True: time.sleep(1)\n"
# The worker protects itself through $ECS_AGENT_URI, prints each answer, releases its protection once a
# file named after its task id appears in RELEASE_DIR, and on SIGTERM finishes what it does, then exits.
AGENT_WORKER = (
    "import json, os, signal, time, urllib.request as u\n"
    "stopping = []\n"
    "signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))\n"
    "state = os.environ['ECS_AGENT_URI'] + '/task-protection/v1/state'\n"
    "def call(method, body=None):\n"
    "    req = u.Request(state, method=method, data=None if body is None else json.dumps(body).encode(),\n"
    "                    headers={'Content-Type': 'application/json'})\n"
    "    try:\n"
    "        r = u.urlopen(req, timeout=10); code, data = r.status, r.read()\n"
    "    except u.HTTPError as e:\n"
    "        code, data = e.code, e.read()\n"
    "    print(method, code, data.decode(), flush=True)\n"
    "task = json.load(u.urlopen(os.environ['ECS_CONTAINER_METADATA_URI_V4'] + '/task'))['TaskARN']\n"
    "call('PUT', {'ProtectionEnabled': 'yes'})\n"
    "call('PUT', {'ProtectionEnabled': True, 'ExpiresInMinutes': 1})\n"
    "call('GET')\n"
    "release = os.path.join(os.environ['RELEASE_DIR'], task.split('/')[-1])\n"
    "while not os.path.exists(release) and not stopping:\n"
    "    time.sleep(0.2)\n"
    "if not stopping:\n"
    "    call('PUT', {'ProtectionEnabled': False})\n"
    "while not stopping:\n"
    "    time.sleep(0.2)\n")

# upper bounds only (each wait ends as soon as its condition holds); doubled for a loaded 2-core machine
SLACK = float(os.environ.get("LOCAL_AWS_TEST_SLACK", "2"))


@pytest.fixture(scope="module")
def fast_loops():
    """Evaluations every second over a 3 s metric window, and 30 s protection minutes, for this module."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LOCAL_AWS_AUTOSCALING_PERIOD", "1")
    mp.setenv("LOCAL_AWS_AUTOSCALING_METRIC_WINDOW", "3")
    mp.setenv("LOCAL_AWS_TASK_PROTECTION_MINUTE", str(MINUTE))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def run_aws(fast_loops, run_aws):
    return run_aws


def wait_for(what, fn, timeout, every=0.5):
    timeout *= SLACK
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def env(run_aws):
    ec2, ecs = run_aws.client("ec2"), run_aws.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="scale-tests", Description="t", VpcId=vpc)["GroupId"]
    cluster = ecs.create_cluster(clusterName="scale-tests")["cluster"]["clusterName"]
    e = {"cluster": cluster, "run": run_aws, "ecs": ecs, "aas": run_aws.client("application-autoscaling"),
         "cw": run_aws.client("cloudwatch"),
         "net": {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg], "assignPublicIp": "DISABLED"}}}
    yield e
    for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
        ecs.delete_service(cluster=cluster, service=arn, force=True)


def service(env, name, script, desired, **td_kw):
    container = {"name": "worker", "image": "python:3.12-slim", "essential": True,
                 "command": ["python3", "-u", "-c", script]}
    container.update(td_kw.pop("container", {}))
    td = env["ecs"].register_task_definition(
        family=name, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[container], **td_kw)["taskDefinition"]["taskDefinitionArn"]
    env["ecs"].create_service(cluster=env["cluster"], serviceName=name, taskDefinition=td, desiredCount=desired,
                              launchType="FARGATE", networkConfiguration=env["net"])
    return td


def describe(env, name):
    return env["ecs"].describe_services(cluster=env["cluster"], services=[name])["services"][0]


def messages(svc):
    return [e["message"] for e in svc["events"]]


def tasks(env, name, status="RUNNING"):
    return env["ecs"].list_tasks(cluster=env["cluster"], serviceName=name, desiredStatus=status)["taskArns"]


def running(env, name, n, desired=None):
    def ok():
        s = describe(env, name)
        good = s["runningCount"] == n and s["pendingCount"] == 0 and len(tasks(env, name)) == n \
            and (desired is None or s["desiredCount"] == desired)
        return s if good else None
    return ok


def steady(env, name, desired):
    def ok():
        s = describe(env, name)
        good = (s["runningCount"] == desired and s["pendingCount"] == 0 and len(s["deployments"]) == 1
                and s["deployments"][0]["rolloutState"] == "COMPLETED" and s["desiredCount"] == desired
                and f"(service {name}) has reached a steady state." in messages(s))
        return s if good else None
    return ok


def stopped_task(env, arn):
    t = env["ecs"].describe_tasks(cluster=env["cluster"], tasks=[arn])["tasks"][0]
    return t if t["lastStatus"] == "STOPPED" else None


def utc(ts):
    return ts if ts.tzinfo else ts.replace(tzinfo=datetime.timezone.utc)


def test_protected_tasks_survive_a_scale_in_and_a_deployment_until_released(env):
    ecs, cluster = env["ecs"], env["cluster"]
    service(env, "guarded", SLEEPER, 3)
    dep = wait_for("3 tasks steady", steady(env, "guarded", 3), 60)["deployments"][0]["id"]
    arns = tasks(env, "guarded")
    before = datetime.datetime.now(datetime.timezone.utc)
    p = ecs.update_task_protection(cluster=cluster, tasks=arns[:2], protectionEnabled=True)
    assert not p["failures"] and {t["taskArn"] for t in p["protectedTasks"]} == set(arns[:2])
    for t in p["protectedTasks"]:     # the default: 120 minutes
        assert t["protectionEnabled"] is True
        assert abs((utc(t["expirationDate"]) - before).total_seconds() - 120 * MINUTE) < 10, t
    g = ecs.get_task_protection(cluster=cluster, tasks=[arns[2], "0123456789abcdef0123456789abcdef"])
    assert g["protectedTasks"] == [{"taskArn": arns[2], "protectionEnabled": False}]
    assert g["failures"] == [{"arn": f"arn:aws:ecs:us-east-1:{arns[0].split(':')[4]}:task/{cluster}/"
                                     "0123456789abcdef0123456789abcdef", "reason": "MISSING"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.update_task_protection(cluster=cluster, tasks=arns[:1], protectionEnabled=True, expiresInMinutes=2881)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"

    # desired 1: only the unprotected task stops; the service keeps 2 and says why
    ecs.update_service(cluster=cluster, service="guarded", desiredCount=1)
    blocked = f"(service guarded, taskSet {dep}) was unable to scale in due to (reason 2 tasks under protection)"
    s = wait_for("the scale-in blocked by protection",
                 lambda: (lambda x: x if blocked in messages(x) and x["runningCount"] == 2 else None)(
                     describe(env, "guarded")), 30)
    assert tasks(env, "guarded", "STOPPED") == [arns[2]], messages(s)
    time.sleep(2)       # still 2: nothing else is stopped while the protection holds
    assert sorted(tasks(env, "guarded")) == sorted(arns[:2])

    # released, the task goes at once
    ecs.update_task_protection(cluster=cluster, tasks=[arns[0]], protectionEnabled=False)
    t = wait_for("the released task stopped", lambda: stopped_task(env, arns[0]), 20)
    assert t["stoppedReason"] == f"Scaling activity initiated by (deployment {dep})"
    wait_for("1 task steady", steady(env, "guarded", 1), 30)

    # a deployment waits for the protected task of the old one
    ecs.update_service(cluster=cluster, service="guarded", forceNewDeployment=True)
    waiting = (f"(service guarded) was unable to reach steady state because (taskSet {dep}) was unable to scale in "
               "due to (reason 1 tasks under protection)")
    s = wait_for("the deployment blocked by protection",
                 lambda: (lambda x: x if waiting in messages(x) and x["runningCount"] == 2 else None)(
                     describe(env, "guarded")), 40)
    assert arns[1] in tasks(env, "guarded") and len(s["deployments"]) == 2
    ecs.update_task_protection(cluster=cluster, tasks=[arns[1]], protectionEnabled=False)
    s = wait_for("the new deployment steady", steady(env, "guarded", 1), 40)
    assert s["deployments"][0]["id"] != dep and stopped_task(env, arns[1])


def test_a_task_protects_itself_through_the_agent_endpoint_until_it_releases_or_it_expires(env):
    ecs, cluster, logs = env["ecs"], env["cluster"], env["run"].client("logs")
    iam = env["run"].client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName="protecting-worker", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="protecting-worker", PolicyName="protection", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                                                "Action": ["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"]}]}))
    release_dir = tempfile.mkdtemp(prefix="protection-release-")
    group = "/test/protection"
    service(env, "self-protecting", AGENT_WORKER, 2, taskRoleArn=role, container={
        "environment": [{"name": "RELEASE_DIR", "value": release_dir}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": group, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "w",
            "awslogs-create-group": "true"}}})
    wait_for("2 tasks running", running(env, "self-protecting", 2), 60)
    arns = tasks(env, "self-protecting")

    def lines(arn):
        try:
            ev = logs.get_log_events(logGroupName=group, logStreamName=f"w/worker/{arn.split('/')[-1]}",
                                     startFromHead=True)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [e["message"] for e in ev]

    def answers(arn, n):
        got = [ln.split(" ", 2) for ln in lines(arn)]
        return [(m, int(c), json.loads(b)) for m, c, b in got] if len(got) >= n else None

    expiry = {}
    for arn in arns:
        (_, bad_code, bad), (_, put_code, put), (_, get_code, got) = wait_for("the agent's answers",
                                                                            lambda: answers(arn, 3), 20)
        assert (bad_code, bad) == (400, {"error": {"Code": "InvalidParameterException",
                                                    "Message": "UpdateTaskProtection: failed to decode request"}})
        assert put_code == 200 and put["protection"]["ProtectionEnabled"] is True, put
        assert put["protection"]["TaskArn"] == arn and (get_code, got) == (200, put)
        expiry[arn] = datetime.datetime.fromisoformat(put["protection"]["ExpirationDate"].replace("Z", "+00:00"))
    api = ecs.get_task_protection(cluster=cluster, tasks=arns)["protectedTasks"]
    assert {t["taskArn"]: t["protectionEnabled"] for t in api} == {a: True for a in arns}

    ecs.update_service(cluster=cluster, service="self-protecting", desiredCount=0)
    wait_for("the scale-in blocked by protection", lambda: any(
        m.endswith("was unable to scale in due to (reason 2 tasks under protection)")
        for m in messages(describe(env, "self-protecting"))), 10)
    released, expiring = arns
    open(os.path.join(release_dir, released.split("/")[-1]), "w").close()
    t = wait_for("the released task stopped", lambda: stopped_task(env, released), 20)
    assert utc(t["stoppedAt"]) < expiry[released], "stopped by its release, before its protection expired"
    assert answers(released, 4)[3][1:] == (200, {"protection": {"ExpirationDate": None, "ProtectionEnabled": False,
                                                               "TaskArn": released}})
    t = wait_for("the other task stopped once its protection expired", lambda: stopped_task(env, expiring),
                 MINUTE + 20)
    assert utc(t["stoppingAt"]) >= expiry[expiring] - datetime.timedelta(seconds=1), (t["stoppingAt"], expiry)
    wait_for("the service at 0", steady(env, "self-protecting", 0), 20)


def policy(env, resource, name, target, **kw):
    cfg = {"TargetValue": float(target), "CustomizedMetricSpecification": {
        "MetricName": "WorkWaiting", "Namespace": "Fairflow/Test", "Statistic": "Average",
        "Dimensions": [{"Name": "Service", "Value": resource.split("/")[-1]}]}}
    cfg.update(kw)
    env["aas"].put_scaling_policy(PolicyName=name, ServiceNamespace="ecs", ResourceId=resource,
                                  ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
                                  TargetTrackingScalingPolicyConfiguration=cfg)


def publish(env, name, value):
    env["cw"].put_metric_data(Namespace="Fairflow/Test", MetricData=[
        {"MetricName": "WorkWaiting", "Value": float(value), "Dimensions": [{"Name": "Service", "Value": name}]}])


def publishing(env, name, value, cond):
    """Publishes value every half second (the metric window is 3 s) until cond() holds."""
    def ok():
        publish(env, name, value)
        return cond()
    return ok


def aws_cli(env, *args):
    run = env["run"]
    e = {**os.environ, "AWS_ACCESS_KEY_ID": run["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": run["AWS_SECRET_ACCESS_KEY"],
         "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    e.pop("AWS_PROFILE", None)
    r = subprocess.run(["aws", *args, "--endpoint-url", run["LOCAL_AWS_ENDPOINT"], "--output", "json"],
                       capture_output=True, text=True, env=e, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_custom_metric_above_target_scales_out_within_the_cooldown_and_back_in_after_it(env):
    name = "queue-workers"
    resource = f"service/{env['cluster']}/{name}"
    service(env, name, SLEEPER, 1)
    wait_for("1 task steady", steady(env, name, 1), 60)
    env["aas"].register_scalable_target(ServiceNamespace="ecs", ResourceId=resource, MinCapacity=1, MaxCapacity=5,
                                        ScalableDimension="ecs:service:DesiredCount")
    policy(env, resource, "work-waiting", 10, ScaleOutCooldown=120, ScaleInCooldown=8)

    # 30 waiting for a target of 10 per task: 1 -> 3, and no further within the scale-out cooldown
    wait_for("3 tasks running", publishing(env, name, 30, running(env, name, 3, desired=3)), 40)
    for _ in range(6):
        publish(env, name, 30)
        time.sleep(0.5)
    assert describe(env, name)["desiredCount"] == 3
    out = aws_cli(env, "application-autoscaling", "describe-scaling-activities", "--service-namespace", "ecs",
                  "--resource-id", resource)["ScalingActivities"]
    assert len(out) == 1, out
    a = out[0]
    assert (a["Description"], a["StatusCode"], a["ResourceId"], a["ScalableDimension"]) == (
        "Setting desired count to 3.", "Successful", resource, "ecs:service:DesiredCount")
    assert re.fullmatch(rf"monitor alarm TargetTracking-{resource}-AlarmHigh-\S+ in state ALARM triggered policy "
                        r"work-waiting", a["Cause"]), a["Cause"]
    assert a["StatusMessage"] == "Successfully set desired count to 3. Change successfully fulfilled by ecs."

    # nothing waiting: back to the minimum, once the scale-in cooldown has passed
    wait_for("1 task left", publishing(env, name, 0, running(env, name, 1, desired=1)), 40)
    acts = env["aas"].describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)["ScalingActivities"]
    assert [x["Description"] for x in acts] == ["Setting desired count to 1.", "Setting desired count to 3."]
    assert "-AlarmLow-" in acts[0]["Cause"] and acts[0]["Cause"].endswith("triggered policy work-waiting")
    assert (utc(acts[0]["StartTime"]) - utc(acts[1]["EndTime"])).total_seconds() >= 8 - 0.5
    assert len(tasks(env, name, "STOPPED")) == 2


def test_from_zero_a_positive_metric_starts_one_task_and_disable_scale_in_keeps_it(env):
    name = "idle-workers"
    resource = f"service/{env['cluster']}/{name}"
    service(env, name, SLEEPER, 0)
    env["aas"].register_scalable_target(ServiceNamespace="ecs", ResourceId=resource, MinCapacity=0, MaxCapacity=3,
                                        ScalableDimension="ecs:service:DesiredCount")
    policy(env, resource, "wake-up", 5, ScaleOutCooldown=60, ScaleInCooldown=2, DisableScaleIn=True)
    wait_for("1 task running", publishing(env, name, 2, running(env, name, 1, desired=1)), 40)

    for _ in range(10):            # 5 s of nothing waiting: DisableScaleIn keeps the task
        publish(env, name, 0)
        time.sleep(0.5)
    assert describe(env, name)["desiredCount"] == 1
    policy(env, resource, "wake-up", 5, ScaleOutCooldown=60, ScaleInCooldown=2)
    wait_for("back to 0", publishing(env, name, 0, running(env, name, 0, desired=0)), 30)
    acts = env["aas"].describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)["ScalingActivities"]
    assert [x["Description"] for x in acts] == ["Setting desired count to 0.", "Setting desired count to 1."]
