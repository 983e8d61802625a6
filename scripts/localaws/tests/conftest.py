"""Fixtures: real peers on 127.0.0.1 started through the project's own scripts (KEY=VALUE ... READY)."""
import os
import pathlib
import queue
import threading
import subprocess
import sys
import time

import boto3
import botocore.config
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts" / "localaws"))
REGION = "us-east-1"


PEERS = []


class Peer:
    """A process that prints KEY=VALUE lines then READY; stops on SIGTERM."""

    def __init__(self, argv, env=None, timeout=60):
        PEERS.append(self)
        self.stopped = False
        self.argv, self.env, self.timeout = argv, env, timeout
        self._start()

    def restart(self):
        """Start the same peer again (new port, new keys): after something outside killed it."""
        self.stopped = False
        self._start()

    def _start(self):
        argv, env, timeout = self.argv, self.env, self.timeout
        self.log_path = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"localaws-peer-{os.getpid()}-{time.time_ns()}.log"
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, **(env or {})}, cwd=str(ROOT))
        self.values = {}
        lines = queue.Queue()

        def pump():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)
        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"{argv[0]} did not print READY within {timeout} s; log: {self.server_log()}")
            if line is None:
                self.proc.wait(5)
                raise RuntimeError(f"{argv[0]} exited ({self.proc.returncode}) before READY: {self.server_log()}")
            line = line.strip()
            if line == "READY":
                break
            if "=" in line:
                k, v = line.split("=", 1)
                self.values[k] = v

    def server_log(self):
        self.log.flush()
        return self.log_path.read_text()

    def stop(self):
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __getitem__(self, k):
        return self.values[k]


def client_factory(endpoint, key, secret, retries=None):
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)
    cfg = botocore.config.Config(retries=retries or {"total_max_attempts": 1, "mode": "standard"},
                                 connect_timeout=5, read_timeout=60)

    def make(service, **kw):
        return session.client(service, endpoint_url=endpoint, config=kw.pop("config", cfg), **kw)
    return make


def local_aws_argv():
    """scripts/local-aws, plus LOCAL_AWS_EXTRA_ARGS (e.g. "--plain" to see these tests fail on bare moto)."""
    return [str(ROOT / "scripts" / "local-aws"), *os.environ.get("LOCAL_AWS_EXTRA_ARGS", "").split()]


@pytest.fixture(scope="session")
def local_aws():
    peer = Peer(local_aws_argv())
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def aws(local_aws):
    """boto3 client maker against the local AWS, signed with the test user's key (no retries)."""
    return peer_clients(local_aws)


def peer_clients(peer):
    """Like client_factory, but reads the peer's endpoint and key at each call (they change on restart).
    Clients are cached: making a boto3 client costs more CPU than most calls the tests make."""
    cache = {}

    def make(service, **kw):
        key = (peer["LOCAL_AWS_ENDPOINT"], peer["AWS_ACCESS_KEY_ID"], service)
        if kw:
            return client_factory(*key[:2], peer["AWS_SECRET_ACCESS_KEY"])(service, **kw)
        if key not in cache:
            cache[key] = client_factory(*key[:2], peer["AWS_SECRET_ACCESS_KEY"])(service)
        return cache[key]
    return make


@pytest.fixture(autouse=True)
def peers_stay_up():
    """A peer that dies under a test is reported as such (with its exit status and, for local-aws, the
    signal and the kill-like processes it saw), then restarted so one outside kill fails one test."""
    yield
    for peer in PEERS:
        if not peer.stopped and peer.proc.poll() is not None:
            status, pid, tail = peer.proc.returncode, peer.proc.pid, peer.server_log()[-1500:]
            peer.restart()
            pytest.fail(f"{peer.argv[0]} (pid {pid}) died with status {status} during this test "
                        f"(restarted for the next tests); log tail:\n{tail}")


@pytest.fixture(scope="module")
def run_aws():
    """`scripts/local-aws --run` for one test module (the stack really runs): .values has LOCAL_AWS_ENDPOINT,
    LOCAL_AWS_PID, LOCAL_AWS_RUNTIME_DIR, LOCAL_AWS_HOSTS_FILE and the keys; .client(service) makes a signed
    boto3 client. Stopped after the module, and checked to have left no directory and no cgroup behind."""
    peer = Peer(local_aws_argv() + ["--run"], timeout=90)
    peer.client = peer_clients(peer)
    yield peer
    peer.stop()
    root, pid = peer.values.get("LOCAL_AWS_RUNTIME_DIR"), peer.values.get("LOCAL_AWS_PID")
    assert not root or not os.path.exists(root), f"runtime directory {root} left behind"
    assert not os.path.exists(f"/sys/fs/cgroup/unified/fairflow-local-aws-{pid}"), "cgroup left behind"
