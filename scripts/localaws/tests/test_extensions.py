"""One focused test per extension, each on a small template, checked through the services' own APIs."""
import json
import uuid

import botocore.exceptions
import pytest

from census import census, leftovers
from conftest import Peer, local_aws_argv, peer_clients

NET = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16", "EnableDnsHostnames": True,
                                                     "EnableDnsSupport": True}},
    "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.9.1.0/24",
                                                           "AvailabilityZone": "us-east-1a"}},
    "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.9.2.0/24",
                                                           "AvailabilityZone": "us-east-1b"}},
    "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "app", "VpcId": {"Ref": "Vpc"}}},
}


@pytest.fixture(scope="module")
def server():
    peer = Peer(local_aws_argv())
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def aws(server):
    return peer_clients(server)


@pytest.fixture
def stack(aws):
    """Create a stack from a template dict (or YAML text); yields a maker; checks a clean delete after."""
    before = census(aws)
    made = []

    def make(template, expect="CREATE_COMPLETE", **kw):
        cfn = aws("cloudformation")
        body = template if isinstance(template, str) else json.dumps(template)
        name = f"ext-{uuid.uuid4().hex[:8]}"
        sid = cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"], **kw)["StackId"]
        made.append(sid)
        st = cfn.describe_stacks(StackName=sid)["Stacks"][0]
        assert st["StackStatus"] == expect, [(e["LogicalResourceId"], e["ResourceStatus"],
                                              e.get("ResourceStatusReason"))
                                             for e in cfn.describe_stack_events(StackName=sid)["StackEvents"]]
        st["Out"] = {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs") or []}
        st["Res"] = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                     for r in cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]}
        return st
    yield make
    cfn = aws("cloudformation")
    for sid in made:
        cfn.delete_stack(StackName=sid)
        status = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackId"] == sid][0]["StackStatus"]
        assert status == "DELETE_COMPLETE", status
    assert leftovers(before, census(aws)) == {}


def test_secrets_manager_secret_and_dynamic_references(aws, stack):
    aws("ssm").put_parameter(Name="/ff/test/engine", Value="mysql", Type="String", Overwrite=True)
    t = {"Resources": {
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Description": "db", "GenerateSecretString": {
                "SecretStringTemplate": "{\"username\": \"airflow\"}", "GenerateStringKey": "password",
                "PasswordLength": 20, "ExcludePunctuation": True}}},
        "Param": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Type": "String", "Name": "/ff/test/resolved",
            "Value": {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Secret"},
                                        ":SecretString:username::}}/{{resolve:ssm:/ff/test/engine}}"]]}}}},
        "Outputs": {"SecretArn": {"Value": {"Ref": "Secret"}}}}
    st = stack(t)
    sm = aws("secretsmanager")
    assert st["Out"]["SecretArn"] in [s["ARN"] for s in sm.list_secrets()["SecretList"]]
    doc = json.loads(sm.get_secret_value(SecretId=st["Out"]["SecretArn"])["SecretString"])
    assert doc["username"] == "airflow" and len(doc["password"]) == 20 and doc["password"].isalnum()
    assert aws("ssm").get_parameter(Name="/ff/test/resolved")["Parameter"]["Value"] == "airflow/mysql"
    aws("ssm").delete_parameter(Name="/ff/test/engine")


