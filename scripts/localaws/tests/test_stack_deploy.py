"""The issue's big test: every mode of the real template deploys, is visible service by service, has
its Outputs, and DeleteStack leaves nothing behind (census through the services' list calls).

Templates: with FAIRFLOW_BIN set, `$FAIRFLOW_BIN generate` output for every mode; otherwise the
seed's synthesized templates (FAIRFLOW_SEED_TEMPLATES, default ../shared/reference/fairflow-cdk beside the repository).
"""
import json
import os

import pytest

from census import census
from conftest import Peer, local_aws_argv, peer_clients
from stacks import (GENERATE_MODES, SEED_DIR, SEED_MODES, check_stack, delete_and_census, deploy, ensure_assets,
                    generated_template, seed_parameters)

FAIRFLOW_BIN = os.environ.get("FAIRFLOW_BIN")


def modes():
    if FAIRFLOW_BIN:
        return list(GENERATE_MODES)
    return [m for stem, m in SEED_MODES.items() if (SEED_DIR / f"{stem}.template.json").exists()]


@pytest.fixture(scope="module")
def server():
    peer = Peer(local_aws_argv())
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def aws(server):
    return peer_clients(server)


def template_for(aws, mode, tmp_path):
    ensure_assets(aws)
    if FAIRFLOW_BIN:
        path = generated_template(aws, FAIRFLOW_BIN, mode, tmp_path)
        body = path.read_text()
        return body, json.loads(body), []
    stem = {m: s for s, m in SEED_MODES.items()}[mode]
    body = (SEED_DIR / f"{stem}.template.json").read_text()
    template = json.loads(body)
    return body, template, seed_parameters(template)


@pytest.mark.parametrize("via", ["create-stack", "change-set"])
@pytest.mark.parametrize("mode", modes())
def test_mode_deploys_fully_and_deletes_cleanly(server, aws, mode, via, tmp_path):
    body, template, params = template_for(aws, mode, tmp_path)
    before = census(aws, keep_buckets=("fairflow-test-assets",))
    log_from = len(server.server_log())
    name = f"ff-{mode.replace('+', '-')}-{via}"
    stack_id, took = deploy(aws, name, body, params, via, tags=[{"Key": "fairflow:test", "Value": mode}])
    physical, retained = check_stack(aws, server.server_log, log_from, template, params, stack_id, name)
    # the stack tag reached the resources, and the tagging API works (no 500 on untagged clusters)
    tagged = aws("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "fairflow:test", "Values": [mode]}])["ResourceTagMappingList"]
    assert len(tagged) >= 10, f"stack tags reached only {len(tagged)} resources"
    # objects in a bucket that CDK's auto-delete custom resource guards must not block DeleteStack
    s3 = aws("s3")
    for lid, rj in template["Resources"].items():
        if rj["Type"] == "Custom::S3AutoDeleteObjects":
            bucket = physical[rj["Properties"]["BucketName"]["Ref"]]
            for key in ("logs/dag/run1.log", "logs/dag/run2.log"):
                s3.put_object(Bucket=bucket, Key=key, Body=b"task log")
    delete_and_census(aws, stack_id, before, retained, set(physical))
    print(f"{mode} via {via}: {len(physical)} resources, create {took:.2f}s")


def test_update_of_a_mode_then_clean_delete(server, aws, tmp_path):
    """UpdateStack on the real template: changed services are updated in place, nothing leaks."""
    mode = "ha+autoscaling" if "ha+autoscaling" in modes() else modes()[0]
    body, template, params = template_for(aws, mode, tmp_path)
    before = census(aws, keep_buckets=("fairflow-test-assets",))
    name = "ff-update"
    stack_id, _ = deploy(aws, name, body, params, "create-stack")
    physical, retained = check_stack(aws, server.server_log, len(server.server_log()), template, params, stack_id,
                                     name)
    services = [lid for lid, rj in template["Resources"].items() if rj["Type"] == "AWS::ECS::Service"]
    changed = services[0]
    template["Resources"][changed]["Properties"]["DesiredCount"] = 3
    cfn = aws("cloudformation")
    cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(template), Parameters=params,
                     Capabilities=["CAPABILITY_IAM"])
    st = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert st["StackStatus"] == "UPDATE_COMPLETE"
    arn = physical[changed]
    svc = aws("ecs").describe_services(cluster=arn.split(":service/")[1].split("/")[0], services=[arn])["services"][0]
    assert svc["desiredCount"] == 3 and svc["status"] == "ACTIVE"
    after = {r["LogicalResourceId"]: r["PhysicalResourceId"]
             for r in cfn.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]}
    assert after == physical, "an update must not replace or drop unchanged resources"
    delete_and_census(aws, stack_id, before, retained, set(physical))


def test_services_behind_the_alb_have_their_tasks_registered(server, aws, tmp_path):
    """As ECS does: a service's running tasks are targets of its target groups, so target health lists them."""
    mode = modes()[0]
    body, template, params = template_for(aws, mode, tmp_path)
    before = census(aws, keep_buckets=("fairflow-test-assets",))
    stack_id, _ = deploy(aws, "ff-targets", body, params, "create-stack")
    physical, retained = check_stack(aws, server.server_log, len(server.server_log()), template, params, stack_id, "ff-targets")
    behind = 0
    for lid, rj in template["Resources"].items():
        if rj["Type"] != "AWS::ECS::Service" or not rj["Properties"].get("LoadBalancers"):
            continue
        behind += 1
        arn = physical[lid]
        svc = aws("ecs").describe_services(cluster=arn.split(":service/")[1].split("/")[0], services=[arn])["services"][0]
        tg = svc["loadBalancers"][0]["targetGroupArn"]
        health = aws("elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        assert len(health) == svc["desiredCount"], f"{lid}: {health}"
        assert {h["TargetHealth"]["State"] for h in health} == {"healthy"}
        assert {h["Target"]["Port"] for h in health} == {svc["loadBalancers"][0]["containerPort"]}
    assert behind >= 1, "the template has services behind the ALB"
    delete_and_census(aws, stack_id, before, retained, set(physical))
