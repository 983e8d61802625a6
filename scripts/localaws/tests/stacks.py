"""Deploying templates into the local AWS from tests, and checking a stack the way the issue asks."""
import io
import json
import os
import pathlib
import subprocess
import time
import uuid
import zipfile

from census import census, leftovers
from verify import VERIFY, Ctx

SEED_DIR = pathlib.Path(os.environ.get("FAIRFLOW_SEED_TEMPLATES", str(pathlib.Path(__file__).resolve().parents[3].parent / "shared/reference/fairflow-cdk")))
ASSET_BUCKET = "fairflow-test-assets"
SKIP_LOG_LINES = ("No Moto CloudFormation support", "not supported by moto's CloudFormation")

# Modes of the seed's synthesized templates (file stem → mode name).
SEED_MODES = {"default": "default", "ha": "ha", "autoscaling": "autoscaling", "ha-autoscaling": "ha+autoscaling",
              "default-ipwhitelist": "allow-list"}
# Modes of `fairflow generate`: name → extra arguments.
GENERATE_MODES = {
    "default": [], "ha": ["--ha"], "autoscaling": ["--autoscaling"], "ha+autoscaling": ["--ha", "--autoscaling"],
    "allow-list": [], "airflow2": ["--airflow-version", "2"], "airflow3": ["--airflow-version", "3"],
    "no-bastion": ["--no-bastion"], "https": ["--certificate-arn", "{certificate}"],
}


def ensure_assets(aws):
    """What `cdk deploy` uploads before deploying: the asset bucket and the Lambda code zip."""
    s3 = aws("s3")
    if ASSET_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=ASSET_BUCKET)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__entrypoint__.js", "exports.handler = async () => ({});\n")
    s3.put_object(Bucket=ASSET_BUCKET, Key="asset.zip", Body=buf.getvalue())


def seed_parameters(template):
    """Values for the CDK asset parameters (the SSM AMI parameter keeps its default)."""
    out = []
    for name in template.get("Parameters", {}):
        if "S3Bucket" in name:
            out.append({"ParameterKey": name, "ParameterValue": ASSET_BUCKET})
        elif "S3VersionKey" in name:
            out.append({"ParameterKey": name, "ParameterValue": "asset.zip||"})
        elif "ArtifactHash" in name:
            out.append({"ParameterKey": name, "ParameterValue": "0" * 64})
    return out


def generated_template(aws, fairflow_bin, mode, workdir):
    """Run `fairflow generate` for a mode, with an env file naming secrets made in the local AWS."""
    sm = aws("secretsmanager")
    arns = {}
    for key in ("AIRFLOW_FERNET_KEY_SECRET_ARN", "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN",
                "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"):
        name = f"fairflow-test/{key.lower()}"
        try:
            arns[key] = sm.describe_secret(SecretId=name)["ARN"]
        except sm.exceptions.ResourceNotFoundException:
            arns[key] = sm.create_secret(Name=name, SecretString=uuid.uuid4().hex)["ARN"]
    lines = [f"{k}={v}" for k, v in arns.items()]
    if mode == "allow-list":
        lines.append("IP_WHITELIST=203.0.113.7/32,198.51.100.0/24")
    env_file = pathlib.Path(workdir) / f"{mode}.env"
    env_file.write_text("\n".join(lines) + "\n")
    out = pathlib.Path(workdir) / f"{mode}.template.json"
    extra = GENERATE_MODES[mode]
    if "{certificate}" in extra:
        acm = aws("acm")
        cert = acm.request_certificate(DomainName="airflow.fairflow.test")["CertificateArn"]
        extra = [cert if a == "{certificate}" else a for a in extra]
    argv = [fairflow_bin, "generate", *extra, "--env", str(env_file), "-o", str(out)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{' '.join(argv)} failed ({run.returncode}): {run.stderr}"
    return out


def deploy(aws, name, body, params, via, tags=None):
    cfn = aws("cloudformation")
    kw = dict(StackName=name, TemplateBody=body, Parameters=params,
              Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], Tags=tags or [])
    t = time.monotonic()
    if via == "create-stack":
        stack_id = cfn.create_stack(**kw)["StackId"]
    else:
        cs = cfn.create_change_set(ChangeSetName=f"{name}-cs", ChangeSetType="CREATE", **kw)
        cfn.describe_change_set(ChangeSetName=cs["Id"])
        cfn.execute_change_set(ChangeSetName=cs["Id"])
        stack_id = cs["StackId"]
    return stack_id, time.monotonic() - t


def failed_events(cfn, stack_id):
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"] if "FAILED" in e["ResourceStatus"]]


def condition_values(template, params):
    """Evaluate simple Conditions (Equals/Not/And/Or over Refs to parameters) for the checks."""
    conds = template.get("Conditions", {})
    values = {p["ParameterKey"]: p["ParameterValue"] for p in params}
    for k, v in template.get("Parameters", {}).items():
        values.setdefault(k, v.get("Default"))
    memo = {}

    def val(x):
        if isinstance(x, dict) and "Ref" in x:
            return values.get(x["Ref"])
        if isinstance(x, dict) and "Condition" in x:
            return cond(x["Condition"])
        return x

    def ev(c):
        (op, args), = c.items()
        if op == "Fn::Equals":
            return str(val(args[0])) == str(val(args[1]))
        if op == "Fn::Not":
            return not ev_any(args[0])
        if op == "Fn::And":
            return all(ev_any(a) for a in args)
        if op == "Fn::Or":
            return any(ev_any(a) for a in args)
        raise ValueError(op)

    def ev_any(a):
        return cond(a["Condition"]) if isinstance(a, dict) and "Condition" in a else ev(a)

    def cond(name):
        if name not in memo:
            memo[name] = ev(conds[name])
        return memo[name]
    return {name: cond(name) for name in conds}