def test_secret_target_attachment_adds_connection_fields(aws, stack):
    t = {"Resources": {
        **NET,
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {
            "SecretStringTemplate": "{\"username\": \"airflow\"}", "GenerateStringKey": "password"}}},
        "Subnets": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
            "DBSubnetGroupDescription": "db", "SubnetIds": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]}},
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "Engine": "mysql", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": "20",
            "DBSubnetGroupName": {"Ref": "Subnets"}, "VPCSecurityGroups": [{"Fn::GetAtt": ["Sg", "GroupId"]}],
            "MasterUsername": {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:username}}"},
            "MasterUserPassword": {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:password}}"}}},
        "Attach": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {
            "SecretId": {"Ref": "Secret"}, "TargetId": {"Ref": "Db"}, "TargetType": "AWS::RDS::DBInstance"}}}}
    st = stack(t)
    db = aws("rds").describe_db_instances(DBInstanceIdentifier=st["Res"]["Db"])["DBInstances"][0]
    assert db["MasterUsername"] == "airflow"
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [st["Res"]["Sg"]]
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == st["Res"]["Subnets"]
    doc = json.loads(aws("secretsmanager").get_secret_value(SecretId=st["Res"]["Secret"])["SecretString"])
    assert doc["host"] == db["Endpoint"]["Address"] and doc["port"] == db["Endpoint"]["Port"]
    assert doc["engine"] == "mysql"


