"""The runtime's shared ground: its directory, the lock over moto's state, cgroups, process spawning,
the watchdog that cleans up if the local AWS dies, and logging.

Everything the runtime starts lives in one cgroup v2 subtree (`/sys/fs/cgroup/unified/fairflow-local-aws-PID`,
one child cgroup per ECS task or data server), so "stop" is `cgroup.kill`, whatever the processes forked.
A watchdog process holds a pipe to this process; when it reads EOF (the local AWS exited, even by SIGKILL)
it kills the whole subtree, unmounts and removes the runtime directory and the mount-point stubs.
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# One re-entrant lock over moto's in-memory state: every HTTP request to moto and every runtime thread
# that reads or changes a moto model holds it. Never hold it while waiting on a process or a socket.
LOCK = threading.RLock()

_root = None
_cgroup = None
_watchdog_w = None
_cleanups = []          # callables run at shutdown, last registered first
_stubs = []             # mount-point stubs created on the host (files/dirs at container paths)
_shutting_down = threading.Event()

CGROUP_BASE = os.environ.get("LOCAL_AWS_CGROUP_BASE", "/sys/fs/cgroup/unified")


_endpoint = None


def set_endpoint(url: str) -> None:
    """The local AWS's own URL (http://127.0.0.1:PORT), known once the server listens."""
    global _endpoint
    _endpoint = url


def endpoint() -> str:
    """What tasks reach the local AWS at (AWS_ENDPOINT_URL inside every task)."""
    return _endpoint


def enabled() -> bool:
    return os.environ.get("LOCAL_AWS_RUN", "0") == "1"


def log(msg):
    print(f"local-aws runtime: {msg}", file=sys.stderr, flush=True)


def root() -> str:
    """The runtime's directory (EFS file systems, database data, task sandboxes, logs)."""
    global _root
    if _root is None:
        want = os.environ.get("LOCAL_AWS_RUNTIME_DIR")
        if want:
            os.makedirs(want, exist_ok=True)
            _root = want
        else:
            _root = tempfile.mkdtemp(prefix=f"fairflow-local-aws-{os.getpid()}-")
    return _root


def path(*parts) -> str:
    p = os.path.join(root(), *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def cgroup_root() -> str:
    global _cgroup
    if _cgroup is None:
        _cgroup = os.path.join(CGROUP_BASE, f"fairflow-local-aws-{os.getpid()}")
        os.makedirs(_cgroup, exist_ok=True)
    return _cgroup


def new_cgroup(name: str) -> str:
    """A child cgroup for one task or server; put processes in it with `preexec_into(cg)`."""
    cg = os.path.join(cgroup_root(), name)
    os.makedirs(cg, exist_ok=True)
    return cg


def cgroup_pids(cg: str):
    try:
        with open(os.path.join(cg, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def kill_cgroup(cg: str, grace: float = 0.0, sig=signal.SIGTERM):
    """SIGTERM every process in cg (if grace > 0, wait up to grace seconds), then cgroup.kill, then rmdir."""
    if grace > 0:
        for pid in cgroup_pids(cg):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline and cgroup_pids(cg):
            time.sleep(0.1)
    try:
        with open(os.path.join(cg, "cgroup.kill"), "w") as f:
            f.write("1")
    except FileNotFoundError:
        return
    deadline = time.time() + 5
    while time.time() < deadline and cgroup_pids(cg):
        time.sleep(0.05)
    _rmdir_tree(cg)


def _rmdir_tree(cg):
    for dirpath, dirnames, _ in os.walk(cg, topdown=False):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def preexec_into(cg: str, extra=None):
    """A preexec_fn: new session (own process group), join cgroup cg, then run extra()."""
    def fn():
        os.setsid()
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        if extra:
            extra()
    return fn


def spawn(argv, cg: str, **popen_kw) -> subprocess.Popen:
    """Starts argv in its own session inside cgroup cg (close_fds, no stdin unless given)."""
    popen_kw.setdefault("stdin", subprocess.DEVNULL)
    popen_kw.setdefault("close_fds", True)
    extra = popen_kw.pop("preexec_extra", None)
    return subprocess.Popen(argv, preexec_fn=preexec_into(cg, extra), **popen_kw)


def stub(container_path: str, is_dir: bool) -> None:
    """Makes sure a mount point exists on the host for a bind mount at container_path (e.g. /entrypoint,
    /shared-dags). Stubs this runtime created are removed at shutdown (and by the watchdog)."""
    if os.path.lexists(container_path):
        return
    os.makedirs(os.path.dirname(container_path) or "/", exist_ok=True)
    if is_dir:
        os.makedirs(container_path, exist_ok=True)
    else:
        open(container_path, "a").close()
    _stubs.append(container_path)
    _tell_watchdog(f"stub {container_path}")


def on_shutdown(fn):
    _cleanups.append(fn)
    return fn


def shutting_down() -> bool:
    return _shutting_down.is_set()


def shutdown():
    """Stops everything the runtime started; idempotent."""
    if _shutting_down.is_set():
        return
    _shutting_down.set()
    for fn in reversed(_cleanups):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - keep cleaning up
            log(f"cleanup {getattr(fn, '__name__', fn)} failed: {e}")
    if _cgroup:
        kill_cgroup(_cgroup, grace=3)
    for p in reversed(_stubs):
        try:
            os.rmdir(p) if os.path.isdir(p) else os.unlink(p)
        except OSError:
            pass
    if _root and not os.environ.get("LOCAL_AWS_KEEP_RUNTIME_DIR"):
        shutil.rmtree(_root, ignore_errors=True)


def _tell_watchdog(line):
    if _watchdog_w is not None:
        try:
            os.write(_watchdog_w, (line + "\n").encode())
        except OSError:
            pass


def start():
    """Called once at start-up (LOCAL_AWS_RUN=1): directory, cgroup, watchdog, exit hooks."""
    global _watchdog_w
    root()
    cgroup_root()
    r, w = os.pipe()
    subprocess.Popen([sys.executable, os.path.join(HERE, "watchdog.py"), str(r), cgroup_root(), root()],
                     pass_fds=(r,), start_new_session=True, stdin=subprocess.DEVNULL)
    os.close(r)
    _watchdog_w = w
    atexit.register(shutdown)
    log(f"runtime directory {root()}, cgroup {cgroup_root()}")
