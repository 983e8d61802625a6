"""The fault proxy in front of a real local AWS: faults, the control API and the request log."""
import json
import time
import urllib.request
import uuid

import botocore.exceptions
import pytest

from conftest import ROOT, Peer, client_factory


@pytest.fixture(scope="module")
def proxy(local_aws):
    peer = Peer([str(ROOT / "scripts" / "lib" / "fault-proxy"), "--upstream", local_aws["LOCAL_AWS_ENDPOINT"]])
    yield peer
    peer.stop()


def control(proxy, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(proxy["FAULT_PROXY_ENDPOINT"] + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def fp(proxy, local_aws):
    control(proxy, "DELETE", "/_fault/rules")
    control(proxy, "DELETE", "/_fault/requests")
    return proxy


def clients(proxy, local_aws, retries=None):
    return client_factory(proxy["FAULT_PROXY_ENDPOINT"], local_aws["AWS_ACCESS_KEY_ID"],
                          local_aws["AWS_SECRET_ACCESS_KEY"], retries)


def test_contract_lines(proxy):
    assert proxy["FAULT_PROXY_ENDPOINT"].startswith("http://127.0.0.1:")
    assert int(proxy["FAULT_PROXY_PID"]) == proxy.proc.pid


def test_forwards_signed_requests_unchanged(fp, local_aws):
    sts = clients(fp, local_aws)("sts")
    assert sts.get_caller_identity()["Arn"].endswith(":user/fairflow-test")
    log = control(fp, "GET", "/_fault/requests")
    assert [(e["operation"], e["service"], e["status"], e["mutating"], e["fault"]) for e in log] == \
        [("GetCallerIdentity", "sts", 200, False, None)]


def test_wrong_secret_still_rejected_through_proxy(fp, local_aws):
    sts = client_factory(fp["FAULT_PROXY_ENDPOINT"], local_aws["AWS_ACCESS_KEY_ID"], "wrong-secret")("sts")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_throttle_query_protocol_then_retry_succeeds(fp, local_aws):
    control(fp, "POST", "/_fault/rules", {"operation": "GetCallerIdentity", "kind": "throttle", "count": 2})
    no_retry = clients(fp, local_aws)("sts")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        no_retry.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "Throttling"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    retrying = clients(fp, local_aws, {"total_max_attempts": 3, "mode": "standard"})("sts")
    assert retrying.get_caller_identity()["Account"] == "123456789012"
    log = control(fp, "GET", "/_fault/requests")
    assert [(e["fault"], e["status"]) for e in log] == [("throttle", 400), ("throttle", 400), (None, 200)]
    assert control(fp, "GET", "/_fault/rules")[0]["count_left"] == 0


def test_throttle_json_protocol_shape(fp, local_aws):
    control(fp, "POST", "/_fault/rules", {"operation": "ListClusters", "kind": "throttle"})
    req = urllib.request.Request(fp["FAULT_PROXY_ENDPOINT"] + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400
    assert e.value.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert json.loads(e.value.read())["__type"] == "ThrottlingException"
    # and through boto3: the typed error
    ecs = clients(fp, local_aws)("ecs")
    control(fp, "POST", "/_fault/rules", {"operation": "ListClusters", "kind": "throttle"})
    with pytest.raises(botocore.exceptions.ClientError) as e2:
        ecs.list_clusters()
    assert e2.value.response["Error"]["Code"] == "ThrottlingException"


@pytest.mark.parametrize("kind,status,code", [("503", 503, "ServiceUnavailable"), ("500", 500, "InternalFailure")])
def test_server_errors(fp, local_aws, kind, status, code):
    control(fp, "POST", "/_fault/rules", {"operation": "DescribeStacks", "kind": kind, "count": 1})
    cfn = clients(fp, local_aws)("cloudformation")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cfn.describe_stacks()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert e.value.response["Error"]["Code"] == code
    assert cfn.describe_stacks()["Stacks"] is not None  # count exhausted: passes through


def test_drop_closes_connection_without_response(fp, local_aws):
    control(fp, "POST", "/_fault/rules", {"operation": "DescribeVpcs", "kind": "drop"})
    ec2 = clients(fp, local_aws)("ec2")
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        ec2.describe_vpcs()
    log = control(fp, "GET", "/_fault/requests")
    assert log[-1]["fault"] == "drop" and log[-1]["status"] is None and log[-1]["service"] == "ec2"
    assert ec2.describe_vpcs()["Vpcs"]


def test_delay(fp, local_aws):
    control(fp, "POST", "/_fault/rules", {"operation": "GetCallerIdentity", "kind": "delay", "delay_seconds": 1.2})
    sts = clients(fp, local_aws)("sts")
    t = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - t >= 1.2
    t = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - t < 1.0


def test_idempotency_token_logged_on_every_retry(fp, local_aws):
    control(fp, "POST", "/_fault/rules", {"operation": "CreateSecret", "kind": "503", "count": 2})
    sm = clients(fp, local_aws, {"total_max_attempts": 3, "mode": "standard"})("secretsmanager")
    token = str(uuid.uuid4())
    sm.create_secret(Name=f"fp-{token[:8]}", SecretString="x", ClientRequestToken=token)
    log = [e for e in control(fp, "GET", "/_fault/requests") if e["operation"] == "CreateSecret"]
    assert [(e["status"], e["client_request_token"], e["mutating"]) for e in log] == \
        [(503, token, True), (503, token, True), (200, token, True)]


def test_query_and_ec2_tokens_and_mutating(fp, local_aws):
    ec2 = clients(fp, local_aws)("ec2")
    ec2.describe_vpcs()
    ec2.create_launch_template(LaunchTemplateName=f"lt-{uuid.uuid4().hex[:6]}", LaunchTemplateData={},
                               ClientToken="tok-123")
    log = control(fp, "GET", "/_fault/requests")
    assert [(e["operation"], e["mutating"], e["client_request_token"]) for e in log] == \
        [("DescribeVpcs", False, None), ("CreateLaunchTemplate", True, "tok-123")]


def test_rest_protocol_operation_and_since(fp, local_aws):
    logs_before = len(control(fp, "GET", "/_fault/requests"))
    efs = clients(fp, local_aws)("efs")
    fs = efs.create_file_system(CreationToken="fp-efs-" + uuid.uuid4().hex[:6])
    efs.describe_file_systems()
    efs.delete_file_system(FileSystemId=fs["FileSystemId"])
    log = control(fp, "GET", f"/_fault/requests?since={logs_before}")
    assert [(e["method"], e["path"], e["mutating"], e["service"], e["status"]) for e in log] == \
        [("POST", "/2015-02-01/file-systems", True, "elasticfilesystem", 201),
         ("GET", "/2015-02-01/file-systems", False, "elasticfilesystem", 200),
         ("DELETE", f"/2015-02-01/file-systems/{fs['FileSystemId']}", True, "elasticfilesystem", 204)]
    assert log[0]["operation"] == "POST /2015-02-01/file-systems"
    assert log[0]["client_request_token"] is None  # CreationToken is not one of the three idempotency keys


def test_rest_get_is_read_only_and_throttled_rest_json(fp, local_aws):
    control(fp, "POST", "/_fault/rules", {"service": "elasticfilesystem", "kind": "throttle"})
    efs = clients(fp, local_aws)("efs")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        efs.describe_file_systems()
    assert e.value.response["Error"]["Code"] == "ThrottlingException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    entry = control(fp, "GET", "/_fault/requests")[-1]
    assert (entry["operation"], entry["mutating"]) == ("GET /2015-02-01/file-systems", False)


def test_bad_rule_rejected(fp):
    with pytest.raises(urllib.error.HTTPError) as e:
        control(fp, "POST", "/_fault/rules", {"operation": "X", "kind": "explode"})
    assert e.value.code == 400
    assert control(fp, "GET", "/_fault/rules") == []


def test_launcher_embedded_proxy():
    peer = Peer([str(ROOT / "scripts" / "local-aws"), "--fault-proxy"])
    try:
        assert peer["FAULT_PROXY_ENDPOINT"] != peer["LOCAL_AWS_ENDPOINT"]
        sts = client_factory(peer["FAULT_PROXY_ENDPOINT"], peer["AWS_ACCESS_KEY_ID"], peer["AWS_SECRET_ACCESS_KEY"])("sts")
        control(peer, "POST", "/_fault/rules", {"kind": "throttle", "count": 1})
        with pytest.raises(botocore.exceptions.ClientError):
            sts.get_caller_identity()
        assert sts.get_caller_identity()["Arn"].endswith("fairflow-test")
    finally:
        peer.stop()