def test_elasticache_types_and_endpoints(aws, stack):
    t = {"Resources": {
        **NET,
        "CacheSubnets": {"Type": "AWS::ElastiCache::SubnetGroup", "Properties": {
            "Description": "redis", "SubnetIds": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}],
            "CacheSubnetGroupName": "ff-test-redis-subnets"}},
        "Redis": {"Type": "AWS::ElastiCache::ReplicationGroup", "DependsOn": ["CacheSubnets"], "Properties": {
            "ReplicationGroupDescription": "r", "Engine": "redis", "CacheNodeType": "cache.t3.micro",
            "NumNodeGroups": 1, "ReplicasPerNodeGroup": 1, "MultiAZEnabled": True, "AutomaticFailoverEnabled": True,
            "CacheSubnetGroupName": "ff-test-redis-subnets", "SecurityGroupIds": [{"Fn::GetAtt": ["Sg", "GroupId"]}],
            "Port": 6379}},
        "Memcached": {"Type": "AWS::ElastiCache::CacheCluster", "Properties": {
            "Engine": "redis", "CacheNodeType": "cache.t3.micro", "NumCacheNodes": 1}}},
        "Outputs": {
            "Primary": {"Value": {"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Address"]}},
            "Port": {"Value": {"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Port"]}},
            "Reader": {"Value": {"Fn::GetAtt": ["Redis", "ReaderEndPoint.Address"]}},
            "Url": {"Value": {"Fn::Sub": "redis://${Redis.PrimaryEndPoint.Address}:${Redis.PrimaryEndPoint.Port}/0"}},
            "Single": {"Value": {"Fn::GetAtt": ["Memcached", "RedisEndpoint.Address"]}}}}
    st = stack(t)
    ec = aws("elasticache")
    rg = ec.describe_replication_groups(ReplicationGroupId=st["Res"]["Redis"])["ReplicationGroups"][0]
    assert rg["Status"] == "available" and rg["MultiAZ"] == "enabled"
    assert st["Out"]["Primary"] == rg["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    assert st["Out"]["Port"] == "6379" and st["Out"]["Reader"].startswith("replica.")
    assert st["Out"]["Url"] == f"redis://{st['Out']['Primary']}:6379/0"
    groups = ec.describe_cache_subnet_groups(CacheSubnetGroupName="ff-test-redis-subnets")["CacheSubnetGroups"]
    assert len(groups[0]["Subnets"]) == 2
    assert ec.describe_cache_clusters(CacheClusterId=st["Res"]["Memcached"])["CacheClusters"]
    assert st["Out"]["Single"].startswith(st["Res"]["Memcached"])


def test_cloud_map_namespace_and_service(aws, stack):
    t = {"Resources": {
        **NET,
        "Ns": {"Type": "AWS::ServiceDiscovery::PrivateDnsNamespace", "Properties": {"Name": "ff.local",
                                                                                      "Vpc": {"Ref": "Vpc"}}},
        "Svc": {"Type": "AWS::ServiceDiscovery::Service", "Properties": {
            "Name": "redis", "NamespaceId": {"Fn::GetAtt": ["Ns", "Id"]},
            "DnsConfig": {"DnsRecords": [{"TTL": 60, "Type": "A"}], "RoutingPolicy": "MULTIVALUE"}}}},
        "Outputs": {"NsId": {"Value": {"Fn::GetAtt": ["Ns", "Id"]}}, "NsArn": {"Value": {"Fn::GetAtt": ["Ns", "Arn"]}},
                    "SvcArn": {"Value": {"Fn::GetAtt": ["Svc", "Arn"]}},
                    "SvcName": {"Value": {"Fn::GetAtt": ["Svc", "Name"]}}}}
    st = stack(t)
    sd = aws("servicediscovery")
    ns = [n for n in sd.list_namespaces()["Namespaces"] if n["Id"] == st["Out"]["NsId"]][0]
    assert ns["Name"] == "ff.local" and ns["Type"] == "DNS_PRIVATE" and ns["Arn"] == st["Out"]["NsArn"]
    svc = sd.get_service(Id=st["Res"]["Svc"])["Service"]
    assert svc["Arn"] == st["Out"]["SvcArn"] and st["Out"]["SvcName"] == "redis"
    assert svc["NamespaceId"] == ns["Id"]


ECS_APP = {
    **NET,
    "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "ff-ext-cluster",
                                                            "Tags": [{"Key": "team", "Value": "data"}]}},
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
    "Fs": {"Type": "AWS::EFS::FileSystem", "Properties": {"Encrypted": True}},
    "Ap": {"Type": "AWS::EFS::AccessPoint", "Properties": {"FileSystemId": {"Ref": "Fs"},
                                                           "RootDirectory": {"Path": "/dags"}}},
    "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "s3cret"}},
    "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
        "Family": "ff-ext-web", "RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc",
        "Cpu": "1024", "Memory": "2048", "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
        "TaskRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
        "Volumes": [{"Name": "dags", "EFSVolumeConfiguration": {
            "FilesystemId": {"Ref": "Fs"}, "TransitEncryption": "ENABLED",
            "AuthorizationConfig": {"AccessPointId": {"Ref": "Ap"}, "IAM": "ENABLED"}}}],
        "ContainerDefinitions": [{
            "Name": "web", "Image": "apache/airflow:3.0.0", "Cpu": 1024, "Memory": 2048, "Essential": True,
            "PortMappings": [{"ContainerPort": 8080}],
            "Secrets": [{"Name": "DB_PASSWORD", "ValueFrom": {"Ref": "Secret"}}],
            "MountPoints": [{"SourceVolume": "dags", "ContainerPath": "/opt/airflow/dags"}],
            "LogConfiguration": {"LogDriver": "awslogs", "Options": {
                "awslogs-group": "/ff/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}}}]}},
    "Service": {"Type": "AWS::ECS::Service", "Properties": {
        "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "Task"}, "DesiredCount": 2, "LaunchType": "FARGATE",
        "DeploymentConfiguration": {"MaximumPercent": 200, "MinimumHealthyPercent": 50},
        "NetworkConfiguration": {"AwsvpcConfiguration": {
            "AssignPublicIp": "DISABLED", "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}],
            "SecurityGroups": [{"Fn::GetAtt": ["Sg", "GroupId"]}]}}}},
}


def test_efs_attributes_and_access_point_ref(aws, stack):
    t = {"Resources": {k: ECS_APP[k] for k in ("Fs", "Ap")},
         "Outputs": {"FsArn": {"Value": {"Fn::GetAtt": ["Fs", "Arn"]}},
                     "FsId": {"Value": {"Fn::GetAtt": ["Fs", "FileSystemId"]}},
                     "ApRef": {"Value": {"Ref": "Ap"}}, "ApId": {"Value": {"Fn::GetAtt": ["Ap", "AccessPointId"]}},
                     "ApArn": {"Value": {"Fn::GetAtt": ["Ap", "Arn"]}}}}
    st = stack(t)
    efs = aws("efs")
    fs = efs.describe_file_systems(FileSystemId=st["Res"]["Fs"])["FileSystems"][0]
    ap = efs.describe_access_points(FileSystemId=fs["FileSystemId"])["AccessPoints"][0]
    assert st["Out"]["FsArn"] == fs["FileSystemArn"] and st["Out"]["FsId"] == fs["FileSystemId"]
    assert st["Res"]["Ap"] == st["Out"]["ApRef"] == st["Out"]["ApId"] == ap["AccessPointId"]
    assert st["Out"]["ApArn"] == ap["AccessPointArn"]


def test_ecs_properties_pass_through_and_run_task_on_cfn_vpc(aws, stack):
    st = stack({"Resources": ECS_APP})
    ecs = aws("ecs")
    td = ecs.describe_task_definition(taskDefinition=st["Res"]["Task"])["taskDefinition"]
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
    assert (td["cpu"], td["memory"]) == ("1024", "2048")
    assert td["executionRoleArn"].endswith(st["Res"]["Role"]) and td["taskRoleArn"] == td["executionRoleArn"]
    efs_cfg = td["volumes"][0]["efsVolumeConfiguration"]
    assert efs_cfg["fileSystemId"] == st["Res"]["Fs"] and efs_cfg["authorizationConfig"] == {
        "accessPointId": st["Res"]["Ap"], "iam": "ENABLED"}
    c = td["containerDefinitions"][0]
    assert c["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": st["Res"]["Secret"]}]
    assert c["logConfiguration"]["options"]["awslogs-stream-prefix"] == "web"
    svc = ecs.describe_services(cluster="ff-ext-cluster", services=[st["Res"]["Service"]])["services"][0]
    assert svc["launchType"] == "FARGATE" and svc["desiredCount"] == 2
    assert sorted(svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"]) == \
        sorted([st["Res"]["SubnetA"], st["Res"]["SubnetB"]])
    assert svc["deploymentConfiguration"]["minimumHealthyPercent"] == 50
    cluster = ecs.describe_clusters(clusters=["ff-ext-cluster"], include=["TAGS"])["clusters"][0]
    assert {"key": "team", "value": "data"} in cluster["tags"]
    # DNS hostnames honoured on the CFN-made VPC: RunTask with awsvpc works without modify-vpc-attribute
    ec2 = aws("ec2")
    assert ec2.describe_vpc_attribute(VpcId=st["Res"]["Vpc"], Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"]["Value"] is True
    task = ecs.run_task(cluster="ff-ext-cluster", taskDefinition=st["Res"]["Task"], launchType="FARGATE",
                        networkConfiguration={"awsvpcConfiguration": {"subnets": [st["Res"]["SubnetA"]],
                                                                      "securityGroups": [st["Res"]["Sg"]]}})
    arn = task["tasks"][0]["taskArn"]
    ecs.stop_task(cluster="ff-ext-cluster", task=arn)
    for eni in ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [st["Res"]["SubnetA"]]}])[
            "NetworkInterfaces"]:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])  # moto keeps stopped tasks' ENIs


