"""Check each stack resource through its own service's API, with the template's key properties.

VERIFY[type](ctx, pid, props) raises AssertionError (or a ClientError) when the resource is not
there as the template says. `props` are the template's properties with Ref to other resources and
parameters resolved (ctx.resolve); other intrinsics resolve to None and are then not compared.
"""
import json


class Ctx:
    def __init__(self, aws, stack_name, physical, params):
        self.aws = aws
        self.stack_name = stack_name
        self.physical = physical  # logical id -> physical id
        self.params = params

    def resolve(self, v):
        if isinstance(v, dict):
            if set(v) == {"Ref"}:
                return self.physical.get(v["Ref"], self.params.get(v["Ref"]))
            if len(v) == 1 and next(iter(v)).startswith("Fn::"):
                return None
            return {k: self.resolve(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.resolve(x) for x in v]
        return v


def _eq(expected, actual, what):
    if expected is None:
        return
    assert str(expected) == str(actual), f"{what}: template says {expected!r}, the service says {actual!r}"


def _has_stack_tag(tags, ctx, what):
    kv = {(t.get("Key") or t.get("key")): (t.get("Value") or t.get("value")) for t in tags or []}
    assert kv.get("aws:cloudformation:stack-name") == ctx.stack_name, f"{what}: no stack tags, got {kv}"


def vpc(ctx, pid, p):
    ec2 = ctx.aws("ec2")
    v = ec2.describe_vpcs(VpcIds=[pid])["Vpcs"][0]
    _eq(p.get("CidrBlock"), v["CidrBlock"], "VPC CidrBlock")
    if "EnableDnsHostnames" in p:
        got = ec2.describe_vpc_attribute(VpcId=pid, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
        assert got == (str(p["EnableDnsHostnames"]).lower() == "true"), "VPC EnableDnsHostnames not honoured"
    _has_stack_tag(v.get("Tags"), ctx, "VPC")


def subnet(ctx, pid, p):
    s = ctx.aws("ec2").describe_subnets(SubnetIds=[pid])["Subnets"][0]
    _eq(p.get("CidrBlock"), s["CidrBlock"], "Subnet CidrBlock")
    _eq(p.get("VpcId"), s["VpcId"], "Subnet VpcId")


def route_table(ctx, pid, p):
    rt = ctx.aws("ec2").describe_route_tables(RouteTableIds=[pid])["RouteTables"][0]
    _eq(p.get("VpcId"), rt["VpcId"], "RouteTable VpcId")


def subnet_assoc(ctx, pid, p):
    rts = ctx.aws("ec2").describe_route_tables(
        Filters=[{"Name": "association.route-table-association-id", "Values": [pid]}])["RouteTables"]
    assert rts, f"association {pid} not visible in DescribeRouteTables"
    assoc = [a for a in rts[0]["Associations"] if a["RouteTableAssociationId"] == pid][0]
    _eq(p.get("SubnetId"), assoc.get("SubnetId"), "association SubnetId")


def route(ctx, pid, p):
    rtb, _, dest = pid.partition("~")
    rt = ctx.aws("ec2").describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]
    routes = [r for r in rt["Routes"] if r.get("DestinationCidrBlock") == dest]
    assert routes, f"route {dest} missing in {rtb}"
    target = p.get("NatGatewayId") or p.get("GatewayId")
    _eq(target, routes[0].get("NatGatewayId") or routes[0].get("GatewayId"), "route target")


def eip(ctx, pid, p):
    assert ctx.aws("ec2").describe_addresses(PublicIps=[pid])["Addresses"], f"EIP {pid} missing"


def nat(ctx, pid, p):
    n = ctx.aws("ec2").describe_nat_gateways(NatGatewayIds=[pid])["NatGateways"][0]
    assert n["State"] == "available"
    _eq(p.get("SubnetId"), n["SubnetId"], "NAT SubnetId")


def igw(ctx, pid, p):
    assert ctx.aws("ec2").describe_internet_gateways(InternetGatewayIds=[pid])["InternetGateways"]


def gw_attach(ctx, pid, p):
    igws = ctx.aws("ec2").describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [p.get("VpcId") or pid]}])["InternetGateways"]
    assert igws, "no internet gateway attached to the VPC"
    _eq(p.get("InternetGatewayId"), igws[0]["InternetGatewayId"], "attached IGW")


def sg(ctx, pid, p):
    g = ctx.aws("ec2").describe_security_groups(GroupIds=[pid])["SecurityGroups"][0]
    _eq(p.get("VpcId"), g["VpcId"], "SG VpcId")


