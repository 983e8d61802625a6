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
    _, subnets = vpc
    rds.create_db_subnet_group(DBSubnetGroupName="data-sg", DBSubnetGroupDescription="t", SubnetIds=subnets)
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
    assert final["Status"] in ("creating", "available")
    assert not os.listdir(os.path.join(run_aws["LOCAL_AWS_RUNTIME_DIR"], "rds"))   # data directories removed
