"""The image table: which local runtime stands in for a container image of an ECS task definition.

No Docker exists, so an "image" is a recipe over the host: the programs to run (the host's python3, the
host's redis-server, a cached virtualenv of apache-airflow, a git-sync equivalent), the image's default
ENTRYPOINT/CMD/ENV/WORKDIR, and files the sandbox bind-mounts at container paths (`/entrypoint`, ...).

    img = resolve("apache/airflow:3.3.2")     # or raises ImageError(ECS's CannotPullContainerError text)
    img.prepare()                             # installs what is missing (may take minutes; idempotent)
    argv = (task_entry_point or img.entrypoint or []) + (task_command or img.command or [])
    env = {**img.env, **task_environment, **task_secrets}

Attributes (all plain data, safe to read without prepare()):
  ref         normalised reference, e.g. docker.io/apache/airflow:3.3.2
  entrypoint  image ENTRYPOINT (list) or None;  command: image CMD (list) or None
  env         dict applied under the task's environment (PATH first of all)
  mounts      {container path: host path} to bind-mount read-only (files or dirs); the host path exists
              once prepare() returned.  The sandbox makes each mount point with core.stub(path, is_dir).
  home_dirs   container dirs the sandbox must make writable per task (bind a fresh per-task directory)
  workdir     image WORKDIR (cwd of the process) or None (= "/")
  user        the user to run as; None = as the local AWS (root). image_user: what the real image says.
Errors raised here are ImageError(reason) with reason an ECS stoppedReason text.
"""
import os
import re
import shutil
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES_DIR = os.path.join(HERE, "images")
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
INSTALL_AIRFLOW = os.path.join(REPO, "scripts", "lib", "install-airflow-image.sh")
CACHE = os.environ.get("FAIRFLOW_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "fairflow")

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOCALE_ENV = {"LANG": "C.UTF-8"}
DEFAULT_AIRFLOW = "3.3.2"      # what apache/airflow:latest stands for here (the template's version)


class ImageError(Exception):
    """An image that cannot be "pulled" (unknown, or its install failed); str() / .reason is the
    stoppedReason ECS would report."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _log(msg):
    try:
        from . import core
        core.log(f"images: {msg}")
    except Exception:  # noqa: BLE001 - usable without the runtime (tests, tools)
        print(f"local-aws runtime: images: {msg}", file=sys.stderr, flush=True)


# --- references --------------------------------------------------------------------------------------

def normalise(image: str):
    """-> (registry, repository, tag, digest, full ref) the way containerd names it:
    'redis' -> docker.io/library/redis:latest; 'public.ecr.aws/docker/library/redis:7.2-alpine' as is."""
    s = image.strip()
    digest = None
    if "@" in s:
        s, digest = s.split("@", 1)
    first, _, rest = s.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", s
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    if registry == "docker.io" and "/" not in path:
        path = "library/" + path
    if tag is None and digest is None:
        tag = "latest"
    ref = f"{registry}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    return registry, path, tag, digest, ref


def not_found(image: str) -> ImageError:
    """ECS (Fargate platform 1.4, containerd) when the tag or repository does not exist."""
    ref = normalise(image)[4]
    return ImageError("CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                      f"failed to resolve ref {ref}: {ref}: not found")


def _library(registry, path):
    """The Docker Hub "library" name of an official image, wherever it is mirrored, or None."""
    if registry == "docker.io" and path.startswith("library/"):
        return path[len("library/"):]
    if registry == "public.ecr.aws" and path.startswith("docker/library/"):
        return path[len("docker/library/"):]
    return None


# --- images --------------------------------------------------------------------------------------------

class Image:
    kind = "generic"

    def __init__(self, image, ref):
        self.image = image
        self.ref = ref
        self.entrypoint = None
        self.command = None
        self.env = {}
        self.mounts = {}
        self.home_dirs = []
        self.workdir = None
        self.user = None          # run as the local AWS's user (root): see DESIGN.md "Images"
        self.image_user = None    # what the real image's USER is
        self.note = None          # a difference from the real image worth logging once
        self._lock = threading.Lock()
        self._ready = False

    def prepare(self):
        """Makes the runtime exist on this host (installs if needed). Idempotent and thread-safe;
        raises ImageError with an ECS-shaped reason when it cannot."""
        if self._ready:
            return self
        with self._lock:
            if not self._ready:
                self._prepare()
                self._ready = True
        return self

    def _prepare(self):
        pass

    def stubs(self):
        """[(container path, is_dir)] the sandbox must have on the host as mount points."""
        out = [(c, os.path.isdir(h)) for c, h in self.mounts.items()]
        out += [(d, True) for d in self.home_dirs]
        return out

    def __repr__(self):
        return f"<Image {self.kind} {self.ref}>"


def _apt_install(packages, what):
    """apt-get install (serialised across threads and processes by apt's own lock; we add a flock)."""
    import fcntl
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, "apt.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        missing = [p for p in packages
                   if subprocess.run(["dpkg", "-s", p], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL).returncode != 0]
        if not missing:
            return
        _log(f"{what}: apt-get install {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            r = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            _log(f"{what}: apt-get failed: {r.stdout[-2000:]}")
            raise ImageError(f"CannotPullContainerError: {what}: apt-get install {' '.join(missing)} "
                             "failed on the host")


# python:3.x[-slim|-bookworm|-alpine...] -> the host's interpreter of that minor version
def _find_python(minor):
    """Path of a real pythonX.Y (not a pyenv shim) or None."""
    cands = []
    if minor:
        pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
        vdir = os.path.join(pyenv, "versions")
        if os.path.isdir(vdir):
            for v in sorted(os.listdir(vdir), key=_vkey, reverse=True):
                if v == minor or v.startswith(minor + "."):
                    cands.append(os.path.join(vdir, v, "bin", f"python{minor}"))
        cands += [f"/usr/local/bin/python{minor}", f"/usr/bin/python{minor}"]
        if sys.version_info[:2] == tuple(int(x) for x in minor.split(".")):
            cands.insert(0, os.path.realpath(sys.executable))
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def _vkey(v):
    return [int(x) if x.isdigit() else -1 for x in re.split(r"[.]", v)]


class PythonImage(Image):
    kind = "python"

    def __init__(self, image, ref, tag):
        super().__init__(image, ref)
        m = re.match(r"^(\d+)(?:\.(\d+))?", tag or "")
        minor = f"{m.group(1)}.{m.group(2)}" if m and m.group(2) else None
        exe = _find_python(minor)
        if exe is None:
            exe = os.path.realpath(sys.executable)
            self.note = (f"{image}: no Python {minor} on this host, using {exe} "
                         f"(Python {sys.version_info[0]}.{sys.version_info[1]})") if minor else None
        self.python = exe
        bindir = os.path.dirname(exe)
        # The real image: /usr/local/bin/python3 (+pip), CMD ["python3"], ENV LANG, PYTHON_VERSION.
        self.command = ["python3"]
        ver = subprocess.run([exe, "-c", "import platform; print(platform.python_version())"],
                             stdout=subprocess.PIPE, text=True).stdout.strip() if exe else ""
        self.env = {"PATH": f"{bindir}:{BASE_PATH}", **LOCALE_ENV, "PYTHON_VERSION": ver}
        if not os.path.exists(os.path.join(bindir, "python3")):
            # e.g. /usr/bin has python3.12 only: give the image's `python3` name through a mount
            self.mounts["/usr/local/bin/python3"] = exe
            self.env["PATH"] = BASE_PATH
        self.image_user = "0:0"

    def _prepare(self):
        if not os.access(self.python, os.X_OK):
            raise not_found(self.image)
        if self.note:
            _log(self.note)


class RedisImage(Image):
    """redis:7.x (Docker Hub or public.ecr.aws mirror) -> the host's /usr/bin/redis-server.
    ENTRYPOINT ["docker-entrypoint.sh"], CMD ["redis-server"], WORKDIR /data as the real image."""
    kind = "redis"

    def __init__(self, image, ref, tag):
        super().__init__(image, ref)
        self.entrypoint = ["docker-entrypoint.sh"]
        self.command = ["redis-server"]
        self.mounts = {"/usr/local/bin/docker-entrypoint.sh": os.path.join(IMAGES_DIR, "redis-entrypoint.sh")}
        self.env = {"PATH": BASE_PATH}
        self.workdir = "/data"
        self.home_dirs = ["/data"]
        self.image_user = "0:0 (redis-server drops to redis via gosu)"
        self.tag = tag

    def _prepare(self):
        if not os.access("/usr/bin/redis-server", os.X_OK) or not shutil.which("redis-cli"):
            _apt_install(["redis-server", "redis-tools"], self.image)
        if not os.access("/usr/bin/redis-server", os.X_OK):
            raise not_found(self.image)


def _airflow_tag(tag):
    """apache/airflow tags: V, V-pythonX.Y, slim-V, slim-V-pythonX.Y, latest, slim-latest, latest-pythonX.Y.
    -> (version, python minor or None, slim) or None."""
    m = re.fullmatch(r"(slim-)?(latest|\d+\.\d+\.\d+(?:[a-z]+\d+)?)(?:-python(\d+\.\d+))?", tag or "")
    if not m:
        return None
    version = DEFAULT_AIRFLOW if m.group(2) == "latest" else m.group(2)
    return version, m.group(3), bool(m.group(1))


def airflow_venv(version, python=None):
    """The cached virtualenv that stands in for apache/airflow:VERSION[-pythonX.Y]."""
    return os.path.join(CACHE, f"image-apache-airflow-{version}" + (f"-python{python}" if python else ""))


class AirflowImage(Image):
    """apache/airflow:V -> a cached virtualenv (apache-airflow[celery,amazon,mysql,fab,redis,...]==V)
    installed by scripts/lib/install-airflow-image.sh, plus the image's /entrypoint (images/airflow-entrypoint.sh)
    and dumb-init.  ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"], CMD [] as the real image."""
    kind = "airflow"

    def __init__(self, image, ref, version, python, slim):
        super().__init__(image, ref)
        self.version, self.python, self.slim = version, python, slim
        self.venv = airflow_venv(version, python)
        self.entrypoint = ["/usr/bin/dumb-init", "--", "/entrypoint"]
        self.command = []
        self.mounts = {"/entrypoint": os.path.join(IMAGES_DIR, "airflow-entrypoint.sh")}
        if not os.access("/usr/bin/dumb-init", os.X_OK):
            self.mounts["/usr/bin/dumb-init"] = os.path.join(IMAGES_DIR, "dumb-init")
        self.env = {
            "PATH": f"{self.venv}/bin:/root/bin:/home/airflow/.local/bin:{BASE_PATH}",
            "AIRFLOW_HOME": "/opt/airflow",
            "AIRFLOW_USER_HOME_DIR": "/home/airflow",
            "AIRFLOW_UID": "50000",
            "AIRFLOW_VERSION": version,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
            "DUMB_INIT_SETSID": "1",
            "HOME": "/home/airflow",
            "LANGUAGE": "C.UTF-8", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "LC_CTYPE": "C.UTF-8", "LC_MESSAGES": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "VIRTUAL_ENV": self.venv,
        }
        self.workdir = "/opt/airflow"
        self.home_dirs = ["/opt/airflow", "/home/airflow"]
        self.image_user = "50000:0"
        if slim:
            self.note = f"{image}: the slim image has no extras; this one has the full image's venv"

    def installed(self):
        return os.access(os.path.join(self.venv, "bin", "airflow"), os.X_OK) and \
            os.path.exists(os.path.join(self.venv, ".fairflow-installed"))

    def _prepare(self):
        if self.note:
            _log(self.note)
        if not os.access("/usr/bin/dumb-init", os.X_OK) and not os.access(self.mounts["/usr/bin/dumb-init"], os.X_OK):
            raise ImageError(f"CannotPullContainerError: {self.image}: no dumb-init")
        args = [INSTALL_AIRFLOW, self.version] + ([f"--python={self.python}"] if self.python else [])
        if self.installed() and _fresh(self):
            return
        _log(f"{self.image}: installing {self.venv} (minutes the first time)")
        r = subprocess.run(["bash", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode == 3:
            raise not_found(self.image)
        if r.returncode != 0 or not self.installed():
            _log(f"{self.image}: install failed: {r.stdout[-3000:]}")
            raise ImageError(f"CannotPullContainerError: failed to install {self.ref} locally "
                             f"(scripts/lib/install-airflow-image.sh {' '.join(args[1:])} exited {r.returncode})")


def _fresh(img):
    """Installed from the constraints file the repository has now (the install script's marker)?"""
    try:
        r = subprocess.run(["bash", INSTALL_AIRFLOW, img.version, "--check"]
                           + ([f"--python={img.python}"] if img.python else []),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0
    except OSError:
        return True


class GitSyncImage(Image):
    """registry.k8s.io/git-sync/git-sync:v4.x -> images/git-sync.py over the host's git.
    ENTRYPOINT ["/git-sync"] as the real image (which runs as 65533:65533)."""
    kind = "git-sync"

    def __init__(self, image, ref, tag):
        super().__init__(image, ref)
        self.entrypoint = ["/git-sync"]
        self.command = None
        self.mounts = {"/git-sync": os.path.join(IMAGES_DIR, "git-sync.py")}
        self.env = {"PATH": BASE_PATH, **LOCALE_ENV, "HOME": "/tmp"}
        self.image_user = "65533:65533"

    def _prepare(self):
        if not shutil.which("git", path=BASE_PATH):
            _apt_install(["git"], self.image)


# --- the table -----------------------------------------------------------------------------------------

_cache = {}
_cache_lock = threading.Lock()


def resolve(image: str) -> Image:
    """The local stand-in for a task definition's `image`, or ImageError (ECS's pull error text)."""
    if not image or not isinstance(image, str):
        raise ImageError("CannotPullContainerError: invalid reference format")
    with _cache_lock:
        img = _cache.get(image)
        if img is None:
            img = _cache[image] = _resolve(image)
        return img


def _resolve(image):
    try:
        registry, path, tag, digest, ref = normalise(image)
    except ValueError:
        raise ImageError("CannotPullContainerError: invalid reference format") from None
    lib = _library(registry, path)
    if lib == "python" and (tag is None or re.match(r"^(3(\.\d+)?([.-].*)?|slim.*|latest|bookworm.*)$", tag)):
        return PythonImage(image, ref, tag)
    if lib == "redis" and (tag is None or re.match(r"^([678](\.\d+)*|latest|alpine|bookworm)([.-].*)?$", tag)):
        return RedisImage(image, ref, tag)
    if registry == "docker.io" and path == "apache/airflow":
        parsed = _airflow_tag(tag)
        if parsed:
            return AirflowImage(image, ref, *parsed)
    if registry == "registry.k8s.io" and path == "git-sync/git-sync" and (tag or "").startswith("v4"):
        return GitSyncImage(image, ref, tag)
    raise not_found(image)


def table():
    """[(image pattern, what runs)] for documentation and the report."""
    return [
        ("python:3.X[-slim...] (Docker Hub / public.ecr.aws/docker/library)",
         "host pythonX.Y (pyenv or /usr/bin), else the host python3; CMD [python3]"),
        ("redis:7.x[-alpine] (Docker Hub / public.ecr.aws/docker/library)",
         "/usr/bin/redis-server (apt redis-server) via images/redis-entrypoint.sh; CMD [redis-server]"),
        ("apache/airflow:V[-pythonX.Y], slim-V, latest",
         f"venv {airflow_venv('V')} (scripts/lib/install-airflow-image.sh V), /entrypoint = "
         "images/airflow-entrypoint.sh, /usr/bin/dumb-init (apt dumb-init)"),
        ("registry.k8s.io/git-sync/git-sync:v4.x", "images/git-sync.py over the host's git, at /git-sync"),
    ]