def sg_rule(egress):
    def check(ctx, pid, p):
        rules = ctx.aws("ec2").describe_security_group_rules(SecurityGroupRuleIds=[pid])["SecurityGroupRules"]
        assert rules, f"security group rule {pid} missing"
        r = rules[0]
        assert r["IsEgress"] == egress
        _eq(p.get("FromPort"), r["FromPort"], "rule FromPort")
        _eq(p.get("ToPort"), r["ToPort"], "rule ToPort")
    return check


def instance(ctx, pid, p):
    i = ctx.aws("ec2").describe_instances(InstanceIds=[pid])["Reservations"][0]["Instances"][0]
    assert i["State"]["Name"] == "running"
    _eq(p.get("InstanceType"), i["InstanceType"], "InstanceType")


def role(ctx, pid, p):
    r = ctx.aws("iam").get_role(RoleName=pid)["Role"]
    assert r["AssumeRolePolicyDocument"]


def policy(ctx, pid, p):
    iam = ctx.aws("iam")
    name = p.get("PolicyName") or pid
    for role_name in p.get("Roles") or []:
        if role_name:
            doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            assert doc["Statement"], f"inline policy {name} on role {role_name} is empty"


def instance_profile(ctx, pid, p):
    ip = ctx.aws("iam").get_instance_profile(InstanceProfileName=pid)["InstanceProfile"]
    assert [r["RoleName"] for r in ip["Roles"]] == [r for r in p.get("Roles", []) if r] or not p.get("Roles")


def bucket(ctx, pid, p):
    s3 = ctx.aws("s3")
    s3.head_bucket(Bucket=pid)
    _has_stack_tag(s3.get_bucket_tagging(Bucket=pid)["TagSet"], ctx, "bucket")


def bucket_policy(ctx, pid, p):
    doc = json.loads(ctx.aws("s3").get_bucket_policy(Bucket=pid)["Policy"])
    assert doc["Statement"], "bucket policy has no statements"


def efs_fs(ctx, pid, p):
    fs = ctx.aws("efs").describe_file_systems(FileSystemId=pid)["FileSystems"][0]
    if "Encrypted" in p:
        assert fs["Encrypted"] == (str(p["Encrypted"]).lower() == "true")
    _has_stack_tag(fs.get("Tags"), ctx, "EFS")


def efs_mt(ctx, pid, p):
    mt = ctx.aws("efs").describe_mount_targets(MountTargetId=pid)["MountTargets"][0]
    _eq(p.get("FileSystemId"), mt["FileSystemId"], "mount target FileSystemId")
    _eq(p.get("SubnetId"), mt["SubnetId"], "mount target SubnetId")


def efs_ap(ctx, pid, p):
    ap = ctx.aws("efs").describe_access_points(AccessPointId=pid)["AccessPoints"][0]
    _eq(p.get("FileSystemId"), ap["FileSystemId"], "access point FileSystemId")
    _eq((p.get("RootDirectory") or {}).get("Path"), ap["RootDirectory"]["Path"], "access point path")


def secret(ctx, pid, p):
    sm = ctx.aws("secretsmanager")
    d = sm.describe_secret(SecretId=pid)
    _eq(p.get("Description"), d.get("Description"), "secret Description")
    gen = p.get("GenerateSecretString")
    if gen and gen.get("GenerateStringKey"):
        doc = json.loads(sm.get_secret_value(SecretId=pid)["SecretString"])
        value = doc[gen["GenerateStringKey"]]
        assert len(value) == int(gen.get("PasswordLength", 32)), "generated password length"
        for k, v in json.loads(gen.get("SecretStringTemplate", "{}")).items():
            assert doc[k] == v
    _has_stack_tag(d.get("Tags"), ctx, "secret")


def secret_attachment(ctx, pid, p):
    doc = json.loads(ctx.aws("secretsmanager").get_secret_value(SecretId=pid)["SecretString"])
    if p.get("TargetType") == "AWS::RDS::DBInstance":
        db = ctx.aws("rds").describe_db_instances(DBInstanceIdentifier=p["TargetId"])["DBInstances"][0]
        assert doc.get("host") == db["Endpoint"]["Address"], "attachment did not add the DB host to the secret"


def db_subnet_group(ctx, pid, p):
    g = ctx.aws("rds").describe_db_subnet_groups(DBSubnetGroupName=pid)["DBSubnetGroups"][0]
    want = [s for s in p.get("SubnetIds", []) if s]
    assert sorted(s["SubnetIdentifier"] for s in g["Subnets"]) == sorted(want) or not want


def db_instance(ctx, pid, p):
    db = ctx.aws("rds").describe_db_instances(DBInstanceIdentifier=pid)["DBInstances"][0]
    _eq(p.get("Engine"), db["Engine"], "DB Engine")
    _eq(p.get("DBInstanceClass"), db["DBInstanceClass"], "DB class")
    assert "{{resolve" not in db["MasterUsername"], "dynamic reference left unresolved in MasterUsername"
    _has_stack_tag(db.get("TagList"), ctx, "DB instance")