def test_application_autoscaling_target_policy_and_update(aws, stack):
    res = dict(ECS_APP)
    res["Target"] = {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
        "ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": 1,
        "MaxCapacity": 4, "ResourceId": {"Fn::Join": ["", ["service/", {"Ref": "Cluster"}, "/",
                                                             {"Fn::GetAtt": ["Service", "Name"]}]]}}}
    res["Cpu"] = {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
        "PolicyName": "cpu70", "PolicyType": "TargetTrackingScaling", "ScalingTargetId": {"Ref": "Target"},
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 70, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}}}
    st = stack({"Resources": res})
    aas = aws("application-autoscaling")
    t = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert [(x["ResourceId"], x["MinCapacity"], x["MaxCapacity"]) for x in t] == \
        [(st["Res"]["Target"].split("|")[0], 1, 4)]
    assert st["Res"]["Target"].endswith("|ecs:service:DesiredCount|ecs")
    pols = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert [(p["PolicyName"], p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]) for p in pols] == \
        [("cpu70", 70.0)]
    assert len(aws("cloudwatch").describe_alarms()["MetricAlarms"]) == 2
    res["Target"]["Properties"]["MaxCapacity"] = 6
    cfn = aws("cloudformation")
    cfn.update_stack(StackName=st["StackId"], TemplateBody=json.dumps({"Resources": res}),
                     Capabilities=["CAPABILITY_IAM"])
    assert cfn.describe_stacks(StackName=st["StackId"])["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    t = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert [x["MaxCapacity"] for x in t] == [6]
    assert len(aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]) == 1


