"""The bastion under `scripts/local-aws --run`: an EC2 instance whose role allows SSM is Online, Run Command
really runs its script (real output, exit code, timeout), with the EFS mounted the way `fairflow efs ls`
mounts it; sshd on the instance's address takes its key pair and the host key that the console output
publishes; stopping the instance loses the agent and stops sshd."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

ROLE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ssm:UpdateInstanceInformation", "ssmmessages:*", "ec2messages:*"], "Resource": "*"}]}
USER_DATA = "#!/bin/bash\nset -euxo pipefail\ndnf install -y amazon-efs-utils mariadb105\n"   # the template's
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def wait_for(fn, timeout=20, every=0.2, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[-1][0] != "Z"


@pytest.fixture(scope="module")
def lab(run_aws, tmp_path_factory):
    ec2, iam, ssm, efs = (run_aws.client(s) for s in ("ec2", "iam", "ssm", "efs"))
    iam.create_role(RoleName="bastion-ssm", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="bastion-ssm", PolicyName="ssm-core", PolicyDocument=json.dumps(ROLE_POLICY))
    iam.create_instance_profile(InstanceProfileName="bastion-ssm")
    iam.add_role_to_instance_profile(InstanceProfileName="bastion-ssm", RoleName="bastion-ssm")
    key = ec2.create_key_pair(KeyName="bastion", KeyType="ed25519")
    d = tmp_path_factory.mktemp("ssm")
    key_file = d / "bastion.pem"
    key_file.write_text(key["KeyMaterial"])
    key_file.chmod(0o600)
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    inst = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.nano", KeyName="bastion",
                             IamInstanceProfile={"Name": "bastion-ssm"}, UserData=USER_DATA,
                             NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": True}],
                             )["Instances"][0]
    fs = efs.create_file_system(CreationToken="bastion-efs")["FileSystemId"]
    efs.create_mount_target(FileSystemId=fs, SubnetId=subnet)
    ap = efs.create_access_point(FileSystemId=fs, PosixUser={"Uid": 50000, "Gid": 0}, RootDirectory={
        "Path": "/fairflow", "CreationInfo": {"OwnerUid": 50000, "OwnerGid": 0, "Permissions": "755"}})["AccessPointId"]
    return {"ec2": ec2, "ssm": ssm, "iam": iam, "instance": inst, "id": inst["InstanceId"], "key": str(key_file),
            "dir": d, "fs": fs, "ap": ap, "subnet": subnet, "root": run_aws["LOCAL_AWS_RUNTIME_DIR"]}


def ping(lab, iid):
    lst = lab["ssm"].describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [iid]}])["InstanceInformationList"]
    return lst[0]["PingStatus"] if lst else None


def run(lab, commands, timeout=30, instance=None, **params):
    iid = instance or lab["id"]
    cid = lab["ssm"].send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                                  Parameters={"commands": commands, **params}, TimeoutSeconds=30)["Command"]["CommandId"]
    seen = []

    def done():
        r = lab["ssm"].get_command_invocation(CommandId=cid, InstanceId=iid)
        seen.append(r["Status"])
        return r if r["Status"] not in ("Pending", "InProgress", "Delayed") else None
    return cid, wait_for(done, timeout=timeout, every=0.1, what=f"command {commands}"), seen


def test_instance_whose_role_allows_ssm_is_online_and_one_without_a_profile_is_not_managed(lab):
    assert wait_for(lambda: ping(lab, lab["id"]) == "Online", what="Online")
    info = lab["ssm"].describe_instance_information(
        Filters=[{"Key": "PingStatus", "Values": ["Online"]}])["InstanceInformationList"]
    me = [i for i in info if i["InstanceId"] == lab["id"]][0]
    assert me["PlatformType"] == "Linux" and me["ResourceType"] == "EC2Instance"
    assert me["IPAddress"] == lab["instance"]["PrivateIpAddress"]
    other = lab["ec2"].run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                     SubnetId=lab["subnet"])["Instances"][0]["InstanceId"]
    time.sleep(1.5)
    assert ping(lab, other) is None
    with pytest.raises(lab["ssm"].exceptions.InvalidInstanceId):
        lab["ssm"].send_command(InstanceIds=[other], DocumentName="AWS-RunShellScript",
                                Parameters={"commands": ["true"]})
    # Amazon Linux without the template's user data has no amazon-efs-utils: fairflow's efs ls exits 90
    bare = lab["ec2"].run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=lab["subnet"],
                                    IamInstanceProfile={"Name": "bastion-ssm"})["Instances"][0]["InstanceId"]
    assert wait_for(lambda: ping(lab, bare) == "Online", what="the second instance Online")
    _, r, _ = run(lab, ["command -v mount.efs >/dev/null || { echo 'amazon-efs-utils is not installed' >&2; exit 90; }"],
                  instance=bare)
    assert (r["Status"], r["ResponseCode"]) == ("Failed", 90)
    lab["ec2"].terminate_instances(InstanceIds=[other, bare])
    assert wait_for(lambda: ping(lab, bare) is None, what="the terminated instance to leave the list")


def test_failed_command_reports_its_exit_code_real_output_and_passes_through_in_progress(lab):
    wait_for(lambda: ping(lab, lab["id"]) == "Online", what="Online")
    cid, r, seen = run(lab, ["sleep 0.6", "echo hi; id -u; echo oops >&2", "ls /etc/hosts; exit 3"])
    assert "InProgress" in seen
    assert r["Status"] == "Failed" and r["StatusDetails"] == "Failed" and r["ResponseCode"] == 3
    assert r["StandardOutputContent"] == "hi\n0\n/etc/hosts\n"
    assert r["StandardErrorContent"] == "oops\nfailed to run commands: exit status 3"
    listed = lab["ssm"].list_command_invocations(CommandId=cid, Details=True)["CommandInvocations"]
    assert [(i["Status"], i["CommandPlugins"][0]["ResponseCode"]) for i in listed] == [("Failed", 3)]
    assert lab["ssm"].list_commands(CommandId=cid)["Commands"][0]["Status"] == "Failed"
    cid, ok, _ = run(lab, ["pwd; cd /; echo $AWS_SSM_INSTANCE_ID; hostname",
                           "aws sts get-caller-identity --query Arn --output text; command -v mysql"],
                     workingDirectory=["/tmp"])
    assert ok["Status"] == "Success" and ok["ResponseCode"] == 0, ok
    host = "ip-" + lab["instance"]["PrivateIpAddress"].replace(".", "-") + ".ec2.internal"
    role_arn = f":assumed-role/bastion-ssm/{lab['id']}"
    out = ok["StandardOutputContent"].splitlines()
    assert out[:3] == ["/tmp", lab["id"], host] and out[3].endswith(role_arn) and out[4] == "/usr/bin/mysql"
    _, big, _ = run(lab, ["head -c 30000 /dev/zero | tr '\\0' x"])
    assert len(big["StandardOutputContent"]) == 24000 and big["StandardOutputContent"].endswith("---Output truncated---")


def test_command_past_its_execution_timeout_is_timed_out_and_its_processes_killed(lab):
    pidfile = f"/tmp/fairflow-ssm-test-{os.getpid()}.pid"
    started = time.time()
    _, r, _ = run(lab, [f"sleep 60 & echo $! > {pidfile}", "sleep 60"], executionTimeout=["2"])
    assert r["Status"] == "TimedOut" and r["StatusDetails"] == "ExecutionTimedOut" and r["ResponseCode"] == 137
    assert time.time() - started < 8
    pid = int(open(pidfile).read())
    os.unlink(pidfile)
    assert wait_for(lambda: not pid_alive(pid), timeout=5, what="the background sleep to be killed")


def test_efs_is_mounted_as_fairflow_efs_ls_mounts_it(lab):
    """The mount lines of fairflow's EFSListing.script: mount.efs on PATH, mount -t efs through the access point."""
    top = os.path.join(lab["root"], "efs", lab["fs"], "fairflow")
    os.makedirs(os.path.join(top, "dags"), exist_ok=True)
    open(os.path.join(top, "dags", "hello_dag.py"), "w").write("# a dag\n")
    script = "\n".join([
        "set -eu",
        "command -v mount.efs >/dev/null || { echo 'amazon-efs-utils is not installed on the bastion' >&2; exit 90; }",
        "root=$(mktemp -d /tmp/fairflow-efs.XXXXXX)",
        "trap 'umount \"$root\" 2>/dev/null || umount -l \"$root\" 2>/dev/null; rmdir \"$root\" 2>/dev/null' EXIT",
        f"mount -t efs -o tls,iam,ro,accesspoint='{lab['ap']}' '{lab['fs']}:/' \"$root\"",
        "echo \"$root\"",
        "find \"$root\"/dags -mindepth 1 -printf '%P %U\\n'",
        "stat -c %u \"$root\"",
        "touch \"$root/dags/new\" 2>/dev/null && echo writable || echo read-only",
    ])
    _, r, _ = run(lab, [script])
    assert r["Status"] == "Success", r
    lines = r["StandardOutputContent"].splitlines()
    mount_point = lines[0]
    assert lines[1:] == ["hello_dag.py 0", "50000", "read-only"]
    assert not os.path.exists(mount_point), "the trap removed the mount point"
    with open("/proc/self/mountinfo") as f:
        assert "fairflow-efs." not in f.read(), "the mount stayed inside the instance's namespace"
    _, bad, _ = run(lab, [f"mkdir -p /tmp/x-$$ && mount -t efs -o tls,accesspoint=fsap-0000000000000000 {lab['fs']}:/ /tmp/x-$$;"
                          " rc=$?; rmdir /tmp/x-$$; exit $rc"])
    assert bad["Status"] == "Failed" and bad["ResponseCode"] == 32
    assert "access denied by server" in bad["StandardErrorContent"]


