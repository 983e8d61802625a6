"""Signature checking is on by default, with the test user; moto's rest-json signing bug is fixed."""
import uuid

import botocore.exceptions
import pytest

from conftest import client_factory


def test_right_key_accepted(aws):
    assert aws("sts").get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:user/fairflow-test"


@pytest.mark.parametrize("service,call", [
    ("sts", lambda c: c.get_caller_identity()),               # query
    ("ecs", lambda c: c.list_clusters()),                      # json
    ("ec2", lambda c: c.describe_vpcs()),                      # ec2
    ("efs", lambda c: c.describe_file_systems()),              # rest-json GET without query
    ("s3", lambda c: c.list_buckets()),                        # rest-xml
])
def test_wrong_secret_rejected(local_aws, service, call):
    bad = client_factory(local_aws["LOCAL_AWS_ENDPOINT"], local_aws["AWS_ACCESS_KEY_ID"], "not-the-secret")(service)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(bad)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (401, 403)


def test_rest_json_bodyless_requests_verify(aws):
    """Plain moto 5.2.1 rejects these signed requests (it hashes the headers as the payload)."""
    efs = aws("efs")
    fs = efs.create_file_system(CreationToken="auth-" + uuid.uuid4().hex[:6])
    assert [f["FileSystemId"] for f in efs.describe_file_systems(FileSystemId=fs["FileSystemId"])["FileSystems"]] \
        == [fs["FileSystemId"]]
    efs.delete_file_system(FileSystemId=fs["FileSystemId"])
    assert fs["FileSystemId"] not in [f["FileSystemId"] for f in efs.describe_file_systems()["FileSystems"]]
