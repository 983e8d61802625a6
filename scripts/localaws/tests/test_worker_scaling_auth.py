"""The permissions the stack's worker-scaling sidecars use, as IAM evaluates them for the task role: the
queue-metrics container's PutMetricData (narrowed by cloudwatch:namespace) and DescribeServices of the worker
service (by its ARN)."""
import json
import uuid

import boto3
import botocore.exceptions
import pytest

from conftest import REGION


@pytest.fixture(scope="module")
def role_session(aws, local_aws):
    iam = aws("iam")
    name = f"queue-metrics-{uuid.uuid4().hex[:8]}"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    account = arn.split(":")[4]
    iam.put_role_policy(RoleName=name, PolicyName="airflow", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PublishQueueMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": "Fairflow"}}},
        {"Sid": "CountWorkers", "Effect": "Allow", "Action": "ecs:DescribeServices",
         "Resource": f"arn:aws:ecs:{REGION}:{account}:service/scaling-cluster/*"},
    ]}))
    c = aws("sts").assume_role(RoleArn=arn, RoleSessionName="queue-metrics")["Credentials"]
    s = boto3.session.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                              aws_session_token=c["SessionToken"], region_name=REGION)
    for cluster in ("scaling-cluster", "other-cluster"):
        aws("ecs").create_cluster(clusterName=cluster)
    return lambda service: s.client(service, endpoint_url=local_aws["LOCAL_AWS_ENDPOINT"])


def denied(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.value.response


def test_put_metric_data_only_in_the_allowed_namespace(role_session, aws):
    cw = role_session("cloudwatch")
    cw.put_metric_data(Namespace="Fairflow", MetricData=[{"MetricName": "CeleryBacklog", "Value": 3}])
    denied(lambda: cw.put_metric_data(Namespace="Elsewhere", MetricData=[{"MetricName": "CeleryBacklog", "Value": 3}]))
    names = [m["MetricName"] for m in aws("cloudwatch").list_metrics(Namespace="Fairflow")["Metrics"]]
    assert "CeleryBacklog" in names


def test_describe_services_by_the_service_arn(role_session):
    ecs = role_session("ecs")
    r = ecs.describe_services(cluster="scaling-cluster", services=["worker"])
    assert [f["reason"] for f in r["failures"]] == ["MISSING"]
    denied(lambda: ecs.describe_services(cluster="other-cluster", services=["worker"]))
