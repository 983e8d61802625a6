"""Data services run for real (`scripts/local-aws --run`): RDS instances are MariaDB servers reachable at
their endpoint, snapshots are real copies, ElastiCache replication groups are redis-servers (TLS, AUTH),
EFS access points create their root with owner and permissions. Everything is dialled at the loopback
address the endpoint name resolves to in the hosts file the local AWS writes (LOCAL_AWS_HOSTS_FILE)."""
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

from runtime.rds import listener_pids

PW = "Master-pw-0123456789"


def resolve(run_aws, name):
    for line in open(run_aws["LOCAL_AWS_HOSTS_FILE"]):
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#") and name.lower() in [p.lower() for p in parts[1:]]:
            return parts[0]
    raise AssertionError(f"{name} is not in the hosts file")


def twin(private_ip):
    b = ipaddress.IPv4Address(private_ip).packed
    return f"127.{b[1]}.{b[2]}.{b[3]}"


def wait_for(fn, timeout, what):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def sql(ip, port, user, password, query, db=None):
    argv = ["mariadb", "--no-defaults", "--protocol=tcp", f"-h{ip}", f"-P{port}", f"-u{user}", f"-p{password}",
            "--batch", "--skip-column-names", "--connect-timeout=5", "-e", query]
    if db:
        argv.append(db)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def vpc(run_aws):
    ec2 = run_aws.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    s1 = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.40.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    s2 = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.40.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    run_aws.client("rds").create_db_subnet_group(DBSubnetGroupName="data-sg", DBSubnetGroupDescription="t",
                                                 SubnetIds=[s1, s2])
    run_aws.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName="data-redis", CacheSubnetGroupDescription="t", SubnetIds=[s1, s2])
    return vpc_id, [s1, s2]


def db_status(rds, db_id):
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]["DBInstanceStatus"]
    except rds.exceptions.DBInstanceNotFoundFault:
        return "gone"


def wait_db(rds, db_id, timeout=90):
    st = wait_for(lambda: (lambda s: s if s in ("available", "failed") else None)(db_status(rds, db_id)),
                  timeout, f"{db_id} available")
    assert st == "available"
    return rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]


