"""ECS services run for real (`scripts/local-aws --run`): desired counts are process groups, deployments roll
out and roll back through the circuit breaker, targets register and gate the steady state, and
CloudFormation waits for the service."""
import json
import os
import time
import uuid

import botocore.exceptions
import pytest

SERVER = ("import http.server as h\n"
          "class H(h.BaseHTTPRequestHandler):\n"
          "    def do_GET(self):\n"
          "        code = 200 if self.path == '/ok' else 404\n"
          "        self.send_response(code); self.send_header('Content-Length', '2'); self.end_headers()\n"
          "        self.wfile.write(b'ok')\n"
          "    def log_message(self, *a): pass\n"
          "h.ThreadingHTTPServer(('0.0.0.0', 8080), H).serve_forever()\n")
CRASH = "import sys; print('config missing', flush=True); sys.exit(1)"


# upper bounds only (each wait ends as soon as its condition holds); doubled for a loaded 2-core machine
SLACK = float(os.environ.get("LOCAL_AWS_TEST_SLACK", "2"))


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
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{'ab'[i]}")["Subnet"]["SubnetId"] for i in range(2)]
    sg = ec2.create_security_group(GroupName="svc-tests", Description="t", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    cluster = ecs.create_cluster(clusterName="svc-tests")["cluster"]["clusterName"]
    e = {"vpc": vpc, "subnets": subnets, "sg": sg, "cluster": cluster, "run": run_aws,
         "net": {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg], "assignPublicIp": "DISABLED"}}}
    yield e
    for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
        ecs.delete_service(cluster=cluster, service=arn, force=True)


