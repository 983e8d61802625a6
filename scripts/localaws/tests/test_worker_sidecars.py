"""The template's task-protection sidecar (fairflow generate --autoscaling), run for real: a Redis broker, a
Celery worker of the Airflow image's virtualenv on this host, and a stand-in for the ECS agent's
/task-protection/v1/state endpoint. While the worker runs a task the sidecar PUTs protection on; when it is idle
again, off. Needs the built binary (.build/debug/fairflow or FAIRFLOW_BIN), redis-server and the image venv
(scripts/lib/install-airflow-image.sh)."""
import http.server
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN = os.environ.get("FAIRFLOW_BIN") or str(ROOT / ".build" / "debug" / "fairflow")
VENV = pathlib.Path(os.environ.get("FAIRFLOW_CACHE", pathlib.Path.home() / ".cache" / "fairflow")) / "image-apache-airflow-3.3.2"


def need(ok, what):
    if not ok:
        if os.environ.get("FAIRFLOW_REQUIRE_PEERS") == "1":
            pytest.fail(f"{what} missing")
        pytest.skip(f"{what} missing")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sidecar_script(name):
    arn = lambda s: f"arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-{s}-AbCdEf"  # noqa: E731
    with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
        f.write(f"AIRFLOW_FERNET_KEY_SECRET_ARN={arn('fernet-key')}\nAIRFLOW_ADMIN_PASSWORD_SECRET_ARN={arn('admin-password')}\n"
                f"AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN={arn('flower-credentials')}\n")
    out = subprocess.run([BIN, "generate", "--env", f.name, "--autoscaling"], capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    for r in json.loads(out)["Resources"].values():
        for c in r.get("Properties", {}).get("ContainerDefinitions", []):
            if c["Name"] == name:
                entry = c["EntryPoint"]
                assert entry[:4] == ["/usr/bin/dumb-init", "--", "python", "-c"], entry
                return entry[4]
    raise AssertionError(f"no {name} container")


class Agent(http.server.BaseHTTPRequestHandler):
    puts = []

    def do_PUT(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Agent.puts.append((self.path, body))
        answer = {"protection": {"ProtectionEnabled": body["ProtectionEnabled"], "TaskArn": "arn:aws:ecs:task/c/t",
                                 "ExpirationDate": "2030-01-01T00:00:00Z" if body["ProtectionEnabled"] else None}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


WORKER_APP = """
import time
from celery import Celery
app = Celery("w", broker=BROKER)
app.conf.worker_prefetch_multiplier = 1
@app.task(name="sleep")
def sleep(seconds):
    time.sleep(seconds)
"""


def test_a_busy_worker_is_protected_and_released_when_idle(tmp_path):
    need(os.access(BIN, os.X_OK), f"{BIN} (swift build)")
    need(shutil.which("redis-server"), "redis-server")
    python = VENV / "bin" / "python"
    need(python.exists(), f"{python} (scripts/lib/install-airflow-image.sh)")
    script = sidecar_script("task-protection")

    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Agent)
    threading.Thread(target=agent.serve_forever, daemon=True).start()
    broker = f"redis://127.0.0.1:{port}/0"
    (tmp_path / "workerapp.py").write_text(f"BROKER = {broker!r}\n" + WORKER_APP)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}"}
    procs = [redis]
    try:
        worker = subprocess.Popen([str(python), "-m", "celery", "-A", "workerapp", "worker", "--concurrency", "1", "-n",
                                   "celery@" + socket.gethostname(), "--without-gossip", "--without-mingle", "-l", "warning"],
                                  cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(worker)
        sidecar = subprocess.Popen([str(python), "-c", script], env={
            **env, "AIRFLOW__CELERY__BROKER_URL": broker, "PROTECTION_PERIOD": "1", "PROTECTION_MINUTES": "5",
            "ECS_AGENT_URI": f"http://127.0.0.1:{agent.server_address[1]}/api/task-1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(sidecar)
        time.sleep(4)
        assert Agent.puts == [], "idle from the start: nothing to protect or release"
        subprocess.run([str(python), "-c", "import workerapp; workerapp.sleep.delay(6)"], cwd=tmp_path, env=env, check=True, timeout=30)
        path, body = wait_for("protection on", lambda: Agent.puts[0] if Agent.puts else None, 20)
        assert path == "/api/task-1/task-protection/v1/state"
        assert body == {"ProtectionEnabled": True, "ExpiresInMinutes": 5}
        _, off = wait_for("protection released", lambda: Agent.puts[1] if len(Agent.puts) > 1 else None, 30)
        assert off == {"ProtectionEnabled": False}
        time.sleep(2)
        assert len(Agent.puts) == 2, Agent.puts
    finally:
        for p in reversed(procs):
            p.terminate()
        out = procs[-1].communicate(timeout=10)[0] if len(procs) == 3 else ""
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        agent.shutdown()
        print(out)


@pytest.fixture()
def mariadb():
    need(shutil.which("mariadbd"), "mariadbd")
    p = subprocess.Popen([str(ROOT / "scripts" / "lib" / "mariadb-peer.sh")], stdout=subprocess.PIPE, text=True)
    info = {}
    for line in p.stdout:
        line = line.strip()
        if line == "READY":
            break
        k, _, v = line.partition("=")
        info[k] = v
    yield info
    p.terminate()
    p.wait(timeout=30)


def test_the_backlog_is_published_per_worker_from_the_metadata_db(mariadb, aws, local_aws):
    need(os.access(BIN, os.X_OK), f"{BIN} (swift build)")
    python = VENV / "bin" / "python"
    need(python.exists(), f"{python} (scripts/lib/install-airflow-image.sh)")
    script = sidecar_script("queue-metrics")
    db = [str(python), "-c", "import os, sys, MySQLdb; c = MySQLdb.connect(host=os.environ['H'], port=int(os.environ['P']), "
          "user=os.environ['U'], passwd=os.environ['W'], db=os.environ['D']); cur = c.cursor(); "
          "[cur.execute(s) for s in sys.argv[1:]]; c.commit()"]
    dbenv = {**os.environ, "H": mariadb["MARIADB_HOST"], "P": mariadb["MARIADB_PORT"], "U": mariadb["MARIADB_USER"],
             "W": mariadb["MARIADB_PASSWORD"], "D": mariadb["MARIADB_DATABASE"]}
    subprocess.run(db + ["CREATE TABLE task_instance (task_id VARCHAR(250), state VARCHAR(20))",
                         "INSERT INTO task_instance VALUES ('a', 'queued'), ('b', 'queued'), ('c', 'running'), "
                         "('d', 'success'), ('e', 'scheduled')"], env=dbenv, check=True, timeout=60)
    ecs, cw = aws("ecs"), aws("cloudwatch")
    ecs.create_cluster(clusterName="sidecar-cluster")
    ecs.register_task_definition(family="w", containerDefinitions=[{"name": "w", "image": "busybox", "memory": 64}])
    ecs.create_service(cluster="sidecar-cluster", serviceName="worker-svc", taskDefinition="w", desiredCount=0)
    sidecar = subprocess.Popen([str(python), "-c", script], env={
        **os.environ, "METRICS_PERIOD": "1", "CLUSTER": "sidecar-cluster", "WORKER_SERVICE": "worker-svc",
        "METRICS_NAMESPACE": "Fairflow", "METADATA_DB_HOST": mariadb["MARIADB_HOST"], "METADATA_DB_PORT": mariadb["MARIADB_PORT"],
        "DB_NAME": mariadb["MARIADB_DATABASE"], "DB_USER": mariadb["MARIADB_USER"], "DB_PASSWORD": mariadb["MARIADB_PASSWORD"],
        "AWS_ENDPOINT_URL": local_aws["LOCAL_AWS_ENDPOINT"], "AWS_ACCESS_KEY_ID": local_aws["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": local_aws["AWS_SECRET_ACCESS_KEY"], "AWS_DEFAULT_REGION": "us-east-1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dims = [{"Name": "ClusterName", "Value": "sidecar-cluster"}, {"Name": "ServiceName", "Value": "worker-svc"}]

    def latest(metric):
        now = time.time()
        pts = cw.get_metric_statistics(Namespace="Fairflow", MetricName=metric, Dimensions=dims, StartTime=now - 300,
                                       EndTime=now + 60, Period=60, Statistics=["Maximum"])["Datapoints"]
        return max(p["Maximum"] for p in pts) if pts else None
    try:
        # queued 2 + running 1; no worker runs, so per worker is the whole backlog (a scale-out from 0 sees it)
        assert wait_for("the backlog", lambda: latest("CeleryBacklog"), 30) == 3
        assert latest("CeleryBacklogPerWorker") == 3
    finally:
        sidecar.terminate()
        print(sidecar.communicate(timeout=10)[0])