def known_hosts_from_console(lab, address):
    out = lab["ec2"].get_console_output(InstanceId=lab["id"])["Output"]
    block = re.search(r"-----BEGIN SSH HOST KEY KEYS-----\n(.*?)\n-----END SSH HOST KEY KEYS-----", out, re.S).group(1)
    assert re.search(r"-----BEGIN SSH HOST KEY FINGERPRINTS-----\n(.+\n)*256 SHA256:\S+ .*\(ED25519\)\n", out)
    kh = lab["dir"] / "known_hosts"
    kh.write_text("".join(f"{address} {' '.join(line.split()[:2])}\n" for line in block.splitlines()))
    return str(kh)


def ssh(lab, address, key, kh, command):
    return subprocess.run(["ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                           "-o", f"UserKnownHostsFile={kh}", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
                           f"ec2-user@{address}", command], capture_output=True, text=True, timeout=30)


def test_ssh_to_the_reported_address_with_the_key_pair_and_the_published_host_key(lab):
    d = lab["ec2"].describe_instances(InstanceIds=[lab["id"]])["Reservations"][0]["Instances"][0]
    address = d["PublicIpAddress"]
    assert address.startswith("127.") and address == "127." + ".".join(d["PrivateIpAddress"].split(".")[1:])
    assert d["PublicDnsName"] == f"ec2-{address.replace('.', '-')}.compute-1.amazonaws.com"
    kh = known_hosts_from_console(lab, address)
    efs_name = f"{lab['fs']}.efs.us-east-1.amazonaws.com"
    r = ssh(lab, address, lab["key"], kh, f"id -un; sudo -n id -u; getent hosts {efs_name} | cut -d' ' -f1; "
                                          "command -v mount.efs; sudo -n sh -c 'command -v mount.efs'")
    assert r.returncode == 0, r.stderr
    user, root_uid, efs_ip, shim, sudo_shim = r.stdout.split()
    assert (user, root_uid, shim, sudo_shim) == ("ec2-user", "0", "/usr/sbin/mount.efs", "/usr/sbin/mount.efs")
    assert efs_ip.startswith("127.61.1.")
    # TCP forwarding (db tunnel) resolves names in the VPC: the instance's own private DNS name -> its sshd
    private_name = "ip-" + d["PrivateIpAddress"].replace(".", "-") + ".ec2.internal"
    fwd = subprocess.run(["ssh", "-i", lab["key"], "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                          "-o", f"UserKnownHostsFile={kh}", "-W", f"{private_name}:22", f"ec2-user@{address}"],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
    assert fwd.stdout.startswith(b"SSH-2.0-OpenSSH"), fwd.stderr
    # a key the instance does not know is refused
    other = lab["dir"] / "eic"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    r = ssh(lab, address, str(other), kh, "true")
    assert r.returncode == 255 and "Permission denied" in r.stderr


def test_ec2_instance_connect_key_is_accepted(lab, run_aws):
    d = lab["ec2"].describe_instances(InstanceIds=[lab["id"]])["Reservations"][0]["Instances"][0]
    address = d["PublicIpAddress"]
    kh = known_hosts_from_console(lab, address)
    other = lab["dir"] / "eic2"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    assert ssh(lab, address, str(other), kh, "true").returncode == 255
    r = run_aws.client("ec2-instance-connect").send_ssh_public_key(
        InstanceId=lab["id"], InstanceOSUser="ec2-user", SSHPublicKey=(other.with_suffix(".pub")).read_text(),
        AvailabilityZone="us-east-1a")
    assert r["Success"] is True
    r = ssh(lab, address, str(other), kh, "echo in")
    assert r.returncode == 0 and r.stdout == "in\n", r.stderr


def test_stopped_instance_loses_its_agent_and_sshd(lab, run_aws):
    address = lab["ec2"].describe_instances(InstanceIds=[lab["id"]])["Reservations"][0]["Instances"][0]["PublicIpAddress"]
    pid = int(open(os.path.join(lab["root"], "ec2", lab["id"], "sshd.pid")).read())
    assert pid_alive(pid)
    lab["ec2"].stop_instances(InstanceIds=[lab["id"]])
    assert wait_for(lambda: ping(lab, lab["id"]) == "ConnectionLost", what="ConnectionLost")
    assert wait_for(lambda: not pid_alive(pid), timeout=10, what="sshd to stop")
    with pytest.raises(OSError):
        socket.create_connection((address, 22), timeout=1).close()
    cg = f"/sys/fs/cgroup/unified/fairflow-local-aws-{run_aws['LOCAL_AWS_PID']}/ec2-{lab['id']}"
    assert wait_for(lambda: not os.path.exists(cg), timeout=5, what="the instance's cgroup to go")
    # started again: Online, sshd back with the same host keys (they live on its root volume)
    keys = open(known_hosts_from_console(lab, address)).read()
    lab["ec2"].start_instances(InstanceIds=[lab["id"]])
    assert wait_for(lambda: ping(lab, lab["id"]) == "Online", what="Online after start")
    kh = known_hosts_from_console(lab, address)
    assert open(kh).read() == keys
    assert ssh(lab, address, lab["key"], kh, "true").returncode == 0


BASTION_TEMPLATE = {
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.62.0.0/16", "EnableDnsHostnames": True}},
        "PrivateSubnet1": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.62.128.0/18"}},
        "BastionRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": TRUST,
            "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}],
            # the template scopes this to {"Ref": "DbSecret"}; moto's IAM matches only "*" for Secrets Manager
            "Policies": [{"PolicyName": "bastion", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}}]}},
        "DbSecret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "{\"username\": \"airflow\"}"}},
        "BastionInstanceProfile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "BastionRole"}]}},
        "BastionInstance": {"Type": "AWS::EC2::Instance", "Properties": {
            "ImageId": "ami-12c6146b", "InstanceType": "t3.nano", "SubnetId": {"Ref": "PrivateSubnet1"},
            "IamInstanceProfile": {"Ref": "BastionInstanceProfile"},
            "UserData": {"Fn::Base64": USER_DATA}}},
    },
    "Outputs": {"BastionInstanceId": {"Value": {"Ref": "BastionInstance"}}, "DbSecretArn": {"Value": {"Ref": "DbSecret"}}},
}