def test_rds_instance_is_a_mariadb_server_with_snapshots_restore_and_delete(run_aws, vpc):
    rds = run_aws.client("rds")
    made = rds.create_db_instance(DBInstanceIdentifier="data-db1", Engine="mysql", EngineVersion="8.4.7",
                                  DBInstanceClass="db.t4g.small", MasterUsername="airflow",
                                  MasterUserPassword=PW, DBName="airflow", DBSubnetGroupName="data-sg",
                                  AllocatedStorage=20)["DBInstance"]
    assert made["DBInstanceStatus"] == "creating"
    db = wait_db(rds, "data-db1")
    ep = db["Endpoint"]
    ip = resolve(run_aws, ep["Address"])
    assert ip.startswith("127.40.1."), ip      # the twin of an address in the group's first subnet
    r = sql(ip, ep["Port"], "airflow", PW, "SELECT DATABASE(), CURRENT_USER()", "airflow")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["airflow", "airflow@%"]
    bad = sql(ip, ep["Port"], "airflow", "wrong", "SELECT 1")
    assert bad.returncode != 0 and "Access denied" in bad.stderr

    r = sql(ip, ep["Port"], "airflow", PW, "CREATE TABLE t (n INT); INSERT INTO t VALUES (1),(2),(3)", "airflow")
    assert r.returncode == 0, r.stderr
    snap = rds.create_db_snapshot(DBInstanceIdentifier="data-db1", DBSnapshotIdentifier="data-snap1")["DBSnapshot"]
    assert snap["Status"] == "creating"
    wait_for(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="data-snap1")["DBSnapshots"][0]["Status"]
             == "available", 60, "snapshot available")
    assert sql(ip, ep["Port"], "airflow", PW, "DELETE FROM t", "airflow").returncode == 0

    # a new master password takes effect on the server
    rds.modify_db_instance(DBInstanceIdentifier="data-db1", MasterUserPassword="Second-pw-987", ApplyImmediately=True)
    wait_db(rds, "data-db1")
    assert sql(ip, ep["Port"], "airflow", "Second-pw-987", "SELECT 1").returncode == 0
    assert "Access denied" in sql(ip, ep["Port"], "airflow", PW, "SELECT 1").stderr

    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="data-db2", DBSnapshotIdentifier="data-snap1",
                                             DBSubnetGroupName="data-sg")
    db2 = wait_db(rds, "data-db2")
    ip2 = resolve(run_aws, db2["Endpoint"]["Address"])
    assert ip2 != ip
    r = sql(ip2, db2["Endpoint"]["Port"], "airflow", PW, "SELECT n FROM t ORDER BY n", "airflow")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "2", "3"]          # the snapshot's rows (and its password)
    assert sql(ip, ep["Port"], "airflow", "Second-pw-987", "SELECT COUNT(*) FROM t", "airflow").stdout.split() == ["0"]

    # stop and start act on the server
    pid = next(iter(listener_pids(ip, ep["Port"])))
    rds.stop_db_instance(DBInstanceIdentifier="data-db1")
    wait_for(lambda: db_status(rds, "data-db1") == "stopped", 60, "stopped")
    assert not os.path.exists(f"/proc/{pid}") and not listener_pids(ip, ep["Port"])
    rds.start_db_instance(DBInstanceIdentifier="data-db1")
    wait_db(rds, "data-db1")
    assert sql(ip, ep["Port"], "airflow", "Second-pw-987", "SELECT COUNT(*) FROM t", "airflow").stdout.split() == ["0"]

    # delete (with a final snapshot) stops the server: no process, nobody on the port
    pids = {ip: listener_pids(ip, ep["Port"]), ip2: listener_pids(ip2, ep["Port"])}
    assert all(pids.values())
    rds.delete_db_instance(DBInstanceIdentifier="data-db1", FinalDBSnapshotIdentifier="data-final")
    rds.delete_db_instance(DBInstanceIdentifier="data-db2", SkipFinalSnapshot=True)
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for s in pids.values() for p in s), 30, "servers gone")
    assert not listener_pids(ip, ep["Port"]) and not listener_pids(ip2, ep["Port"])
    for a in (ip, ip2):
        with pytest.raises(OSError):
            socket.create_connection((a, ep["Port"]), timeout=2).close()
    assert db_status(rds, "data-db1") == "gone"
    final = rds.describe_db_snapshots(DBSnapshotIdentifier="data-final")["DBSnapshots"][0]
    assert final["Status"] == "available"              # taken before the server stopped
    wait_for(lambda: not os.listdir(os.path.join(run_aws["LOCAL_AWS_RUNTIME_DIR"], "rds")), 10,
             "data directories removed")


def redis_call(ip, port, *cmds, tls_ca=None, timeout=3):
    """Sends RESP commands, returns the first line of each reply."""
    raw = socket.create_connection((ip, port), timeout=timeout)
    s = raw
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        ctx.check_hostname = False
        s = ctx.wrap_socket(raw)
    try:
        f = s.makefile("rb")
        out = []
        for cmd in cmds:
            parts = cmd.split()
            s.sendall(f"*{len(parts)}\r\n".encode() + b"".join(f"${len(p)}\r\n{p}\r\n".encode() for p in parts))
            line = f.readline().decode().strip()
            if line.startswith("$") and int(line[1:]) >= 0:
                line = f.read(int(line[1:]) + 2).decode()
            out.append(line)
        return out
    finally:
        raw.close()