def task_def(ecs, family, script, health=False):
    c = {"name": "app", "image": "python:3.12-slim", "essential": True, "command": ["python3", "-c", script],
         "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]}
    if health:
        c["healthCheck"] = {"command": ["CMD-SHELL", "python3 -c \"import urllib.request as u; "
                                        "u.urlopen('http://127.0.0.1:8080/ok', timeout=2)\""],
                            "interval": 5, "timeout": 3, "retries": 2, "startPeriod": 0}
    return ecs.register_task_definition(family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                        cpu="256", memory="512", containerDefinitions=[c])["taskDefinition"]["taskDefinitionArn"]


def describe(env, name):
    return env["run"].client("ecs").describe_services(cluster=env["cluster"], services=[name])["services"][0]


def messages(svc):
    return [e["message"] for e in svc["events"]]


def steady(env, name, desired, td=None):
    def ok():
        s = describe(env, name)
        deps = s["deployments"]
        good = (s["runningCount"] == desired and s["pendingCount"] == 0 and len(deps) == 1
                and deps[0]["rolloutState"] == "COMPLETED" and (td is None or deps[0]["taskDefinition"] == td)
                and f"(service {name}) has reached a steady state." in messages(s))
        return s if good else None
    return ok


def service_pids(env, ecs, name, status="RUNNING"):
    """{task arn: [pids in its cgroup]} of the service's tasks."""
    arns = ecs.list_tasks(cluster=env["cluster"], serviceName=name, desiredStatus=status)["taskArns"]
    root = f"/sys/fs/cgroup/unified/fairflow-local-aws-{env['run']['LOCAL_AWS_PID']}"
    out = {}
    for arn in arns:
        cg = os.path.join(root, f"task-{arn.split('/')[-1]}")
        pids = []
        for d, _, files in os.walk(cg):
            if "cgroup.procs" in files:
                pids += open(os.path.join(d, "cgroup.procs")).read().split()
        out[arn] = pids
    return out


def test_scaled_to_three_runs_three_process_groups_and_back_to_one_stops_two(env):
    ecs = env["run"].client("ecs")
    td = task_def(ecs, "scale", SERVER)
    ecs.create_service(cluster=env["cluster"], serviceName="scale", taskDefinition=td, desiredCount=3,
                       launchType="FARGATE", networkConfiguration=env["net"])
    s = wait_for("3 tasks in a steady state", steady(env, "scale", 3), 60)
    groups = service_pids(env, ecs, "scale")
    assert len(groups) == 3 and all(groups.values()), groups
    assert s["deployments"][0]["rolloutStateReason"] == f"ECS deployment {s['deployments'][0]['id']} completed."
    assert any(m.startswith("(service scale) has started 3 tasks: (task ") for m in messages(s))
    dep = s["deployments"][0]["id"]

    ecs.update_service(cluster=env["cluster"], service="scale", desiredCount=1)
    s = wait_for("1 task left", lambda: (lambda x: x if x["runningCount"] == 1 and x["pendingCount"] == 0
                                         and any("has stopped 2 running tasks" in m for m in messages(x)) else None)(
        describe(env, "scale")), 40)
    assert len(service_pids(env, ecs, "scale")) == 1
    stopped = ecs.list_tasks(cluster=env["cluster"], serviceName="scale", desiredStatus="STOPPED")["taskArns"]
    assert len(stopped) == 2
    gone = ecs.describe_tasks(cluster=env["cluster"], tasks=stopped)["tasks"]
    assert {t["stoppedReason"] for t in gone} == {f"Scaling activity initiated by (deployment {dep})"}
    root = f"/sys/fs/cgroup/unified/fairflow-local-aws-{env['run']['LOCAL_AWS_PID']}"
    wait_for("stopped tasks' cgroups gone", lambda: not any(
        os.path.exists(os.path.join(root, f"task-{a.split('/')[-1]}")) for a in stopped), 20)

    # a rolling update (200 % / 100 %): the old task runs until the new one is steady, never more than 2 tasks
    td2 = task_def(ecs, "scale", SERVER)
    old_dep = describe(env, "scale")["deployments"][0]["id"]
    ecs.update_service(cluster=env["cluster"], service="scale", taskDefinition=td2)
    samples = []

    def rolled():
        x = describe(env, "scale")
        samples.append((x["runningCount"], x["runningCount"] + x["pendingCount"]))
        return steady(env, "scale", 1, td=td2)()
    wait_for("the rolling update", rolled, 40, every=0.2)
    assert min(r for r, _ in samples) >= 1 and max(t for _, t in samples) <= 2, samples
    old_task = [t for t in ecs.describe_tasks(cluster=env["cluster"], tasks=ecs.list_tasks(
        cluster=env["cluster"], serviceName="scale", desiredStatus="STOPPED")["taskArns"])["tasks"]
        if t["taskDefinitionArn"] == td]
    assert f"Scaling activity initiated by (deployment {old_dep})" in {t["stoppedReason"] for t in old_task}

    # deleted while a task runs: DRAINING, the task stopped, then INACTIVE
    assert ecs.delete_service(cluster=env["cluster"], service="scale", force=True)["service"]["status"] == "DRAINING"
    wait_for("INACTIVE", lambda: describe(env, "scale")["status"] == "INACTIVE", 30)
    assert not service_pids(env, ecs, "scale")


def test_a_container_that_exits_at_start_trips_the_breaker_and_rolls_back(env):
    ecs = env["run"].client("ecs")
    good = task_def(ecs, "breaker", SERVER)
    ecs.create_service(cluster=env["cluster"], serviceName="breaker", taskDefinition=good, desiredCount=1,
                       launchType="FARGATE", networkConfiguration=env["net"],
                       deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                                "maximumPercent": 200, "minimumHealthyPercent": 100})
    first = wait_for("first deployment", steady(env, "breaker", 1), 60)["deployments"][0]["id"]
    bad = task_def(ecs, "breaker", CRASH)
    ecs.update_service(cluster=env["cluster"], service="breaker", taskDefinition=bad)
    seen_failed = []

    def rolled_back():
        s = describe(env, "breaker")
        seen_failed.extend(d for d in s["deployments"] if d["rolloutState"] == "FAILED")
        return s if steady(env, "breaker", 1, td=good)() and seen_failed else None
    s = wait_for("the rollback to the good task definition", rolled_back, 90)
    failed = seen_failed[-1]
    assert failed["taskDefinition"] == bad and failed["failedTasks"] >= 3
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    msgs = messages(s)
    assert f"(service breaker) (deployment {failed['id']}) deployment failed: tasks failed to start." in msgs
    assert f"(service breaker) rolling back to deployment {first}." in msgs
    assert s["taskDefinition"] == good
    crashed = [t for t in ecs.describe_tasks(cluster=env["cluster"], tasks=ecs.list_tasks(
        cluster=env["cluster"], serviceName="breaker", desiredStatus="STOPPED")["taskArns"])["tasks"]
        if t["taskDefinitionArn"] == bad]
    assert len(crashed) >= 3 and all(t["stoppedReason"] == "Essential container in task exited" for t in crashed)
    assert all(t["containers"][0].get("exitCode") == 1 for t in crashed)
    ecs.delete_service(cluster=env["cluster"], service="breaker", force=True)