def test_the_templates_bastion_is_online_with_no_public_address(lab, run_aws):
    """As fairflow's template makes it: private subnet, AmazonSSMManagedInstanceCore, user data with efs-utils."""
    cfn = run_aws.client("cloudformation")
    cfn.create_stack(StackName="ssm-bastion", TemplateBody=json.dumps(BASTION_TEMPLATE), Capabilities=["CAPABILITY_IAM"])
    wait_for(lambda: cfn.describe_stacks(StackName="ssm-bastion")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE",
             what="the stack")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="ssm-bastion")["Stacks"][0]["Outputs"]}
    iid = outputs["BastionInstanceId"]
    assert wait_for(lambda: ping(lab, iid) == "Online", what="the stack's bastion Online")
    d = lab["ec2"].describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert not d.get("PublicIpAddress") and not d.get("PublicDnsName")   # as on AWS: SSM only
    # what `db check --via ssm` does first: read the database secret with the instance role
    _, r, _ = run(lab, ["command -v mount.efs", f"aws secretsmanager get-secret-value --secret-id '{outputs['DbSecretArn']}' "
                        "--query SecretString --output text"], instance=iid)
    assert (r["Status"], r["StandardOutputContent"]) == ("Success", '/usr/sbin/mount.efs\n{"username": "airflow"}\n'), r
    cfn.delete_stack(StackName="ssm-bastion")
    assert wait_for(lambda: ping(lab, iid) is None, what="the deleted stack's bastion to leave the list")