def test_security_group_egress_and_bucket_policy(aws, stack):
    t = {"Resources": {
        **NET,
        "Other": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "o", "VpcId": {"Ref": "Vpc"}}},
        "Egress": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
            "DestinationSecurityGroupId": {"Fn::GetAtt": ["Other", "GroupId"]}}},
        "Ingress": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["Other", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
            "SourceSecurityGroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}}},
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                                                    "Resource": {"Fn::Sub": "arn:aws:s3:::${Bucket}/*"},
                                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}}}}
    st = stack(t)
    ec2 = aws("ec2")
    rules = ec2.describe_security_group_rules(SecurityGroupRuleIds=[st["Res"]["Egress"], st["Res"]["Ingress"]])[
        "SecurityGroupRules"]
    assert sorted((r["IsEgress"], r["FromPort"], r["GroupId"]) for r in rules) == \
        sorted([(True, 8080, st["Res"]["Sg"]), (False, 8080, st["Res"]["Other"])])
    doc = json.loads(aws("s3").get_bucket_policy(Bucket=st["Res"]["Bucket"])["Policy"])
    assert doc["Statement"][0]["Resource"] == f"arn:aws:s3:::{st['Res']['Bucket']}/*"
    assert len(st["Res"]["Bucket"]) <= 63


YAML = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.8.0.0/16}}
  SubnetA: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.8.1.0/24}}
  Subnets:
    Type: AWS::ElastiCache::SubnetGroup
    Properties: {Description: r, SubnetIds: [!Ref SubnetA]}
  Redis:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: r
      CacheNodeType: cache.t3.micro
      Engine: redis
      NumCacheClusters: 1
      CacheSubnetGroupName: !Ref Subnets
Outputs:
  Address: {Value: !GetAtt Redis.PrimaryEndPoint.Address}
  Url: {Value: !Sub "redis://${Redis.PrimaryEndPoint.Address}:${Redis.PrimaryEndPoint.Port}"}