def test_behind_a_target_group_the_service_is_steady_only_once_its_target_is_healthy(env):
    ecs, elb = env["run"].client("ecs"), env["run"].client("elbv2")
    lb = elb.create_load_balancer(Name="svc-tests", Subnets=env["subnets"], SecurityGroups=[env["sg"]],
                                  Scheme="internal", Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    tgs = {}
    for path, port in (("/ok", 80), ("/missing", 81)):
        tg = elb.create_target_group(Name=f"svc-tests-{port}", Protocol="HTTP", Port=8080, VpcId=env["vpc"],
                                     TargetType="ip", HealthCheckPath=path, HealthCheckIntervalSeconds=5,
                                     HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                                     UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "1"}])
        elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        tgs[path] = tg
    td = task_def(ecs, "web", SERVER, health=True)
    for name, path in (("web", "/ok"), ("sick", "/missing")):
        ecs.create_service(cluster=env["cluster"], serviceName=name, taskDefinition=td, desiredCount=1,
                           launchType="FARGATE", networkConfiguration=env["net"], healthCheckGracePeriodSeconds=0,
                           loadBalancers=[{"targetGroupArn": tgs[path], "containerName": "app", "containerPort": 8080}])

    def registered():
        s = describe(env, "web")
        th = elb.describe_target_health(TargetGroupArn=tgs["/ok"])["TargetHealthDescriptions"]
        return (s, th) if th and f"(service web) registered 1 targets in (target-group {tgs['/ok']})" in messages(s) \
            else None
    s, th = wait_for("the task's target", registered, 60, every=0.2)
    task = ecs.describe_tasks(cluster=env["cluster"], tasks=ecs.list_tasks(
        cluster=env["cluster"], serviceName="web")["taskArns"])["tasks"][0]
    ip = next(d["value"] for a in task["attachments"] for d in a["details"] if d["name"] == "privateIPv4Address")
    assert th[0]["Target"] == {"Id": ip, "Port": 8080, **({"AvailabilityZone": th[0]["Target"]["AvailabilityZone"]}
                                                          if "AvailabilityZone" in th[0]["Target"] else {})}
    if th[0]["TargetHealth"]["State"] != "healthy":
        assert s["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    s = wait_for("steady behind the target group", steady(env, "web", 1), 60)
    assert elb.describe_target_health(TargetGroupArn=tgs["/ok"])["TargetHealthDescriptions"][0]["TargetHealth"][
        "State"] == "healthy"

    # the other target group answers 404: never steady, its task is killed for failing ELB health checks
    s = wait_for("an ELB health kill", lambda: (lambda x: x if any(
        f"failed ELB health checks in (target-group {tgs['/missing']})" in m for m in messages(x)) else None)(
        describe(env, "sick")), 60)
    assert s["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert f"(service sick) has reached a steady state." not in messages(s)
    wait_for("the killed task's stoppedReason", lambda: [t for t in ecs.describe_tasks(
        cluster=env["cluster"], tasks=ecs.list_tasks(cluster=env["cluster"], serviceName="sick",
                                                     desiredStatus="STOPPED")["taskArns"] or ["x"]).get("tasks", [])
        if t.get("stoppedReason", "").startswith("Task failed ELB health checks in (target-group")], 20)
    for name in ("web", "sick"):
        ecs.delete_service(cluster=env["cluster"], service=name, force=True)


def _template(env, script, desired=1):
    return json.dumps({"Parameters": {"Subnets": {"Type": "CommaDelimitedList"}, "Sg": {"Type": "String"},
                                      "Vpc": {"Type": "String"}},
                       "Resources": {
        "Cluster": {"Type": "AWS::ECS::Cluster"},
        "Namespace": {"Type": "AWS::ServiceDiscovery::PrivateDnsNamespace", "Properties": {
            "Name": {"Fn::Sub": "${AWS::StackName}.fairflow.internal"}, "Vpc": {"Ref": "Vpc"}}},
        "Discovery": {"Type": "AWS::ServiceDiscovery::Service", "Properties": {
            "Name": "web", "NamespaceId": {"Fn::GetAtt": ["Namespace", "Id"]},
            "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 10}], "RoutingPolicy": "MULTIVALUE"},
            "HealthCheckCustomConfig": {"FailureThreshold": 1}}},
        "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": f"cfn-{uuid.uuid4().hex[:6]}", "NetworkMode": "awsvpc", "RequiresCompatibilities": ["FARGATE"],
            "Cpu": "256", "Memory": "512", "ContainerDefinitions": [
                {"Name": "app", "Image": "python:3.12-slim", "Essential": True,
                 "Command": ["python3", "-c", script]}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "Task"}, "LaunchType": "FARGATE",
            "DesiredCount": desired,
            "DeploymentConfiguration": {"DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                                        "MaximumPercent": 200, "MinimumHealthyPercent": 100},
            "ServiceRegistries": [{"RegistryArn": {"Fn::GetAtt": ["Discovery", "Arn"]}}],
            "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": {"Ref": "Subnets"},
                                                             "SecurityGroups": [{"Ref": "Sg"}]}}}},
        "Second": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "Task"}, "LaunchType": "FARGATE",
            "DesiredCount": 1, "NetworkConfiguration": {"AwsvpcConfiguration": {
                "Subnets": {"Ref": "Subnets"}, "SecurityGroups": [{"Ref": "Sg"}]}}}}}})


