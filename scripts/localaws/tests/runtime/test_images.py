"""The image table (runtime/images.py): what each task-definition image runs here, the apache/airflow image's
/entrypoint against a real MariaDB, git-sync v4 over a local repository, and ECS's pull error for the rest.

Containers are run the way the ECS task engine runs them (entryPoint + command, env = image env under the
task's), but without the sandbox's bind mounts: the test calls the mounted files by their host paths, so it
never creates stubs such as /entrypoint on the host.  The Airflow venv is installed before the timed part
(scripts/lib/install-airflow-image.sh, a no-op when cached).
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import Peer, ROOT
from runtime import images

AIRFLOW = "3.3.2"  # the version the generated template uses
# The template's wrapper (StackBuilder: every Airflow container's entryPoint), /entrypoint by its host path.
WRAPPER = ('export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="mysql+mysqldb://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:'
           '${DB_PORT}/${DB_NAME}"; export AIRFLOW__CELERY__RESULT_BACKEND="db+${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN}";'
           '\nexec %s "$@"')


def host_path(img, container_path):
    """Where the sandbox's bind mount of container_path comes from (a bare name: looked up on PATH)."""
    if "/" not in container_path:
        for d in img.env.get("PATH", "").split(":"):
            if os.path.join(d, container_path) in img.mounts:
                return img.mounts[os.path.join(d, container_path)]
    return img.mounts.get(container_path, container_path)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def airflow_image():
    r = subprocess.run(["bash", str(ROOT / "scripts/lib/install-airflow-image.sh"), AIRFLOW],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:]
    return images.resolve(f"apache/airflow:{AIRFLOW}").prepare()


@pytest.fixture(scope="module")
def mariadb():
    peer = Peer(["bash", str(ROOT / "scripts/lib/mariadb-peer.sh")], timeout=60)
    # What RDS MySQL 8 gives a new database: utf8mb4 (the peer's server default is latin1)
    q = ["mariadb", "--no-defaults", "--protocol=tcp", "-h127.0.0.1", f"-P{peer['MARIADB_PORT']}", "-uroot"]
    subprocess.run(q + ["-e", "CREATE DATABASE airflow_img CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"],
                   check=True)
    peer.query = lambda sql: subprocess.run(q + ["-N", "-B", "airflow_img", "-e", sql], check=True,
                                            stdout=subprocess.PIPE, text=True).stdout
    yield peer
    peer.stop()


def run_container(img, command, env, cwd, entrypoint=None, timeout=240):
    """argv = (entrypoint or image ENTRYPOINT) + command; env = image env overlaid by the task's."""
    argv = [host_path(img, a) for a in (entrypoint if entrypoint is not None else img.entrypoint or [])] + command
    return subprocess.run(argv, env={**img.env, **env}, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout, start_new_session=True)


def airflow_task_env(home, db, **extra):
    env = {
        "AIRFLOW_HOME": home, "HOME": home,  # the sandbox binds per-task dirs at /opt/airflow and /home/airflow
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ENGINE_COLLATION_FOR_IDS": "utf8mb3_bin",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:1/0",
        "DB_USER": db["MARIADB_USER"] if db else "airflow", "DB_PASSWORD": db["MARIADB_PASSWORD"] if db else "x",
        "DB_HOST": "127.0.0.1", "DB_PORT": db["MARIADB_PORT"] if db else "1", "DB_NAME": "airflow_img",
    }
    env.update(extra)
    return env


def wrapped(img):
    return ["/usr/bin/dumb-init", "--", "/bin/bash", "-c", WRAPPER % host_path(img, "/entrypoint"),
            "fairflow-entrypoint"]


# --- the table ------------------------------------------------------------------------------------------------

def test_table_resolves_the_stacks_images_with_their_defaults():
    py = images.resolve("public.ecr.aws/docker/library/python:3.12-slim")
    assert py.command == ["python3"] and py.entrypoint is None
    out = subprocess.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         env=py.prepare().env, stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    assert out == "3.12" or py.note, (out, py.note)   # the host's 3.12, or a logged fallback

    redis = images.resolve("public.ecr.aws/docker/library/redis:7.2-alpine").prepare()
    assert (redis.entrypoint, redis.command, redis.workdir) == (["docker-entrypoint.sh"], ["redis-server"], "/data")
    assert images.resolve("redis:7").kind == "redis"

    af = images.resolve(f"apache/airflow:{AIRFLOW}")
    assert af.entrypoint == ["/usr/bin/dumb-init", "--", "/entrypoint"] and af.command == []
    assert af.env["AIRFLOW_HOME"] == "/opt/airflow" and af.env["PATH"].startswith(af.venv + "/bin:")
    assert os.access(af.mounts["/entrypoint"], os.X_OK) and "/opt/airflow" in af.home_dirs
    assert af.image_user == "50000:0" and af.user is None
    assert images.resolve(f"apache/airflow:{AIRFLOW}-python3.12").venv.endswith(f"{AIRFLOW}-python3.12")
    assert images.resolve("apache/airflow:slim-2.11.2").version == "2.11.2"

    gs = images.resolve("registry.k8s.io/git-sync/git-sync:v4.4.2").prepare()
    assert gs.entrypoint == ["/git-sync"] and os.access(gs.mounts["/git-sync"], os.X_OK)