def check_stack(aws, server_log, log_from, template, params, stack_id, stack_name):
    """Everything the issue asks of a deployed stack. Returns (physical ids, retained ids)."""
    cfn = aws("cloudformation")
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", \
        f"{stack_name}: {stack['StackStatus']}; failures: {failed_events(cfn, stack_id)}"
    log = server_log()[log_from:]
    skipped = [line for line in log.splitlines() if any(s in line for s in SKIP_LOG_LINES)]
    assert not skipped, f"moto skipped resource types: {skipped[:5]}"

    conds = condition_values(template, params)
    expected = {lid: rj for lid, rj in template["Resources"].items()
                if not rj.get("Condition") or conds.get(rj["Condition"])}
    summaries = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        summaries.extend(page["StackResourceSummaries"])
    got = {r["LogicalResourceId"]: r for r in summaries}
    assert sorted(got) == sorted(expected), f"stack resources differ: missing {set(expected) - set(got)}, " \
                                            f"extra {set(got) - set(expected)}"
    physical = {lid: r["PhysicalResourceId"] for lid, r in got.items()}
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in summaries)
    empty = [lid for lid, pid in physical.items() if not pid]
    assert not empty, f"resources without a physical id: {empty}"

    values = {p["ParameterKey"]: p["ParameterValue"] for p in params}
    ctx = Ctx(aws, stack_name, physical, values)
    problems = []
    for lid, rj in expected.items():
        rtype = rj["Type"]
        check = VERIFY.get(rtype)
        if check is None:
            problems.append(f"{lid}: no verifier for {rtype}")
            continue
        try:
            check(ctx, physical[lid], ctx.resolve(rj.get("Properties", {})))
        except Exception as e:  # noqa: BLE001 - collect all, report together
            problems.append(f"{lid} ({rtype}, {physical[lid]}): {type(e).__name__}: {e}")
    assert not problems, "resources not as the template says:\n" + "\n".join(problems)

    # events: IN_PROGRESS then COMPLETE per resource, dependencies complete first
    events = list(reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"]))
    seq = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events if e["LogicalResourceId"] in expected]
    done_at = {lid: i for i, (lid, st) in enumerate(seq) if st == "CREATE_COMPLETE"}
    start_at = {lid: i for i, (lid, st) in enumerate(seq) if st == "CREATE_IN_PROGRESS"}
    assert set(done_at) == set(expected) == set(start_at), "a resource lacks its create events"
    from moto_ext.cfn_engine import dependencies
    deps = dependencies(expected)
    for lid, ds in deps.items():
        assert start_at[lid] < done_at[lid]
        for d in ds:
            assert done_at[d] < start_at[lid], f"{lid} started before its dependency {d} completed"

    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    want = [k for k, o in template.get("Outputs", {}).items() if not o.get("Condition") or conds.get(o["Condition"])]
    missing = [k for k in want if not outputs.get(k)]
    assert not missing, f"outputs missing: {missing}"
    for k in want:
        v = template["Outputs"][k]["Value"]
        if isinstance(v, dict) and set(v) == {"Ref"} and v["Ref"] in physical:
            assert outputs[k] == physical[v["Ref"]], f"output {k}"
    retained = {physical[lid] for lid, rj in expected.items() if rj.get("DeletionPolicy") == "Retain"}
    return physical, retained


def delete_and_census(aws, stack_id, before, retained, expected_ids):
    cfn = aws("cloudformation")
    t = time.monotonic()
    cfn.delete_stack(StackName=stack_id)
    took = time.monotonic() - t
    status = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackId"] == stack_id][0]["StackStatus"]
    assert status == "DELETE_COMPLETE", f"{status}; failures: {failed_events(cfn, stack_id)}"
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    deleted = {e["LogicalResourceId"] for e in events if e["ResourceStatus"] in ("DELETE_COMPLETE", "DELETE_SKIPPED")}
    assert expected_ids <= deleted, f"no delete event for {expected_ids - deleted}"
    left = leftovers(before, census(aws, keep_buckets=(ASSET_BUCKET,)))

    def same(found_id, pid):  # a census id (name, id) against a physical id (which may be an ARN)
        return found_id == pid or pid.endswith("/" + found_id) or pid.endswith(":" + found_id)
    unexpected = {k: [i for i in v if not any(same(i, r) for r in retained)] for k, v in left.items()}
    unexpected = {k: v for k, v in unexpected.items() if v}
    assert not unexpected, f"DeleteStack left resources behind: {json.dumps(unexpected, indent=1)}"
    flat = [i for ids in left.values() for i in ids]
    gone = [r for r in retained if not any(same(i, r) for i in flat)]
    assert not gone, f"resources with DeletionPolicy Retain should remain: {gone}"
    logs = aws("logs")
    for name in left.get("logs:log-group", []):  # clean up what Retain kept
        logs.delete_log_group(logGroupName=name)
    for key in left.get("kms:key", []):
        aws("kms").schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    return took
