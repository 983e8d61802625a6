"""The runtime's ground: started with --run, it reports its directory and hosts file and leaves nothing behind."""
import os


def test_run_mode_reports_runtime_directory_and_hosts_file(run_aws):
    root = run_aws["LOCAL_AWS_RUNTIME_DIR"]
    hosts = run_aws["LOCAL_AWS_HOSTS_FILE"]
    assert os.path.isdir(root)
    assert hosts.startswith(root) and "localhost" in open(hosts).read()
    assert os.path.isdir(f"/sys/fs/cgroup/unified/fairflow-local-aws-{run_aws['LOCAL_AWS_PID']}")
    # moto still answers
    assert run_aws.client("sts").get_caller_identity()["Account"]
