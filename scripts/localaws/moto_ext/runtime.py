"""A stand-in for a running cluster. Nothing runs in the local AWS's containers, but an on-call view
(`fairflow status`) is only worth showing when services reach their desired count the way they would
on AWS: a new service's tasks count as running (its deployment COMPLETED), and SSM reports the stack's
instances as Online (moto answers DescribeInstanceInformation with a 500).
Set LOCAL_AWS_TASKS_RUN=0 for moto's own behaviour (nothing running)."""
import json
import os

from .check import require


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