def _params(env):
    return [{"ParameterKey": "Subnets", "ParameterValue": ",".join(env["subnets"])},
            {"ParameterKey": "Sg", "ParameterValue": env["sg"]},
            {"ParameterKey": "Vpc", "ParameterValue": env["vpc"]}]


def _stack(cfn, name):
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def test_a_stack_with_a_service_is_in_progress_until_the_service_is_steady(env):
    cfn, ecs = env["run"].client("cloudformation"), env["run"].client("ecs")
    cfn.create_stack(StackName="svc-ok", TemplateBody=_template(env, SERVER), Parameters=_params(env))
    assert _stack(cfn, "svc-ok")["StackStatus"] == "CREATE_IN_PROGRESS"

    def task_started_while_in_progress():
        ev = cfn.describe_stack_events(StackName="svc-ok")["StackEvents"]
        svc_events = [e["ResourceStatus"] for e in ev if e["LogicalResourceId"] == "Service"]
        cl = [e["PhysicalResourceId"] for e in ev if e["LogicalResourceId"] == "Cluster" and e["PhysicalResourceId"]]
        if svc_events != ["CREATE_IN_PROGRESS"] or not cl:
            return None
        arns = ecs.list_tasks(cluster=cl[0].split("/")[-1])["taskArns"]
        return arns and _stack(cfn, "svc-ok")["StackStatus"] == "CREATE_IN_PROGRESS"
    wait_for("a task while the service is CREATE_IN_PROGRESS", task_started_while_in_progress, 30, every=0.2)
    st = wait_for("CREATE_COMPLETE", lambda: (lambda s: s if s["StackStatus"] != "CREATE_IN_PROGRESS" else None)(
        _stack(cfn, "svc-ok")), 60)
    assert st["StackStatus"] == "CREATE_COMPLETE", st
    res = {r["LogicalResourceId"]: r["PhysicalResourceId"]
           for r in cfn.describe_stack_resources(StackName="svc-ok")["StackResources"]}
    cluster = res["Cluster"].split("/")[-1]
    s = ecs.describe_services(cluster=cluster, services=[res["Service"]])["services"][0]
    assert s["runningCount"] == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED"
    # both services were created before either was complete (CloudFormation waits in parallel)
    order = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in
             cfn.describe_stack_events(StackName="svc-ok")["StackEvents"][::-1]]
    assert order.index(("Second", "CREATE_IN_PROGRESS")) < order.index(("Service", "CREATE_COMPLETE"))
    running = ecs.list_tasks(cluster=cluster, serviceName=s["serviceName"])["taskArns"]
    # the task's address under its Cloud Map name, in the shared hosts file and in Cloud Map
    task = ecs.describe_tasks(cluster=cluster, tasks=running)["tasks"][0]
    ip = next(d["value"] for a in task["attachments"] for d in a["details"] if d["name"] == "privateIPv4Address")
    twin = "127." + ".".join(ip.split(".")[1:])
    hosts = open(env["run"]["LOCAL_AWS_HOSTS_FILE"]).read().split("\n")
    assert f"{twin}\tweb.svc-ok.fairflow.internal" in hosts
    sd = env["run"].client("servicediscovery")
    sd_id = next(r["PhysicalResourceId"] for r in cfn.describe_stack_resources(StackName="svc-ok")["StackResources"]
                 if r["LogicalResourceId"] == "Discovery")
    inst = sd.list_instances(ServiceId=sd_id)["Instances"]
    assert [(i["Id"], i["Attributes"]["AWS_INSTANCE_IPV4"]) for i in inst] == [(task["taskArn"].split("/")[-1], ip)]

    # an update whose new task definition crash-loops: the breaker rolls the service back, the stack too
    cfn.update_stack(StackName="svc-ok", TemplateBody=_template(env, CRASH), Parameters=_params(env))
    assert _stack(cfn, "svc-ok")["StackStatus"] == "UPDATE_IN_PROGRESS"
    with pytest.raises(botocore.exceptions.ClientError, match="is in UPDATE_IN_PROGRESS state and can not be updated"):
        cfn.update_stack(StackName="svc-ok", TemplateBody=_template(env, SERVER), Parameters=_params(env))
    st = wait_for("the update's rollback", lambda: (lambda s: s if not s["StackStatus"].endswith("_IN_PROGRESS")
                                                    else None)(_stack(cfn, "svc-ok")), 90)
    assert st["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", st
    ev = cfn.describe_stack_events(StackName="svc-ok")["StackEvents"]
    failed = [e for e in ev if e["LogicalResourceId"] == "Service" and e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed and "ECS Deployment Circuit Breaker was triggered" in failed[0]["ResourceStatusReason"]
    s = ecs.describe_services(cluster=cluster, services=[res["Service"]])["services"][0]
    assert s["runningCount"] == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED"
    cmd = ecs.describe_task_definition(taskDefinition=s["taskDefinition"])["taskDefinition"]["containerDefinitions"][0]
    assert cmd["command"][-1] == SERVER

    # CancelUpdateStack: only while an update is in progress; the update stops waiting and rolls back
    with pytest.raises(botocore.exceptions.ClientError, match="cannot be called from current stack status"):
        cfn.cancel_update_stack(StackName="svc-ok")
    cfn.update_stack(StackName="svc-ok", TemplateBody=_template(env, CRASH), Parameters=_params(env))
    cfn.cancel_update_stack(StackName="svc-ok")
    st = wait_for("the cancelled update's rollback", lambda: (lambda s: s if not s["StackStatus"].endswith(
        "_IN_PROGRESS") else None)(_stack(cfn, "svc-ok")), 90)
    assert st["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", st
    reasons = [e.get("ResourceStatusReason") for e in cfn.describe_stack_events(StackName="svc-ok")["StackEvents"][:8]]
    assert "Stack update cancelled" in reasons and "Resource update cancelled" in reasons, reasons

    # a good update (new task definition, 2 tasks): UPDATE_COMPLETE only once both run in a steady state
    cfn.update_stack(StackName="svc-ok", TemplateBody=_template(env, SERVER, desired=2), Parameters=_params(env))
    st = wait_for("the update", lambda: (lambda s: s if not s["StackStatus"].endswith("_IN_PROGRESS")
                                         else None)(_stack(cfn, "svc-ok")), 60, every=0.2)
    s = ecs.describe_services(cluster=cluster, services=[res["Service"]])["services"][0]
    assert st["StackStatus"] == "UPDATE_COMPLETE", st
    assert s["runningCount"] == 2 and [d["rolloutState"] for d in s["deployments"]] == ["COMPLETED"]
    running = ecs.list_tasks(cluster=cluster)["taskArns"]
    assert len(running) == 3

    cfn.delete_stack(StackName="svc-ok")
    wait_for("the stack deleted", lambda: not [x for x in cfn.list_stacks()["StackSummaries"]
                                               if x["StackName"] == "svc-ok" and x["StackStatus"] != "DELETE_COMPLETE"], 60)
    root = f"/sys/fs/cgroup/unified/fairflow-local-aws-{env['run']['LOCAL_AWS_PID']}"
    assert not any(os.path.exists(os.path.join(root, f"task-{a.split('/')[-1]}")) for a in running)
    assert "web.svc-ok.fairflow.internal" not in open(env["run"]["LOCAL_AWS_HOSTS_FILE"]).read()


def test_a_stack_whose_service_crash_loops_rolls_back_with_the_reason(env):
    cfn = env["run"].client("cloudformation")
    cfn.create_stack(StackName="svc-bad", TemplateBody=_template(env, CRASH), Parameters=_params(env))
    st = wait_for("the rollback", lambda: (lambda s: s if s["StackStatus"] in (
        "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_COMPLETE") else None)(_stack(cfn, "svc-bad")), 90)
    assert st["StackStatus"] == "ROLLBACK_COMPLETE"
    ev = cfn.describe_stack_events(StackName="svc-bad")["StackEvents"]
    failed = [e for e in ev if e["LogicalResourceId"] == "Service" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed and "ECS Deployment Circuit Breaker was triggered" in failed[0]["ResourceStatusReason"]
    # the other service, still in progress, is cancelled; both are named in the stack's reason
    assert [e["ResourceStatusReason"] for e in ev if e["LogicalResourceId"] == "Second"
            and e["ResourceStatus"] == "CREATE_FAILED"] == ["Resource creation cancelled"]
    assert [e["ResourceStatusReason"] for e in ev if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS"] == [
        "The following resource(s) failed to create: [Service, Second]. Rollback requested by user."]
    assert any(e["LogicalResourceId"] == "Service" and e["ResourceStatus"] == "DELETE_COMPLETE" for e in ev)
    cfn.delete_stack(StackName="svc-bad")
