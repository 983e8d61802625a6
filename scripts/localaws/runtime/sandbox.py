"""One container's sandbox: a private mount namespace (and UTS namespace) with the task's mounts, its own
/etc/hosts and host name, the bind shim, then exec of the container's program.

The parent (ecs_tasks) writes a JSON spec and spawns `python3 sandbox.py SPEC STATUS_FD` into the
container's cgroup. This process (still root, before exec):
  1. unshare(CLONE_NEWNS | CLONE_NEWUTS) and makes every mount private (nothing leaks to the host);
  2. bind-mounts each {"src", "dst", "ro"} (read-only by a remount), then the task's hosts file over
     /etc/hosts; the mount points (dst) exist on the host already (core.stub, done by the parent);
  3. sets the host name (ip-10-0-x-y.ec2.internal), switches to the container's user (numeric uid[:gid]
     or a name in the host's /etc/passwd, if that user can execute the program, read the shim and enter
     the working directory; otherwise stays root and says so on the status pipe's "note" line; the
     container's own writable dirs, spec "own", are chowned to it), changes to the working directory;
  4. execs the program with exactly the container's environment (LD_PRELOAD = the bind shim and
     FAIRFLOW_TASK_ADDR stay visible: children need them).
The status fd is close-on-exec: the parent reads EOF (exec succeeded: the container started) or one line
"error <text>" (the container could not start: the text is what Docker would have said).

The shim (native/bindshim.c) is compiled with gcc at first use into a cache dir (shim_path()).
"""
import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM_SRC = os.path.join(HERE, "native", "bindshim.c")

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_shim_lock = threading.Lock()
_shim = None


def _cache_dir():
    """Where the compiled shim is kept. It must be readable by any uid a container switches to, so a
    world-readable dir is preferred (root's ~ is usually 0700)."""
    want = os.environ.get("FAIRFLOW_CACHE_DIR")
    if want:
        return want
    for d in ("/var/cache/fairflow", os.path.expanduser("~/.cache/fairflow")):
        try:
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
            return d
        except OSError:
            continue
    return os.path.expanduser("~/.cache/fairflow")


def shim_path() -> str:
    """The compiled bind shim (gcc at first use, cached by the source's hash); thread-safe."""
    global _shim
    with _shim_lock:
        if _shim and os.path.exists(_shim):
            return _shim
        src = open(SHIM_SRC, "rb").read()
        digest = hashlib.sha256(src).hexdigest()[:16]
        d = _cache_dir()
        out = os.path.join(d, f"bindshim-{digest}.so")
        if not os.path.exists(out):
            tmp = f"{out}.{os.getpid()}.tmp"
            gcc = shutil.which("gcc") or shutil.which("cc")
            if not gcc:
                raise RuntimeError("gcc is not installed: the bind shim cannot be built (apt-get install gcc)")
            r = subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-Wall", "-o", tmp, SHIM_SRC, "-ldl"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"building the bind shim failed: {r.stderr.strip()}")
            os.chmod(tmp, 0o755)
            os.replace(tmp, out)
        _shim = out
        return out


def argv_for(spec_path: str, status_fd: int):
    return [sys.executable, "-S", os.path.abspath(__file__), spec_path, str(status_fd)]


# ------------------------------------------------------------------ inside the new namespaces

def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return libc


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _bind(libc, src, dst, ro):
    _check(libc.mount(src.encode(), dst.encode(), None, MS_BIND | MS_REC, None), f"mount {src} on {dst}")
    if ro:
        _check(libc.mount(None, dst.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
               f"remount {dst} read-only")


def _user(spec_user):
    """(uid, gid, home or None, note) for a container user "name", "uid", "uid:gid", "name:group"."""
    import grp
    import pwd
    if not spec_user:
        return 0, 0, None, None
    name, _, group = str(spec_user).partition(":")
    uid = gid = None
    home = None
    try:
        if name.isdigit():
            uid = int(name)
            try:
                pw = pwd.getpwuid(uid)
                gid, home = pw.pw_gid, pw.pw_dir
            except KeyError:
                gid = uid
        else:
            pw = pwd.getpwnam(name)
            uid, gid, home = pw.pw_uid, pw.pw_gid, pw.pw_dir
        if group:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        return 0, 0, None, f"user {spec_user!r} does not exist here: running as root"
    return uid, gid, home, None


def _can_run_as(uid, gid, prog, cwd, preload):
    """Can uid:gid execute prog, read the bind shim and enter cwd? (tried in a child that switches)"""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([gid])
            os.setgid(gid)
            os.setuid(uid)
            shim = (preload or "").split()
            ok = os.access(prog, os.X_OK) and os.access(cwd, os.X_OK) and all(os.access(s, os.R_OK) for s in shim)
            os._exit(0 if ok else 1)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, st = os.waitpid(pid, 0)
    return os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0


def main():
    spec_path, status_fd = sys.argv[1], int(sys.argv[2])
    os.set_inheritable(status_fd, False)
    status = os.fdopen(status_fd, "w", buffering=1)
    try:
        spec = json.load(open(spec_path))
        libc = _libc()
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare")
        _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        for m in spec.get("mounts", []):
            _bind(libc, m["src"], m["dst"], m.get("ro", False))
        if spec.get("hosts_file"):
            _bind(libc, spec["hosts_file"], "/etc/hosts", False)
        if spec.get("hostname"):
            h = spec["hostname"].encode()
            _check(libc.sethostname(h, len(h)), "sethostname")
        env = dict(spec["env"])
        uid, gid, home, note = _user(spec.get("user"))
        cwd = spec.get("cwd") or "/"
        argv = spec["argv"]
        if not argv:
            raise OSError(0, "no command specified")
        prog = argv[0]
        if "/" not in prog:
            found = shutil.which(prog, path=env.get("PATH", os.defpath))
            if not found:
                raise OSError(2, f'exec: "{prog}": executable file not found in $PATH')
            prog = found
        elif not os.path.exists(prog):
            raise OSError(2, f"exec: \"{prog}\": stat {prog}: no such file or directory")
        if (uid != 0 or gid != 0) and not _can_run_as(uid, gid, prog, cwd, env.get("LD_PRELOAD")):
            note = (f"user {spec.get('user')!r} cannot run {prog} here (the host's files are root's): "
                    "running as root")
            uid = gid = 0
        if note:
            status.write(f"note {note}\n")
        if uid != 0 or gid != 0:
            for p in spec.get("own", []):
                try:
                    os.chown(p, uid, gid)
                except OSError:
                    pass
            os.setgroups([gid])
            os.setgid(gid)
            os.setuid(uid)
            if home:
                env.setdefault("HOME", home)
        try:
            os.chdir(cwd)
        except OSError as e:
            raise OSError(e.errno, f"chdir to cwd ({cwd}) set in config.json failed: {e.strerror}") from None
        sys.stdout.flush()
        os.execve(prog, argv, env)
    except OSError as e:
        status.write(f"error {e.strerror or e}\n")
        status.flush()
        os._exit(127)
    except Exception as e:  # noqa: BLE001 - reported to the parent, never a traceback to the user
        status.write(f"error {e}\n")
        status.flush()
        os._exit(127)


if __name__ == "__main__":
    main()