"""


def test_dotted_getatt_in_yaml_and_sub(aws, stack):
    st = stack(YAML)
    assert st["Out"]["Address"].startswith("master.")
    assert st["Out"]["Url"] == f"redis://{st['Out']['Address']}:6379"


def test_per_resource_events_in_dependency_order(aws, stack):
    st = stack({"Resources": NET})
    cfn = aws("cloudformation")
    events = [(e["LogicalResourceId"], e["ResourceStatus"], e["PhysicalResourceId"]) for e in
              reversed(cfn.describe_stack_events(StackName=st["StackId"])["StackEvents"])]
    name = st["StackName"]
    assert events[0][:2] == (name, "CREATE_IN_PROGRESS") and events[-1][:2] == (name, "CREATE_COMPLETE")
    body = [(lid, s) for lid, s, _ in events[1:-1]]
    assert body == [("Vpc", "CREATE_IN_PROGRESS"), ("Vpc", "CREATE_COMPLETE"),
                    ("SubnetA", "CREATE_IN_PROGRESS"), ("SubnetA", "CREATE_COMPLETE"),
                    ("SubnetB", "CREATE_IN_PROGRESS"), ("SubnetB", "CREATE_COMPLETE"),
                    ("Sg", "CREATE_IN_PROGRESS"), ("Sg", "CREATE_COMPLETE")]
    assert [p for lid, s, p in events if s == "CREATE_COMPLETE" and lid == "Vpc"] == [st["Res"]["Vpc"]]


def test_change_set_stack_gets_outputs(aws):
    cfn = aws("cloudformation")
    t = {"Resources": {"Vpc": NET["Vpc"]}, "Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}, "Export": {
        "Name": "ff-cs-vpc"}}}}
    cs = cfn.create_change_set(StackName="ext-cs", ChangeSetName="c1", ChangeSetType="CREATE",
                               TemplateBody=json.dumps(t))
    assert cfn.describe_stacks(StackName="ext-cs")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    cfn.execute_change_set(ChangeSetName=cs["Id"])
    st = cfn.describe_stacks(StackName="ext-cs")["Stacks"][0]
    assert st["StackStatus"] == "CREATE_COMPLETE"
    vpc_id = st["Outputs"][0]["OutputValue"]
    assert vpc_id.startswith("vpc-") and aws("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert [e["Value"] for e in cfn.list_exports()["Exports"] if e["Name"] == "ff-cs-vpc"] == [vpc_id]
    cfn.delete_stack(StackName="ext-cs")
    assert not aws("ec2").describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]


def test_failing_resource_create_failed_then_rollback(aws):
    cfn = aws("cloudformation")
    before = census(aws)
    t = {"Resources": {**NET, "Broken": {"Type": "AWS::ECS::Service", "DependsOn": ["Sg"], "Properties": {
        "Cluster": "no-such-cluster", "TaskDefinition": "no-such-task:1", "DesiredCount": 1}}}}
    sid = cfn.create_stack(StackName="ext-fail", TemplateBody=json.dumps(t))["StackId"]
    st = cfn.describe_stacks(StackName=sid)["Stacks"][0]
    assert st["StackStatus"] == "ROLLBACK_COMPLETE"
    events = list(reversed(cfn.describe_stack_events(StackName=sid)["StackEvents"]))
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Broken"]
    assert "ClusterNotFound" in failed[0]["ResourceStatusReason"] or "not found" in failed[0]["ResourceStatusReason"]
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
    rb = statuses.index(("ext-fail", "ROLLBACK_IN_PROGRESS"))
    assert statuses[rb:] == [("ext-fail", "ROLLBACK_IN_PROGRESS"),
                             ("Sg", "DELETE_IN_PROGRESS"), ("Sg", "DELETE_COMPLETE"),
                             ("SubnetB", "DELETE_IN_PROGRESS"), ("SubnetB", "DELETE_COMPLETE"),
                             ("SubnetA", "DELETE_IN_PROGRESS"), ("SubnetA", "DELETE_COMPLETE"),
                             ("Vpc", "DELETE_IN_PROGRESS"), ("Vpc", "DELETE_COMPLETE"),
                             ("ext-fail", "ROLLBACK_COMPLETE")]
    assert "Outputs" not in st
    assert leftovers(before, census(aws)) == {"cloudformation:stack": ["ext-fail"]}
    cfn.delete_stack(StackName=sid)
    assert leftovers(before, census(aws)) == {}


def test_unsupported_type_fails_loudly_and_disable_rollback_keeps_resources(aws):
    cfn = aws("cloudformation")
    t = {"Resources": {"Vpc": NET["Vpc"], "Odd": {"Type": "AWS::Foo::Bar", "DependsOn": "Vpc", "Properties": {}}}}
    sid = cfn.create_stack(StackName="ext-odd", TemplateBody=json.dumps(t), DisableRollback=True)["StackId"]
    st = cfn.describe_stacks(StackName=sid)["Stacks"][0]
    assert st["StackStatus"] == "CREATE_FAILED"
    failed = [e for e in cfn.describe_stack_events(StackName=sid)["StackEvents"] if e["ResourceStatus"] ==
              "CREATE_FAILED" and e["LogicalResourceId"] == "Odd"]
    assert "AWS::Foo::Bar" in failed[0]["ResourceStatusReason"]
    vpc_id = [r for r in cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]
              if r["LogicalResourceId"] == "Vpc"][0]["PhysicalResourceId"]
    assert aws("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"]  # kept: no rollback
    cfn.delete_stack(StackName=sid)
    assert not aws("ec2").describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]


def test_delete_failure_keeps_stack_as_delete_failed_then_retry(aws):
    cfn = aws("cloudformation")
    sid = cfn.create_stack(StackName="ext-bucket", TemplateBody=json.dumps(
        {"Resources": {"Vpc": NET["Vpc"], "Bucket": {"Type": "AWS::S3::Bucket"}}}))["StackId"]
    bucket = [r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]
              if r["LogicalResourceId"] == "Bucket"][0]
    aws("s3").put_object(Bucket=bucket, Key="k", Body=b"v")
    cfn.delete_stack(StackName="ext-bucket")
    st = cfn.describe_stacks(StackName="ext-bucket")["Stacks"][0]  # the record is kept
    assert st["StackStatus"] == "DELETE_FAILED"
    reasons = [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName=sid)["StackEvents"]
               if e["ResourceStatus"] == "DELETE_FAILED"]
    assert any("not empty" in r for r in reasons) and any("Bucket" in r for r in reasons)
    aws("s3").delete_object(Bucket=bucket, Key="k")
    cfn.delete_stack(StackName="ext-bucket")
    assert [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"] if s["StackId"] == sid] == ["DELETE_COMPLETE"]
    assert bucket not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]


def test_stack_tags_on_resources_and_tagging_api_with_untagged_cluster(aws, stack):
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="ff-untagged")  # made an every GetResources call a 500 in plain moto
    st = stack({"Resources": {k: ECS_APP[k] for k in ("Cluster", "Fs", "Secret", "Role")}},
               Tags=[{"Key": "fairflow:env", "Value": "ext"}])
    found = aws("resourcegroupstaggingapi").get_resources(TagFilters=[{"Key": "fairflow:env", "Values": ["ext"]}])
    arns = [m["ResourceARN"] for m in found["ResourceTagMappingList"]]
    assert any(":cluster/ff-ext-cluster" in a for a in arns)
    assert any(":secretsmanager:" in a for a in arns)
    assert any(":file-system/" in a for a in arns)
    tags = {t["Key"]: t["Value"] for t in aws("iam").list_role_tags(RoleName=st["Res"]["Role"])["Tags"]}
    assert tags["fairflow:env"] == "ext" and tags["aws:cloudformation:logical-id"] == "Role"
    ecs.delete_cluster(cluster="ff-untagged")


def test_update_keeps_property_less_resources(aws, stack):
    t = {"Resources": {"Vpc": NET["Vpc"], "Igw": {"Type": "AWS::EC2::InternetGateway"},
                       "Attach": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
                           "VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Igw"}}}}}
    st = stack(t)
    t["Resources"]["Vpc"]["Properties"]["Tags"] = [{"Key": "v", "Value": "2"}]
    cfn = aws("cloudformation")
    cfn.update_stack(StackName=st["StackId"], TemplateBody=json.dumps(t))
    assert cfn.describe_stacks(StackName=st["StackId"])["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    igws = aws("ec2").describe_internet_gateways(InternetGatewayIds=[st["Res"]["Igw"]])["InternetGateways"]
    assert igws[0]["Attachments"][0]["VpcId"] == st["Res"]["Vpc"]
    # the fixture then checks DeleteStack removes the IGW too (plain moto leaked it after an update)


def test_deny_insecure_transport_does_not_deny_the_local_endpoint(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="tls-policy")
    s3.put_bucket_policy(Bucket="tls-policy", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::tls-policy", "arn:aws:s3:::tls-policy/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::tls-policy/*"}]}))
    s3.put_object(Bucket="tls-policy", Key="a.txt", Body=b"x")
    assert s3.get_object(Bucket="tls-policy", Key="a.txt")["Body"].read() == b"x"
    try:
        s3.delete_object(Bucket="tls-policy", Key="a.txt")
        raise AssertionError("an unconditional Deny must still deny")
    except s3.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] in ("AccessDenied", "403")