def test_elasticache_replication_group_is_redis_with_tls_and_auth(run_aws, vpc):
    ec = run_aws.client("elasticache")
    token = "auth-token-0123456789abcdef"
    made = ec.create_replication_group(ReplicationGroupId="data-rg", ReplicationGroupDescription="broker",
                                       Engine="redis", CacheNodeType="cache.t4g.micro", NumNodeGroups=1,
                                       ReplicasPerNodeGroup=1, AutomaticFailoverEnabled=True,
                                       TransitEncryptionEnabled=True, AuthToken=token,
                                       CacheSubnetGroupName="data-redis", Port=6379)["ReplicationGroup"]
    assert made["Status"] == "creating"
    wait_for(lambda: ec.describe_replication_groups(ReplicationGroupId="data-rg")["ReplicationGroups"][0]["Status"]
             == "available", 60, "replication group available")
    ng = ec.describe_replication_groups(ReplicationGroupId="data-rg")["ReplicationGroups"][0]["NodeGroups"][0]
    primary = resolve(run_aws, ng["PrimaryEndpoint"]["Address"])
    reader = resolve(run_aws, ng["ReaderEndpoint"]["Address"])
    assert primary.startswith("127.40.1.") and reader.startswith("127.40.2.") and primary != reader
    ca = os.path.join(run_aws["LOCAL_AWS_RUNTIME_DIR"], "elasticache", "ca", "ca.pem")
    assert redis_call(primary, 6379, f"AUTH {token}", "PING", "SET k v", tls_ca=ca) == ["+OK", "+PONG", "+OK"]
    assert redis_call(primary, 6379, "PING", tls_ca=ca)[0].startswith("-NOAUTH")
    assert redis_call(primary, 6379, "AUTH wrong-token", tls_ca=ca)[0].startswith("-WRONGPASS")
    # the replica replicates the primary (over TLS)
    wait_for(lambda: redis_call(reader, 6379, f"AUTH {token}", "GET k", tls_ca=ca)[1] == "v\r\n", 20, "replicated")
    assert "role:slave" in redis_call(reader, 6379, f"AUTH {token}", "INFO replication", tls_ca=ca)[1]
    # TLS only: a plain-text client gets no answer
    with socket.create_connection((primary, 6379), timeout=2) as s:
        s.sendall(b"PING\r\n")
        s.settimeout(2)
        try:
            got = s.recv(64)
        except OSError:
            got = b""
        assert b"PONG" not in got
    pids = listener_pids(primary, 6379) | listener_pids(reader, 6379)
    assert len(pids) == 2
    ec.delete_replication_group(ReplicationGroupId="data-rg")
    wait_for(lambda: not ec.describe_replication_groups()["ReplicationGroups"], 30, "group gone")
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
    assert not listener_pids(primary, 6379) and not listener_pids(reader, 6379)
    with pytest.raises(AssertionError):
        resolve(run_aws, ng["PrimaryEndpoint"]["Address"])


def test_elasticache_cache_cluster_is_a_plain_redis_server(run_aws, vpc):
    ec = run_aws.client("elasticache")
    made = ec.create_cache_cluster(CacheClusterId="data-cc", Engine="redis", CacheNodeType="cache.t4g.micro",
                                   NumCacheNodes=1, CacheSubnetGroupName="data-redis")["CacheCluster"]
    assert made["CacheClusterStatus"] == "creating"
    wait_for(lambda: ec.describe_cache_clusters(CacheClusterId="data-cc")["CacheClusters"][0]["CacheClusterStatus"]
             == "available", 30, "cache cluster available")
    ip = resolve(run_aws, "data-cc.abc123.0001.use1.cache.amazonaws.com")
    assert ip.startswith("127.40.1.")
    assert redis_call(ip, 6379, "PING", "SET a 1", "GET a") == ["+PONG", "+OK", "1\r\n"]
    pids = listener_pids(ip, 6379)
    ec.delete_cache_cluster(CacheClusterId="data-cc")
    wait_for(lambda: not ec.describe_cache_clusters()["CacheClusters"], 30, "cache cluster gone")
    assert pids and not any(os.path.exists(f"/proc/{p}") for p in pids) and not listener_pids(ip, 6379)


def test_efs_file_system_mount_targets_and_access_point_root(run_aws, vpc):
    efs = run_aws.client("efs")
    _, subnets = vpc
    fs_id = efs.create_file_system(CreationToken="data-efs")["FileSystemId"]
    fs_dir = os.path.join(run_aws["LOCAL_AWS_RUNTIME_DIR"], "efs", fs_id)
    assert os.path.isdir(fs_dir)
    mt = efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnets[0])
    described = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"][0]
    assert described["IpAddress"] == mt["IpAddress"]
    assert ipaddress.IPv4Address(mt["IpAddress"]) in ipaddress.IPv4Network("10.40.1.0/24")
    assert resolve(run_aws, f"{fs_id}.efs.us-east-1.amazonaws.com") == twin(mt["IpAddress"])
    ap = efs.create_access_point(FileSystemId=fs_id, PosixUser={"Uid": 50000, "Gid": 0},
                                 RootDirectory={"Path": "/fairflow/dags",
                                                "CreationInfo": {"OwnerUid": 50000, "OwnerGid": 0,
                                                                 "Permissions": "750"}})
    root = os.path.join(fs_dir, "fairflow", "dags")
    st = os.stat(root)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (50000, 0, 0o750)
    efs.delete_access_point(AccessPointId=ap["AccessPointId"])
    efs.delete_mount_target(MountTargetId=mt["MountTargetId"])
    with pytest.raises(AssertionError):
        resolve(run_aws, f"{fs_id}.efs.us-east-1.amazonaws.com")
    efs.delete_file_system(FileSystemId=fs_id)
    assert not os.path.exists(fs_dir)


