"""A census of everything a stack can leave behind, through each service's own list/describe calls."""


def _pages(client, op, key, **kw):
    out = []
    if client.can_paginate(op):
        for page in client.get_paginator(op).paginate(**kw):
            out.extend(page.get(key, []))
    else:
        out.extend(getattr(client, op)(**kw).get(key, []))
    return out


def census(aws, keep_buckets=()):
    """{kind: [ids]} of every non-default resource found. `aws(service)` makes a boto3 client."""
    ec2 = aws("ec2")
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]}
    found = {}

    def put(kind, ids):
        found[kind] = sorted(ids)

    put("ec2:vpc", [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["VpcId"] not in default_vpcs])
    put("ec2:subnet", [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] not in default_vpcs])
    put("ec2:internet-gateway", [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]
                                 if not any(a.get("VpcId") in default_vpcs for a in g.get("Attachments", []))])
    put("ec2:nat-gateway", [n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"]
                            if n["State"] not in ("deleted", "deleting")])
    put("ec2:eip", [a.get("AllocationId") or a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]])
    put("ec2:route-table", [r["RouteTableId"] for r in ec2.describe_route_tables()["RouteTables"]
                            if r["VpcId"] not in default_vpcs])
    put("ec2:security-group", [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]
                               if g["VpcId"] not in default_vpcs])
    put("ec2:instance", [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                         if i["State"]["Name"] not in ("terminated", "shutting-down")])
    put("ec2:network-interface", [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces()["NetworkInterfaces"]
                                  if n.get("VpcId") not in default_vpcs])
    efs = aws("efs")
    put("efs:file-system", [f["FileSystemId"] for f in efs.describe_file_systems()["FileSystems"]])
    put("efs:access-point", [a["AccessPointId"] for a in efs.describe_access_points()["AccessPoints"]])
    rds = aws("rds")
    put("rds:db-instance", [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]])
    put("rds:db-subnet-group", [g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
                                if g["DBSubnetGroupName"] != "default"])
    ec = aws("elasticache")
    put("elasticache:replication-group", [g["ReplicationGroupId"] for g in
                                          ec.describe_replication_groups()["ReplicationGroups"]])
    put("elasticache:cache-cluster", [c["CacheClusterId"] for c in ec.describe_cache_clusters()["CacheClusters"]])
    put("elasticache:subnet-group", [g["CacheSubnetGroupName"] for g in
                                     ec.describe_cache_subnet_groups()["CacheSubnetGroups"]
                                     if g["CacheSubnetGroupName"] != "default"])
    elb = aws("elbv2")
    put("elbv2:load-balancer", [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]])
    put("elbv2:target-group", [t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]])
    ecs = aws("ecs")
    clusters = ecs.list_clusters()["clusterArns"]
    active = [c["clusterArn"] for c in (ecs.describe_clusters(clusters=clusters)["clusters"] if clusters else [])
              if c["status"] == "ACTIVE"]
    put("ecs:cluster", active)
    put("ecs:service", [s for c in clusters for s in ecs.list_services(cluster=c)["serviceArns"]])
    put("ecs:task-definition", ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"])
    iam = aws("iam")
    put("iam:role", [r["RoleName"] for r in iam.list_roles()["Roles"] if not r["Path"].startswith("/aws-service-role/")])
    put("iam:instance-profile", [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]])
    put("iam:policy(local)", [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]])
    put("lambda:function", [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]])
    put("logs:log-group", [g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"]])
    put("s3:bucket", [b["Name"] for b in aws("s3").list_buckets()["Buckets"] if b["Name"] not in keep_buckets])
    put("secretsmanager:secret", [s["Name"] for s in aws("secretsmanager").list_secrets(IncludePlannedDeletion=True)
                                  ["SecretList"]])
    sd = aws("servicediscovery")
    put("servicediscovery:namespace", [n["Id"] for n in sd.list_namespaces()["Namespaces"]])
    put("servicediscovery:service", [s["Id"] for s in sd.list_services()["Services"]])
    put("route53:hosted-zone", [z["Id"] for z in aws("route53").list_hosted_zones()["HostedZones"]])
    aas = aws("application-autoscaling")
    put("application-autoscaling:scalable-target", [t["ResourceId"] for t in
                                                    aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]])
    put("application-autoscaling:policy", [p["PolicyName"] for p in
                                           aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]])
    kms = aws("kms")
    keys = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    metas = [kms.describe_key(KeyId=k)["KeyMetadata"] for k in keys]
    # AWS-managed keys (alias/aws/*, e.g. the EBS default key moto makes on RunInstances) are not the stack's
    aws_managed = {a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith("alias/aws/")}
    metas = [m for m in metas if m["KeyId"] not in aws_managed]
    put("kms:key", [m["KeyId"] for m in metas if m["KeyState"] not in ("PendingDeletion", "Disabled")
                    and m.get("KeyManager") == "CUSTOMER"])
    put("ssm:parameter", [p["Name"] for p in _pages(aws("ssm"), "describe_parameters", "Parameters")
                          if not p["Name"].startswith("/aws/service/")])  # moto loads public ones lazily
    put("cloudwatch:alarm", [a["AlarmName"] for a in aws("cloudwatch").describe_alarms()["MetricAlarms"]])
    put("cloudformation:stack", [s["StackName"] for s in aws("cloudformation").list_stacks()["StackSummaries"]
                                 if s["StackStatus"] != "DELETE_COMPLETE"])
    return found


def leftovers(before, after):
    """What `after` has that `before` had not, per kind (only non-empty kinds)."""
    out = {}
    for kind, ids in after.items():
        extra = sorted(set(ids) - set(before.get(kind, [])))
        if extra:
            out[kind] = extra
    return out