def ecs_cluster(ctx, pid, p):
    c = ctx.aws("ecs").describe_clusters(clusters=[pid], include=["TAGS"])["clusters"][0]
    assert c["status"] == "ACTIVE"
    _has_stack_tag(c.get("tags"), ctx, "ECS cluster")


def task_def(ctx, pid, p):
    td = ctx.aws("ecs").describe_task_definition(taskDefinition=pid, include=["TAGS"])
    t = td["taskDefinition"]
    _eq(p.get("NetworkMode"), t.get("networkMode"), "task networkMode")
    _eq(p.get("Cpu"), t.get("cpu"), "task cpu")
    _eq(p.get("Memory"), t.get("memory"), "task memory")
    if p.get("RequiresCompatibilities"):
        assert t.get("requiresCompatibilities") == p["RequiresCompatibilities"]
    if p.get("ExecutionRoleArn") is not None or "ExecutionRoleArn" in p:
        assert t.get("executionRoleArn"), "executionRoleArn lost"
    for v in p.get("Volumes") or []:
        if v.get("EFSVolumeConfiguration"):
            got = [x for x in t.get("volumes", []) if x["name"] == v["Name"]][0]
            assert got.get("efsVolumeConfiguration", {}).get("fileSystemId"), "EFS volume configuration lost"
    want_secrets = sum(len(c.get("Secrets") or []) for c in p.get("ContainerDefinitions", []))
    got_secrets = [s for c in t["containerDefinitions"] for s in c.get("secrets", [])]
    assert len(got_secrets) == want_secrets and all(s.get("valueFrom") for s in got_secrets), "secrets lost"
    _has_stack_tag(td.get("tags"), ctx, "task definition")


def ecs_service(ctx, pid, p):
    cluster = pid.split(":service/")[1].split("/")[0]
    s = ctx.aws("ecs").describe_services(cluster=cluster, services=[pid], include=["TAGS"])["services"][0]
    assert s["status"] == "ACTIVE"
    _eq(p.get("LaunchType"), s.get("launchType"), "service launchType")
    _eq(p.get("DesiredCount"), s.get("desiredCount"), "service desiredCount")
    assert len(s.get("loadBalancers") or []) == len(p.get("LoadBalancers") or []), "service loadBalancers lost"
    assert len(s.get("serviceRegistries") or []) == len(p.get("ServiceRegistries") or []), "serviceRegistries lost"
    if p.get("NetworkConfiguration"):
        assert s.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("subnets"), "network config lost"
    _has_stack_tag(s.get("tags"), ctx, "ECS service")


def log_group(ctx, pid, p):
    groups = ctx.aws("logs").describe_log_groups(logGroupNamePrefix=pid)["logGroups"]
    g = [x for x in groups if x["logGroupName"] == pid]
    assert g, f"log group {pid} missing"
    _eq(p.get("RetentionInDays"), g[0].get("retentionInDays"), "retention")


def sd_namespace(ctx, pid, p):
    ns = ctx.aws("servicediscovery").get_namespace(Id=pid)["Namespace"]
    _eq(p.get("Name"), ns["Name"], "namespace name")
    assert ns["Type"] == "DNS_PRIVATE"


def sd_service(ctx, pid, p):
    s = ctx.aws("servicediscovery").get_service(Id=pid)["Service"]
    _eq(p.get("Name"), s["Name"], "discovery service name")


def load_balancer(ctx, pid, p):
    elb = ctx.aws("elbv2")
    lb = elb.describe_load_balancers(LoadBalancerArns=[pid])["LoadBalancers"][0]
    _eq(p.get("Scheme"), lb["Scheme"], "LB scheme")
    _has_stack_tag(elb.describe_tags(ResourceArns=[pid])["TagDescriptions"][0]["Tags"], ctx, "load balancer")


def listener(ctx, pid, p):
    ls = ctx.aws("elbv2").describe_listeners(ListenerArns=[pid])["Listeners"][0]
    _eq(p.get("Port"), ls["Port"], "listener port")


def target_group(ctx, pid, p):
    tg = ctx.aws("elbv2").describe_target_groups(TargetGroupArns=[pid])["TargetGroups"][0]
    _eq(p.get("Port"), tg["Port"], "target group port")
    _eq(p.get("TargetType"), tg.get("TargetType"), "target type")


def function(ctx, pid, p):
    f = ctx.aws("lambda").get_function(FunctionName=pid)["Configuration"]
    _eq(p.get("Runtime"), f["Runtime"], "runtime")


def cache_subnet_group(ctx, pid, p):
    g = ctx.aws("elasticache").describe_cache_subnet_groups(CacheSubnetGroupName=pid)["CacheSubnetGroups"][0]
    assert len(g["Subnets"]) == len(p.get("SubnetIds", []))