def _template():
    sub = {"Fn::Sub": "{{resolve:secretsmanager:${DbSecret}:SecretString:%s}}"}
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.41.0.0/16"}},
            "Subnet1": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.41.1.0/24",
                                                                   "AvailabilityZone": "us-east-1a"}},
            "Subnet2": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.41.2.0/24",
                                                                   "AvailabilityZone": "us-east-1b"}},
            "DbSecret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {
                "SecretStringTemplate": "{\"username\": \"airflow\"}", "GenerateStringKey": "password",
                "PasswordLength": 32, "ExcludePunctuation": True}}},
            "DbSubnetGroup": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
                "DBSubnetGroupDescription": "t", "SubnetIds": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}]}},
            "Database": {"Type": "AWS::RDS::DBInstance", "Properties": {
                "Engine": "mysql", "EngineVersion": "8.4.7", "DBInstanceClass": "db.t4g.small", "DBName": "airflow",
                "Port": "3306", "AllocatedStorage": "20",
                "MasterUsername": {"Fn::Sub": sub["Fn::Sub"] % "username"},
                "MasterUserPassword": {"Fn::Sub": sub["Fn::Sub"] % "password"},
                "DBSubnetGroupName": {"Ref": "DbSubnetGroup"}}},
            "DbSecretAttachment": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {
                "SecretId": {"Ref": "DbSecret"}, "TargetId": {"Ref": "Database"},
                "TargetType": "AWS::RDS::DBInstance"}},
            "RedisSubnetGroup": {"Type": "AWS::ElastiCache::SubnetGroup", "Properties": {
                "Description": "t", "SubnetIds": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}]}},
            "Redis": {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {
                "ReplicationGroupDescription": "broker", "Engine": "redis", "CacheNodeType": "cache.t4g.micro",
                "NumNodeGroups": 1, "ReplicasPerNodeGroup": 1, "AutomaticFailoverEnabled": True,
                "TransitEncryptionEnabled": True, "Port": 6379, "CacheSubnetGroupName": {"Ref": "RedisSubnetGroup"}}},
            "FileSystem": {"Type": "AWS::EFS::FileSystem", "Properties": {"Encrypted": True}},
            "MountTarget1": {"Type": "AWS::EFS::MountTarget", "Properties": {
                "FileSystemId": {"Ref": "FileSystem"}, "SubnetId": {"Ref": "Subnet1"}}},
            "DagsAccessPoint": {"Type": "AWS::EFS::AccessPoint", "Properties": {
                "FileSystemId": {"Ref": "FileSystem"}, "PosixUser": {"Uid": "50000", "Gid": "0"},
                "RootDirectory": {"Path": "/fairflow", "CreationInfo": {
                    "OwnerUid": "50000", "OwnerGid": "0", "Permissions": "755"}}}},
        },
        "Outputs": {
            "FileSystemId": {"Value": {"Ref": "FileSystem"}},
            "DbAddress": {"Value": {"Fn::GetAtt": ["Database", "Endpoint.Address"]}},
            "RedisAddress": {"Value": {"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Address"]}},
        },
    }