@pytest.mark.parametrize("image,ref", [
    ("nosuch:1", "docker.io/library/nosuch:1"),
    ("public.ecr.aws/docker/library/nosuch", "public.ecr.aws/docker/library/nosuch:latest"),
    ("apache/airflow:not-a-tag", "docker.io/apache/airflow:not-a-tag"),
])
def test_unknown_image_is_cannot_pull_container_error(image, ref):
    with pytest.raises(images.ImageError) as e:
        images.resolve(image)
    assert e.value.reason == ("CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                              f"failed to resolve ref {ref}: {ref}: not found")


def test_airflow_prepare_is_quick_once_installed_and_runs_that_version(airflow_image):
    t0 = time.time()
    images.AirflowImage(f"apache/airflow:{AIRFLOW}", "x", AIRFLOW, None, False).prepare()
    assert time.time() - t0 < 5
    code = ("import MySQLdb, airflow.providers.celery, airflow.providers.amazon, airflow.providers.fab, "
            "airflow.providers.redis, airflow, celery; print(airflow.__version__, celery.__version__)")
    r = subprocess.run(["python", "-c", code], env={**airflow_image.env, "AIRFLOW_HOME": tempfile.gettempdir()},
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    version, celery = r.stdout.split()
    assert version == AIRFLOW and celery < "5.7"   # providers-celery 3.26 breaks with celery 5.7


# --- redis ---------------------------------------------------------------------------------------------------

def test_redis_image_answers_clients_from_other_loopback_addresses(tmp_path):
    img = images.resolve("public.ecr.aws/docker/library/redis:7.2-alpine").prepare()
    port = free_port()
    argv = [host_path(img, img.entrypoint[0]), "redis-server", "--save", "", "--appendonly", "no",
            "--port", str(port), "--bind", "127.0.0.1"]
    p = subprocess.Popen(argv, env=img.env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        deadline = time.time() + 10
        while True:
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=("127.0.0.3", 0))
                break
            except OSError:
                assert time.time() < deadline and p.poll() is None, "redis-server did not listen"
                time.sleep(0.05)
        with c:  # a task dials from its own 127.x twin: protected mode must be off, as in the image
            c.sendall(b"PING\r\n")
            assert c.recv(64) == b"+PONG\r\n"
        assert open(f"/proc/{p.pid}/comm").read().strip().startswith("redis-server")  # exec'd, not a child
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(10)


# --- apache/airflow /entrypoint ---------------------------------------------------------------------------------

def test_entrypoint_migrates_and_creates_the_admin_user_on_mariadb(airflow_image, mariadb, tmp_path):
    env = airflow_task_env(str(tmp_path), mariadb, _AIRFLOW_DB_MIGRATE="true", _AIRFLOW_WWW_USER_CREATE="true",
                           _AIRFLOW_WWW_USER_USERNAME="admin", _AIRFLOW_WWW_USER_PASSWORD="pw-from-secret",
                           _AIRFLOW_WWW_USER_FIRSTNAME="Airflow", _AIRFLOW_WWW_USER_LASTNAME="Admin",
                           _AIRFLOW_WWW_USER_EMAIL="admin@example.com", _AIRFLOW_WWW_USER_ROLE="Admin")
    t0 = time.time()
    r = run_container(airflow_image, ["version"], env, tmp_path, entrypoint=wrapped(airflow_image))
    took = time.time() - t0
    assert r.returncode == 0, r.stdout[-3000:]
    assert r.stdout.strip().splitlines()[-1] == AIRFLOW
    assert "Database migration done!" in r.stdout, r.stdout[-3000:]
    assert 'User "admin" created with role "Admin"' in r.stdout
    assert mariadba_rows(mariadb, "SELECT u.username, r.name FROM ab_user u JOIN ab_user_role ur ON ur.user_id = u.id "
                                  "JOIN ab_role r ON r.id = ur.role_id") == [["admin", "Admin"]]
    print(f"entrypoint migrate + user create + version: {took:.1f} s")

    # the schema is at Airflow's head revision (what the wait-for-migrations containers check)
    heads = subprocess.run([airflow_image.venv + "/bin/python", "-c",
                            "from airflow.utils.db import _get_alembic_config; from alembic.script import ScriptDirectory;"
                            "print(ScriptDirectory.from_config(_get_alembic_config()).get_current_head())"],
                           env={**airflow_image.env, "AIRFLOW_HOME": str(tmp_path)}, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True).stdout.split()
    assert heads and mariadba_rows(mariadb, "SELECT version_num FROM alembic_version") == [[heads[-1]]]


def mariadba_rows(db, sql):
    return [line.split("\t") for line in db.query(sql).splitlines()]


def test_entrypoint_gives_up_waiting_for_the_database(airflow_image, tmp_path):
    env = airflow_task_env(str(tmp_path), None, CONNECTION_CHECK_MAX_COUNT="1", CONNECTION_CHECK_SLEEP_TIME="0")
    r = run_container(airflow_image, ["scheduler"], env, tmp_path, entrypoint=wrapped(airflow_image))
    assert r.returncode == 1
    assert "ERROR! Maximum number of retries (1) reached." in r.stdout
    assert "$ airflow db check" in r.stdout


def test_entrypoint_user_create_needs_a_password_and_bash_python_pass_through(airflow_image, tmp_path):
    env = airflow_task_env(str(tmp_path), None, CONNECTION_CHECK_MAX_COUNT="0", _AIRFLOW_WWW_USER_CREATE="true")
    r = run_container(airflow_image, ["version"], env, tmp_path)
    assert r.returncode == 1
    assert "ERROR! Airflow Admin password not set via _AIRFLOW_WWW_USER_PASSWORD or " \
           "_AIRFLOW_WWW_USER_PASSWORD_CMD variables!" in r.stdout

    env = airflow_task_env(str(tmp_path), None, CONNECTION_CHECK_MAX_COUNT="0")
    r = run_container(airflow_image, ["bash", "-c", 'echo "bash $AIRFLOW_VERSION"'], env, tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, f"bash {AIRFLOW}")
    r = run_container(airflow_image, ["python", "-c", "import sys; print(sys.prefix)"], env, tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, airflow_image.venv)


def test_entrypoint_dispatch_order(airflow_image, tmp_path):
    """Which airflow commands the entrypoint runs, in order (an `airflow` first on PATH records them)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    (bindir / "airflow").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n'
                                    'case "$*" in "config get-value core executor") echo CeleryExecutor ;; '
                                    '"config get-value celery broker_url") echo "redis://127.0.0.1:$BROKER_PORT/0" ;; '
                                    'esac\n')
    (bindir / "airflow").chmod(0o755)
    broker = socket.socket()
    broker.bind(("127.0.0.1", 0))
    broker.listen(4)
    env = airflow_task_env(str(tmp_path), None, PATH=f"{bindir}:{airflow_image.env['PATH']}",
                           BROKER_PORT=str(broker.getsockname()[1]), _AIRFLOW_DB_UPGRADE="true",
                           CONNECTION_CHECK_MAX_COUNT="1")
    env.pop("DB_HOST")
    env.pop("DB_PORT")   # else the real entrypoint probes DB_HOST:DB_PORT instead of the broker
    try:
        r = run_container(airflow_image, ["airflow", "celery", "worker"], env, tmp_path)
    finally:
        broker.close()
    assert r.returncode == 0, r.stdout
    assert calls.read_text().splitlines() == ["db check", "db migrate", "config get-value core executor",
                                              "config get-value celery broker_url", "celery worker"]
    assert "WARNING: Environment variable '_AIRFLOW_DB_UPGRADE' is deprecated please use " \
           "'_AIRFLOW_DB_MIGRATE' instead" in r.stdout
    assert f"BACKEND=redis\nDB_HOST=127.0.0.1\nDB_PORT={env['BROKER_PORT']}\n" in r.stdout   # and it connected


# --- git-sync ------------------------------------------------------------------------------------------------

def git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout.strip()


@pytest.fixture
def dags_repo(tmp_path):
    src = tmp_path / "dags-src"
    src.mkdir()
    git(src, "init", "-q", "-b", "main")
    (src / "first_dag.py").write_text("# one\n")
    git(src, "add", ".")
    git(src, "commit", "-q", "-m", "one")
    return src


def log_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_git_sync_publishes_each_commit_behind_an_atomic_relative_link(dags_repo, tmp_path):
    img = images.resolve("registry.k8s.io/git-sync/git-sync:v4.4.2").prepare()
    root = tmp_path / "shared-dags"
    env = {**img.env, "GITSYNC_REPO": f"file://{dags_repo}", "GITSYNC_REF": "HEAD", "GITSYNC_ROOT": str(root),
           "GITSYNC_LINK": "repo", "GITSYNC_PERIOD": "500ms", "GITSYNC_DEPTH": "1"}
    logf = open(tmp_path / "git-sync.log", "w+")
    p = subprocess.Popen([host_path(img, "/git-sync")], env=env, cwd=tmp_path, stdout=logf, stderr=logf,
                         start_new_session=True)
    link = root / "repo"
    try:
        first = git(dags_repo, "rev-parse", "HEAD")
        wait_for(lambda: os.path.islink(link) and os.readlink(link) == f".worktrees/{first}", p)
        assert (link / "first_dag.py").read_text() == "# one\n"
        assert (root / ".git").is_dir() and git(root, "rev-parse", "--abbrev-ref", "HEAD") == "git-sync"
        assert git(link, "rev-parse", "HEAD") == first

        (dags_repo / "second_dag.py").write_text("# two\n")
        git(dags_repo, "add", ".")
        git(dags_repo, "commit", "-q", "-m", "two")
        second = git(dags_repo, "rev-parse", "HEAD")
        wait_for(lambda: os.readlink(link) == f".worktrees/{second}", p)
        assert (link / "second_dag.py").exists()
        wait_for(lambda: sorted(os.listdir(root / ".worktrees")) == [second], p)   # old worktree cleaned up
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(10)
    logf.seek(0)
    msgs = [(m["msg"], m.get("remote")) for m in log_lines(logf.read())]
    assert ("updated successfully", first) in msgs and ("updated successfully", second) in msgs


def wait_for(cond, proc, timeout=15):
    deadline = time.time() + timeout
    while True:
        try:
            if cond():
                return
        except OSError:
            pass
        assert proc.poll() is None, f"git-sync exited {proc.returncode}"
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_git_sync_v3_names_one_time_and_failure_exit(dags_repo, tmp_path):
    img = images.resolve("registry.k8s.io/git-sync/git-sync:v4.4.2")
    env = {**img.env, "GIT_SYNC_REPO": str(dags_repo), "GIT_SYNC_ROOT": str(tmp_path / "r"),
           "GIT_SYNC_DEST": "dags", "GIT_SYNC_ONE_TIME": "true", "GIT_SYNC_BRANCH": "main"}
    r = subprocess.run([host_path(img, "/git-sync")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout
    assert (tmp_path / "r" / "dags" / "first_dag.py").exists()
    assert "exiting after one sync" in [m["msg"] for m in log_lines(r.stdout)]

    env = {**img.env, "GITSYNC_REPO": str(tmp_path / "nope"), "GITSYNC_ROOT": str(tmp_path / "r2")}
    r = subprocess.run([host_path(img, "/git-sync")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    assert r.returncode == 1   # GITSYNC_MAX_FAILURES defaults to 0: the first failure is fatal
    assert "too many failures, aborting" in [m["msg"] for m in log_lines(r.stdout)]


class GitHTTP:
    """git's smart HTTP (git http-backend as CGI) on 127.0.0.1, behind HTTP basic auth."""

    def __init__(self, project_root, user, password):
        import base64
        import http.server
        import threading
        want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.cgi()

            def do_POST(self):
                self.cgi()

            def cgi(self):
                outer.requests.append((self.command, self.headers.get("Authorization") == want))
                if self.headers.get("Authorization") != want:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                env = {"GIT_PROJECT_ROOT": str(project_root), "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
                       "QUERY_STRING": query, "REQUEST_METHOD": self.command, "REMOTE_USER": user,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                       "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "PATH": "/usr/bin:/bin"}
                out = subprocess.run(["git", "http-backend"], input=body, env=env, stdout=subprocess.PIPE).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode().split("\r\n"):
                    k, _, v = line.partition(": ")
                    if k.lower() == "status":
                        status = int(v.split()[0])
                    elif k:
                        headers.append((k, v))
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_git_sync_authenticates_with_username_and_password(dags_repo, tmp_path):
    img = images.resolve("registry.k8s.io/git-sync/git-sync:v4.4.2")
    bare = tmp_path / "srv" / "dags.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(dags_repo), str(bare)], check=True)
    srv = GitHTTP(bare.parent, "fairflow", "t0ken")
    try:
        base = {**img.env, "GITSYNC_REPO": f"http://127.0.0.1:{srv.port}/dags.git", "GITSYNC_ONE_TIME": "true",
                "GITSYNC_USERNAME": "fairflow"}
        r = subprocess.run([host_path(img, "/git-sync")], env={**base, "GITSYNC_ROOT": str(tmp_path / "ok"),
                           "GITSYNC_PASSWORD": "t0ken"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stdout
        assert (tmp_path / "ok" / "dags.git" / "first_dag.py").exists()   # LINK: the repo URL's leaf, as v4
        assert "t0ken" not in r.stdout
        r = subprocess.run([host_path(img, "/git-sync")], env={**base, "GITSYNC_ROOT": str(tmp_path / "bad"),
                           "GIT_SYNC_PASSWORD": "wrong"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        assert r.returncode == 1 and "too many failures, aborting" in r.stdout
        assert not (tmp_path / "bad" / "dags.git").exists()
    finally:
        srv.close()