def replication_group(ctx, pid, p):
    g = ctx.aws("elasticache").describe_replication_groups(ReplicationGroupId=pid)["ReplicationGroups"][0]
    assert g["Status"] == "available"
    assert g["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    if "MultiAZEnabled" in p:
        assert g["MultiAZ"] == ("enabled" if str(p["MultiAZEnabled"]).lower() == "true" else "disabled")


def cache_cluster(ctx, pid, p):
    c = ctx.aws("elasticache").describe_cache_clusters(CacheClusterId=pid)["CacheClusters"][0]
    _eq(p.get("CacheNodeType"), c["CacheNodeType"], "node type")


def scalable_target(ctx, pid, p):
    rid, dim, ns = pid.split("|")
    ts = ctx.aws("application-autoscaling").describe_scalable_targets(ServiceNamespace=ns, ResourceIds=[rid])
    t = [x for x in ts["ScalableTargets"] if x["ScalableDimension"] == dim][0]
    _eq(p.get("MinCapacity"), t["MinCapacity"], "MinCapacity")
    _eq(p.get("MaxCapacity"), t["MaxCapacity"], "MaxCapacity")


def scaling_policy(ctx, pid, p):
    pols = ctx.aws("application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    got = [x for x in pols if x["PolicyARN"] == pid]
    assert got, f"scaling policy {pid} missing"
    cfg = p.get("TargetTrackingScalingPolicyConfiguration")
    if cfg:
        _eq(cfg.get("TargetValue"), int(got[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]),
            "TargetValue")


def kms_key(ctx, pid, p):
    kms = ctx.aws("kms")
    meta = kms.describe_key(KeyId=pid)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["KeyManager"] == "CUSTOMER"
    _eq(p.get("Description"), meta.get("Description"), "key description")
    if "EnableKeyRotation" in p:
        assert kms.get_key_rotation_status(KeyId=pid)["KeyRotationEnabled"] == \
            (str(p["EnableKeyRotation"]).lower() == "true"), "key rotation"
    tags = [{"Key": t["TagKey"], "Value": t["TagValue"]} for t in kms.list_resource_tags(KeyId=pid)["Tags"]]
    _has_stack_tag(tags, ctx, "KMS key")


def no_service_api(ctx, pid, p):
    pass  # e.g. CDK's Custom::S3AutoDeleteObjects: nothing to see until the stack is deleted


VERIFY = {
    "AWS::EC2::VPC": vpc, "AWS::EC2::Subnet": subnet, "AWS::EC2::RouteTable": route_table,
    "AWS::EC2::SubnetRouteTableAssociation": subnet_assoc, "AWS::EC2::Route": route, "AWS::EC2::EIP": eip,
    "AWS::EC2::NatGateway": nat, "AWS::EC2::InternetGateway": igw, "AWS::EC2::VPCGatewayAttachment": gw_attach,
    "AWS::EC2::SecurityGroup": sg, "AWS::EC2::SecurityGroupIngress": sg_rule(False),
    "AWS::EC2::SecurityGroupEgress": sg_rule(True), "AWS::EC2::Instance": instance,
    "AWS::IAM::Role": role, "AWS::IAM::Policy": policy, "AWS::IAM::InstanceProfile": instance_profile,
    "AWS::S3::Bucket": bucket, "AWS::S3::BucketPolicy": bucket_policy,
    "AWS::EFS::FileSystem": efs_fs, "AWS::EFS::MountTarget": efs_mt, "AWS::EFS::AccessPoint": efs_ap,
    "AWS::SecretsManager::Secret": secret, "AWS::SecretsManager::SecretTargetAttachment": secret_attachment,
    "AWS::RDS::DBSubnetGroup": db_subnet_group, "AWS::RDS::DBInstance": db_instance,
    "AWS::ECS::Cluster": ecs_cluster, "AWS::ECS::TaskDefinition": task_def, "AWS::ECS::Service": ecs_service,
    "AWS::Logs::LogGroup": log_group,
    "AWS::ServiceDiscovery::PrivateDnsNamespace": sd_namespace, "AWS::ServiceDiscovery::Service": sd_service,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": load_balancer, "AWS::ElasticLoadBalancingV2::Listener": listener,
    "AWS::ElasticLoadBalancingV2::TargetGroup": target_group, "AWS::Lambda::Function": function,
    "AWS::ElastiCache::SubnetGroup": cache_subnet_group, "AWS::ElastiCache::ReplicationGroup": replication_group,
    "AWS::ElastiCache::CacheCluster": cache_cluster,
    "AWS::ApplicationAutoScaling::ScalableTarget": scalable_target,
    "AWS::ApplicationAutoScaling::ScalingPolicy": scaling_policy,
    "Custom::S3AutoDeleteObjects": no_service_api, "AWS::KMS::Key": kms_key,
}