def test_cloudformation_database_gets_the_generated_secret_and_stack_delete_stops_servers(run_aws):
    cfn, rds, sm = run_aws.client("cloudformation"), run_aws.client("rds"), run_aws.client("secretsmanager")
    cfn.create_stack(StackName="data-stack", TemplateBody=json.dumps(_template()))
    wait_for(lambda: cfn.describe_stacks(StackName="data-stack")["Stacks"][0]["StackStatus"]
             not in ("CREATE_IN_PROGRESS",), 120, "stack created")
    stack = cfn.describe_stacks(StackName="data-stack")["Stacks"][0]
    failed = [(e["LogicalResourceId"], e.get("ResourceStatusReason")) for e in
              cfn.describe_stack_events(StackName="data-stack")["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", failed
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    db_id = cfn.describe_stack_resource(StackName="data-stack", LogicalResourceId="Database")[
        "StackResourceDetail"]["PhysicalResourceId"]
    db = wait_db(rds, db_id)
    assert db["Endpoint"]["Address"] == out["DbAddress"]
    secret_arn = cfn.describe_stack_resource(StackName="data-stack", LogicalResourceId="DbSecret")[
        "StackResourceDetail"]["PhysicalResourceId"]
    doc = json.loads(sm.get_secret_value(SecretId=secret_arn)["SecretString"])
    assert len(doc["password"]) == 32 and doc["host"] == out["DbAddress"]
    ip = resolve(run_aws, doc["host"])
    r = sql(ip, doc["port"], doc["username"], doc["password"], "SELECT CURRENT_USER()", "airflow")
    assert r.returncode == 0 and r.stdout.strip() == "airflow@%", r.stderr      # the generated password, for real
    ca = os.path.join(run_aws["LOCAL_AWS_RUNTIME_DIR"], "elasticache", "ca", "ca.pem")
    rip = resolve(run_aws, out["RedisAddress"])
    wait_for(lambda: run_aws.client("elasticache").describe_replication_groups()["ReplicationGroups"][0]["Status"]
             == "available", 30, "redis available")
    assert redis_call(rip, 6379, "PING", tls_ca=ca) == ["+PONG"]
    pids = listener_pids(ip, 3306) | listener_pids(rip, 6379)
    assert len(pids) == 2
    fs_dir = os.path.join(run_aws["LOCAL_AWS_RUNTIME_DIR"], "efs", out["FileSystemId"])
    st = os.stat(os.path.join(fs_dir, "fairflow"))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (50000, 0, 0o755)
    assert resolve(run_aws, f"{out['FileSystemId']}.efs.us-east-1.amazonaws.com").startswith("127.41.1.")

    cfn.delete_stack(StackName="data-stack")
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 30, "servers stopped")
    assert not listener_pids(ip, 3306) and not listener_pids(rip, 6379)
    wait_for(lambda: all(s["StackStatus"] == "DELETE_COMPLETE" for s in cfn.list_stacks()["StackSummaries"]
                         if s["StackName"] == "data-stack"), 60, "stack deleted")
    assert not os.path.exists(fs_dir)
    with pytest.raises(AssertionError):
        resolve(run_aws, f"{out['FileSystemId']}.efs.us-east-1.amazonaws.com")


def test_rds_server_that_cannot_start_is_failed_not_a_hang(run_aws, vpc):
    """Another process holds the address and port: the instance ends `failed` (as on RDS), with no server left."""
    ec2, rds = run_aws.client("ec2"), run_aws.client("rds")
    subnet = ec2.create_subnet(VpcId=vpc[0], CidrBlock="10.40.3.0/24")["Subnet"]["SubnetId"]
    rds.create_db_subnet_group(DBSubnetGroupName="data-busy", DBSubnetGroupDescription="t", SubnetIds=[subnet])
    squatter = socket.socket()
    squatter.bind(("127.40.3.4", 3306))          # the first address the subnet hands out (.1-.3 are AWS's)
    squatter.listen()
    try:
        rds.create_db_instance(DBInstanceIdentifier="data-busy", Engine="mysql", DBInstanceClass="db.t4g.small",
                               MasterUsername="u", MasterUserPassword=PW, DBSubnetGroupName="data-busy")
        st = wait_for(lambda: (lambda s: s if s in ("available", "failed") else None)(db_status(rds, "data-busy")),
                      60, "data-busy settled")
        assert st == "failed"
        assert listener_pids("127.40.3.4", 3306) == {os.getpid()}
    finally:
        squatter.close()
    rds.delete_db_instance(DBInstanceIdentifier="data-busy", SkipFinalSnapshot=True)
    assert db_status(rds, "data-busy") == "gone"


def test_rds_managed_master_password_is_generated_into_its_secret_and_works(run_aws, vpc):
    rds, sm = run_aws.client("rds"), run_aws.client("secretsmanager")
    rds.create_db_instance(DBInstanceIdentifier="data-managed", Engine="mysql", DBInstanceClass="db.t4g.small",
                           MasterUsername="owner", ManageMasterUserPassword=True, DBSubnetGroupName="data-sg")
    db = wait_db(rds, "data-managed")
    doc = json.loads(sm.get_secret_value(SecretId=db["MasterUserSecret"]["SecretArn"])["SecretString"])
    assert doc["username"] == "owner" and doc["password"] != "P@55w0rd!"
    ip = resolve(run_aws, db["Endpoint"]["Address"])
    r = sql(ip, db["Endpoint"]["Port"], "owner", doc["password"], "SELECT CURRENT_USER()")
    assert r.returncode == 0 and r.stdout.strip() == "owner@%", r.stderr
    # reboot restarts the server for real
    before = listener_pids(ip, 3306)
    assert rds.reboot_db_instance(DBInstanceIdentifier="data-managed")["DBInstance"]["DBInstanceStatus"] == "rebooting"
    wait_db(rds, "data-managed")
    after = listener_pids(ip, 3306)
    assert after and not (after & before)
    rds.delete_db_instance(DBInstanceIdentifier="data-managed", SkipFinalSnapshot=True)
    wait_for(lambda: not listener_pids(ip, 3306), 30, "server stopped")


def test_efs_host_path_creates_access_point_roots_and_fails_like_ecs(tmp_path, monkeypatch):
    """host_path (what the ECS task engine and the bastion mount), against moto in this process."""
    import boto3
    from moto import mock_aws
    from runtime import core, efs as rt_efs
    monkeypatch.setattr(core, "_root", str(tmp_path))
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
        client = boto3.client("efs", region_name="us-east-1")
        fs_id = client.create_file_system(CreationToken="t")["FileSystemId"]
        account = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
        with pytest.raises(ValueError, match=r"^ResourceInitializationError: .*Failed to resolve \"" + fs_id):
            rt_efs.host_path(account, "us-east-1", fs_id)       # no mount target yet: the name does not resolve
        client.create_mount_target(FileSystemId=fs_id, SubnetId=subnet)
        ap = client.create_access_point(FileSystemId=fs_id, RootDirectory={
            "Path": "/fairflow", "CreationInfo": {"OwnerUid": 50000, "OwnerGid": 0, "Permissions": "755"}})
        bare = client.create_access_point(FileSystemId=fs_id, RootDirectory={"Path": "/nowhere"})
        got = rt_efs.host_path(account, "us-east-1", fs_id, access_point_id=ap["AccessPointId"])
        assert got == str(tmp_path / "efs" / fs_id / "fairflow")
        st = os.stat(got)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (50000, 0, 0o755)
        assert rt_efs.host_path(account, "us-east-1", fs_id, root_directory="/") == str(tmp_path / "efs" / fs_id)
        with pytest.raises(ValueError, match="No such file or directory"):
            rt_efs.host_path(account, "us-east-1", fs_id, root_directory="/missing")
        with pytest.raises(ValueError, match="access denied by server"):
            rt_efs.host_path(account, "us-east-1", fs_id, access_point_id=bare["AccessPointId"])
        with pytest.raises(ValueError, match="access denied by server"):
            rt_efs.host_path(account, "us-east-1", fs_id, access_point_id="fsap-0000000000000000")
        # a path that climbs out stays inside the file system
        assert rt_efs.host_path(account, "us-east-1", fs_id, root_directory="/../..") == str(tmp_path / "efs" / fs_id)


def test_elasticache_ca_bundle_adds_the_runtime_ca_to_the_system_bundle(tmp_path, monkeypatch):
    """What a task mounts over /etc/ssl/certs/ca-certificates.crt to trust ElastiCache TLS (sandbox_mounts)."""
    from runtime import core, elasticache
    monkeypatch.setattr(core, "_root", str(tmp_path))
    mounts = elasticache.sandbox_mounts()
    bundle = mounts["/etc/ssl/certs/ca-certificates.crt"]
    text = open(bundle).read()
    assert open(elasticache.ca_path()).read() in text
    assert text.count("BEGIN CERTIFICATE") > 1            # the system's CAs stay trusted
    ctx = ssl.create_default_context(cafile=bundle)
    assert any(c["subject"] == ((("commonName", "fairflow local AWS ElastiCache CA"),),) for c in ctx.get_ca_certs())
