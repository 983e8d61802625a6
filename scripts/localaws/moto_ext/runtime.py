"""A stand-in for a running cluster. Nothing runs in the local AWS's containers, but an on-call view
(`fairflow status`) is only worth showing when services reach their desired count the way they would
on AWS: a new service's tasks count as running (its deployment COMPLETED), each of them is registered
in the service's target groups as ECS registers a task's IP (so target health lists them, healthy),
and SSM reports the stack's instances as Online (moto answers DescribeInstanceInformation with a 500).
Set LOCAL_AWS_TASKS_RUN=0 for moto's own behaviour (nothing running)."""
import json
import os
import sys

from .check import require


def register_targets(service):
    """One target per running task in each target group of the service (fake task IPs, stable per service)."""
    lbs = [lb for lb in (service.load_balancers or []) if lb.get("targetGroupArn")]
    if not lbs:
        return
    try:
        from moto.elbv2.models import elbv2_backends
        backend = elbv2_backends[service._account_id][service.region_name]
        base = sum(service.name.encode()) % 200 + 10
        for lb in lbs:
            targets = [{"Id": f"10.0.{base}.{i + 10}", "Port": int(lb.get("containerPort") or 80)}
                       for i in range(service.desired_count or 0)]
            if targets:
                backend.register_targets(lb["targetGroupArn"], targets)
    except Exception as e:  # the service still exists; status will say its target group is empty
        print(f"local-aws: could not register targets of service {service.name}: {e}", file=sys.stderr)


def apply():
    if os.environ.get("LOCAL_AWS_TASKS_RUN", "1") == "0":
        return
    from moto.ecs import models as ecs
    require(ecs, "Service")
    init = ecs.Service.__init__

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.running_count = self.desired_count
        self.pending_count = 0
        for d in self.deployments:
            d["runningCount"] = d["desiredCount"]
            d["pendingCount"] = 0
            d["rolloutState"] = "COMPLETED"
            d["rolloutStateReason"] = f"ECS deployment {d['id']} completed."
        register_targets(self)

    ecs.Service.__init__ = __init__

    from moto.ssm import responses as ssm_responses
    require(ssm_responses.SimpleSystemManagerResponse, "describe_instance_information") if hasattr(
        ssm_responses.SimpleSystemManagerResponse, "describe_instance_information") else None

    def describe_instance_information(self):
        from moto.ec2.models import ec2_backends
        body = json.loads(self.body or "{}")
        wanted = set()
        for f in body.get("Filters", []) + body.get("InstanceInformationFilterList", []):
            if f.get("Key") in ("InstanceIds", "instanceIds"):
                wanted.update(f.get("Values", []) or f.get("valueSet", []))
        backend = ec2_backends[self.current_account][self.region]
        out = []
        for reservation in backend.reservations.values():
            for inst in reservation.instances:
                if inst.state != "running" or (wanted and inst.id not in wanted):
                    continue
                if not getattr(inst, "instance_profile", None) and not getattr(inst, "iam_instance_profile", None):
                    continue  # no instance profile: the SSM agent could not register
                out.append({"InstanceId": inst.id, "PingStatus": "Online", "PlatformType": "Linux",
                            "ResourceType": "EC2Instance", "AgentVersion": "3.3.0.0", "IsLatestVersion": True})
        return json.dumps({"InstanceInformationList": out})

    ssm_responses.SimpleSystemManagerResponse.describe_instance_information = describe_instance_information
