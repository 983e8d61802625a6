#!/usr/bin/env python3
"""registry.k8s.io/git-sync/git-sync:v4 for the local AWS: images.py bind-mounts this file at /git-sync (the
image's ENTRYPOINT) and it drives the host's git the way git-sync v4 does.

Configuration: the flags or the environment, new names first, then the older GIT_SYNC_* ones:
  --repo GITSYNC_REPO (GIT_SYNC_REPO)        --ref GITSYNC_REF (default HEAD; GIT_SYNC_BRANCH/GIT_SYNC_REV)
  --root GITSYNC_ROOT (GIT_SYNC_ROOT)        --link GITSYNC_LINK (GIT_SYNC_LINK, GIT_SYNC_DEST; default: repo leaf)
  --period GITSYNC_PERIOD (10s; GIT_SYNC_PERIOD, GIT_SYNC_WAIT seconds)   --depth GITSYNC_DEPTH (1)
  --one-time GITSYNC_ONE_TIME   --max-failures GITSYNC_MAX_FAILURES (0: exit on the first failure; -1 never;
  GIT_SYNC_MAX_SYNC_FAILURES)   --username/GITSYNC_USERNAME  GITSYNC_PASSWORD  --password-file
  --sync-timeout GITSYNC_SYNC_TIMEOUT (120s; GIT_SYNC_TIMEOUT seconds)  --submodules (recursive|shallow|off)
  --git-gc (always|auto|aggressive|off)  --touch-file  --error-file  --stale-worktree-timeout  -v/--verbose
On disk, as git-sync v4: ROOT is a git repository (ROOT/.git, branch "git-sync", remote "origin"), each
synced commit is a worktree ROOT/.worktrees/<sha> (its .git file points back relatively), and LINK is a
relative symlink (".worktrees/<sha>") replaced atomically (tmp-link + rename) when the ref moves; older
worktrees are removed after the swap.  Log lines are git-sync's JSON (logr/funcr) on stderr.
Not implemented: webhooks, exechooks, the HTTP endpoint, SSH keys, askpass URL, GitHub apps, sparse checkout.
"""
import atexit
import datetime
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

VERSION = "v4.4.2-local"


# --- logging (git-sync's funcr JSON) --------------------------------------------------------------------

class Log:
    def __init__(self, verbosity, error_file=None):
        self.v = verbosity
        self.error_file = error_file

    def _emit(self, level, msg, err, kv):
        line = inspect.currentframe().f_back.f_back.f_lineno
        rec = {"logger": "", "ts": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f"),
               "caller": {"file": "git-sync.py", "line": line}}
        if err is None:
            rec["level"] = level
        rec["msg"] = msg
        if err is not None:
            rec["error"] = str(err)
        for i in range(0, len(kv) - 1, 2):
            rec[kv[i]] = kv[i + 1]
        print(json.dumps(rec, separators=(",", ":")), file=sys.stderr, flush=True)

    def info(self, level, msg, *kv):
        if level <= self.v:
            self._emit(level, msg, None, kv)

    def error(self, err, msg, *kv):
        self._emit(0, msg, err if err is not None else "", kv)
        if self.error_file:
            try:
                os.makedirs(os.path.dirname(self.error_file), exist_ok=True)
                tmp = self.error_file + ".tmp"
                with open(tmp, "w") as f:
                    json.dump({"msg": msg, "error": str(err) if err is not None else "",
                               **{kv[i]: kv[i + 1] for i in range(0, len(kv) - 1, 2)}}, f)
                os.replace(tmp, self.error_file)
            except OSError:
                pass

    def delete_error_file(self):
        if self.error_file:
            try:
                os.unlink(self.error_file)
            except FileNotFoundError:
                pass


# --- configuration -----------------------------------------------------------------------------------------

def env(*names, default=""):
    for n in names:
        v = os.environ.get(n)
        if v is not None and v != "":
            return v
    return default


_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(s):
    """Go's time.ParseDuration, in seconds."""
    s = s.strip()
    if s in ("0", ""):
        return 0.0
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    pos, total = 0, 0.0
    for m in _DUR.finditer(s):
        if m.start() != pos:
            raise ValueError(f'time: invalid duration "{s}"')
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f'time: invalid duration "{s}"')
    return sign * total


def parse_bool(s):
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False", ""):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{s}": invalid syntax')


FLAGS = {  # flag: (kind, env names, default)
    "repo": ("str", ["GITSYNC_REPO", "GIT_SYNC_REPO"], ""),
    "ref": ("str", ["GITSYNC_REF"], "HEAD"),
    "depth": ("int", ["GITSYNC_DEPTH", "GIT_SYNC_DEPTH"], 1),
    "submodules": ("str", ["GITSYNC_SUBMODULES", "GIT_SYNC_SUBMODULES"], "recursive"),
    "root": ("str", ["GITSYNC_ROOT", "GIT_SYNC_ROOT"], ""),
    "link": ("str", ["GITSYNC_LINK", "GIT_SYNC_LINK"], ""),
    "error-file": ("str", ["GITSYNC_ERROR_FILE", "GIT_SYNC_ERROR_FILE"], ""),
    "period": ("dur", ["GITSYNC_PERIOD", "GIT_SYNC_PERIOD"], 10.0),
    "sync-timeout": ("dur", ["GITSYNC_SYNC_TIMEOUT", "GIT_SYNC_SYNC_TIMEOUT"], 120.0),
    "one-time": ("bool", ["GITSYNC_ONE_TIME", "GIT_SYNC_ONE_TIME"], False),
    "max-failures": ("int", ["GITSYNC_MAX_FAILURES", "GIT_SYNC_MAX_FAILURES"], 0),
    "touch-file": ("str", ["GITSYNC_TOUCH_FILE", "GIT_SYNC_TOUCH_FILE"], ""),
    "stale-worktree-timeout": ("dur", ["GITSYNC_STALE_WORKTREE_TIMEOUT"], 0.0),
    "username": ("str", ["GITSYNC_USERNAME", "GIT_SYNC_USERNAME"], ""),
    "password-file": ("str", ["GITSYNC_PASSWORD_FILE", "GIT_SYNC_PASSWORD_FILE"], ""),
    "git": ("str", ["GITSYNC_GIT", "GIT_SYNC_GIT"], "git"),
    "git-gc": ("str", ["GITSYNC_GIT_GC", "GIT_SYNC_GIT_GC"], "always"),
    "verbose": ("int", ["GITSYNC_VERBOSE"], 0),
    "group-write": ("bool", ["GITSYNC_GROUP_WRITE", "GIT_SYNC_GROUP_WRITE"], False),
    # deprecated (v3) names
    "branch": ("str", ["GIT_SYNC_BRANCH"], ""),
    "rev": ("str", ["GIT_SYNC_REV"], ""),
    "dest": ("str", ["GIT_SYNC_DEST"], ""),
    "wait": ("float", ["GIT_SYNC_WAIT"], 0.0),
    "max-sync-failures": ("int", ["GIT_SYNC_MAX_SYNC_FAILURES"], 0),
    "timeout": ("int", ["GIT_SYNC_TIMEOUT"], 0),
    "password": ("str", [], ""),
}
BOOLS = {k for k, v in FLAGS.items() if v[0] == "bool"}
ALIASES = {"v": "verbose"}


def convert(kind, raw, name):
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "dur":
            return duration(raw)
        if kind == "bool":
            return parse_bool(raw)
        return raw
    except ValueError as e:
        fatal_usage(f'invalid argument "{raw}" for "--{name}" flag: {e}')


def fatal_usage(msg):
    print(msg, file=sys.stderr)
    print(f"Usage: git-sync [FLAGS...]\n\nRun with --help for the flags.", file=sys.stderr)
    print(msg, file=sys.stderr)
    sys.exit(1)


def parse_args(argv):
    vals, changed = {}, set()
    for name, (kind, envs, default) in FLAGS.items():
        raw = env(*envs, default=None) if envs else None
        vals[name] = default if raw is None else convert(kind, raw, name)
    if env("GITSYNC_PASSWORD", "GIT_SYNC_PASSWORD"):
        vals["password"] = env("GITSYNC_PASSWORD", "GIT_SYNC_PASSWORD")
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in ("--version",):
            print(VERSION)
            sys.exit(0)
        if a in ("-h", "--help", "-?"):
            print(__doc__)
            sys.exit(0)
        if not a.startswith("-"):
            fatal_usage(f"unknown argument: {a}")
        name, eq, val = a.lstrip("-").partition("=")
        name = ALIASES.get(name, name)
        if name not in FLAGS:
            fatal_usage(f"unknown flag: {a}")
        kind = FLAGS[name][0]
        if not eq:
            if kind == "bool":
                val = "true"
            elif i < len(argv):
                val = argv[i]
                i += 1
            else:
                fatal_usage(f"flag needs an argument: {a}")
        vals[name] = convert(kind, val, name)
        changed.add(name)
    return vals, changed


# --- git --------------------------------------------------------------------------------------------------------

class GitError(Exception):
    pass


class Repo:
    def __init__(self, o, log, root, link):
        self.o, self.log, self.root, self.link = o, log, root, link
        self.git = o["git"]
        self.remote = o["repo"]
        self.ref = o["ref"]
        self.depth = o["depth"]
        self.sync_count = 0
        self.deadline = None

    def run(self, cwd, *args, stdin=None, check=True):
        timeout = None
        if self.deadline is not None:
            timeout = max(0.01, self.deadline - time.monotonic())
        argv = [self.git, *args]
        try:
            p = subprocess.run(argv, cwd=cwd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GitError(f"Run(git {' '.join(args)}): context deadline exceeded") from None
        if check and p.returncode != 0:
            raise GitError(f'Run(git {" ".join(args)}): exit status {p.returncode}: '
                           f'{{ stdout: "{p.stdout.strip()}", stderr: "{p.stderr.strip()}" }}')
        return p.stdout, p.stderr, p.returncode

    def worktree_for(self, sha=""):
        return os.path.join(self.root, ".worktrees", sha) if sha else os.path.join(self.root, ".worktrees")

    def current_worktree(self):
        try:
            target = os.readlink(self.link)
        except FileNotFoundError:
            return ""
        except OSError as e:
            raise GitError(str(e))
        if os.path.isabs(target):
            return target
        return os.path.normpath(os.path.join(os.path.dirname(self.link), target))

    # repository ---------------------------------------------------------------------------------------------
    def sanity_repo(self):
        if not os.listdir(self.root):
            self.log.info(3, "repo directory is empty", "path", self.root)
            return False
        out, _, rc = self.run(self.root, "rev-parse", "--show-toplevel", check=False)
        if rc != 0:
            self.log.error("exit status %d" % rc, "can't get repo toplevel", "path", self.root)
            return False
        if out.strip() != self.root:
            self.log.error(None, "repo directory is under another repo", "path", self.root, "parent", out.strip())
            return False
        _, err, rc = self.run(self.root, "fsck", "--no-progress", "--connectivity-only", check=False)
        if rc != 0:
            self.log.error(err.strip(), "repo fsck failed", "path", self.root)
            return False
        if os.path.exists(os.path.join(self.root, ".git", "shallow.lock")):
            self.log.error(None, "repo contains lock file", "path", os.path.join(self.root, ".git", "shallow.lock"))
            return False
        return True

    def init_repo(self):
        need_init = False
        if not os.path.exists(self.root):
            self.log.info(1, "repo directory does not exist, creating it", "path", self.root)
            os.makedirs(self.root, 0o775, exist_ok=True)
            need_init = True
        elif not self.sanity_repo():
            self.log.info(0, "repo directory was empty or failed checks", "path", self.root)
            for name in os.listdir(self.root):
                remove(os.path.join(self.root, name))
            need_init = True
        if need_init:
            self.log.info(0, "initializing repo directory", "path", self.root)
            self.run(self.root, "init", "-b", "git-sync")
            if not self.sanity_repo():
                raise GitError("can't initialize git repo directory")
        out, err, rc = self.run(self.root, "remote", "get-url", "origin", check=False)
        if rc != 0:
            if "No such remote" not in err:
                raise GitError(err.strip())
            self.run(self.root, "remote", "add", "origin", self.remote)
        elif out.strip() != self.remote:
            self.run(self.root, "remote", "set-url", "origin", self.remote)

    # worktrees ---------------------------------------------------------------------------------------------
    def sanity_worktree(self, wt):
        if not os.path.isdir(wt) or not os.listdir(wt):
            self.log.info(0, "worktree is empty", "path", wt)
            return False
        out, _, rc = self.run(wt, "rev-parse", "HEAD", check=False)
        if rc != 0 or out.strip() != os.path.basename(wt):
            self.log.info(0, "worktree HEAD does not match worktree", "path", wt, "head", out.strip())
            return False
        _, _, rc = self.run(wt, "fsck", "--no-progress", "--connectivity-only", check=False)
        return rc == 0

    def remove_worktree(self, wt):
        if not os.path.lexists(wt):
            return
        self.log.info(1, "removing worktree", "path", wt)
        remove(wt)
        self.run(self.root, "worktree", "prune", "--verbose")

    def create_worktree(self, sha):
        wt = self.worktree_for(sha)
        self.remove_worktree(wt)
        self.log.info(1, "adding worktree", "path", wt, "hash", sha)
        self.run(self.root, "worktree", "add", "--force", "--detach", wt, sha, "--no-checkout")
        return wt

    def configure_worktree(self, wt):
        sha = os.path.basename(wt)
        rel = os.path.relpath(self.root, wt)
        with open(os.path.join(wt, ".git"), "w") as f:
            f.write("gitdir: " + os.path.join(rel, ".git", "worktrees", sha) + "\n")
        self.log.info(1, "setting worktree HEAD", "hash", sha)
        self.run(wt, "reset", "--hard", sha, "--")
        mode = self.o["submodules"]
        if mode != "off":
            self.log.info(1, "updating submodules")
            args = ["submodule", "update", "--init"]
            if mode == "recursive":
                args.append("--recursive")
            if self.depth:
                args += ["--depth", str(self.depth)]
            self.run(wt, *args)

    def publish(self, wt):
        link_dir, link_file = os.path.split(self.link)
        os.makedirs(link_dir, 0o775, exist_ok=True)
        target = os.path.relpath(wt, link_dir)
        tmp = os.path.join(link_dir, "tmp-link")
        self.log.info(2, "creating tmp symlink", "dir", link_dir, "link", "tmp-link", "target", target)
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        self.log.info(2, "renaming symlink", "root", link_dir, "oldName", "tmp-link", "newName", link_file)
        os.rename(tmp, self.link)

    def fetch(self):
        self.log.info(2, "fetching", "ref", self.ref, "repo", redact(self.remote))
        args = ["fetch", self.remote, self.ref, "--verbose", "--no-progress", "--prune", "--no-auto-gc"]
        if self.depth > 0:
            args += ["--depth", str(self.depth)]
        elif os.path.exists(os.path.join(self.root, ".git", "shallow")):
            args.append("--unshallow")
        self.run(self.root, *args)

    def sync(self):
        """-> (changed, sha)"""
        self.log.info(3, "syncing", "repo", redact(self.remote))
        self.init_repo()
        cur = self.current_worktree()
        cur_hash = os.path.basename(cur) if cur else ""
        self.log.info(3, "current state", "hash", cur_hash, "worktree", cur)
        self.fetch()
        out, _, _ = self.run(self.root, "rev-parse", "FETCH_HEAD^{}")
        remote_hash = out.strip()
        if cur_hash == remote_hash:
            self.log.info(3, "current hash is same as remote", "hash", cur_hash)
            if not self.sanity_worktree(cur):
                self.log.info(0, "worktree failed checks or was empty", "path", cur)
                self.remove_worktree(cur)
                cur_hash = ""
        changed = cur_hash != remote_hash or cur != self.worktree_for(cur_hash)
        if changed or self.sync_count == 0:
            self.log.info(0, "update required", "ref", self.ref, "local", cur_hash, "remote", remote_hash,
                          "syncCount", self.sync_count)
            self.run(self.root, "reset", "--soft", remote_hash)
            new = self.create_worktree(remote_hash) if changed else cur
            self.configure_worktree(new)
            if changed:
                self.publish(new)
                if cur and os.path.exists(cur):
                    os.utime(cur)
            self.sync_count += 1
            self.log.info(0, "updated successfully", "ref", self.ref, "remote", remote_hash,
                          "syncCount", self.sync_count)
            if cur_hash and cur != self.worktree_for(cur_hash):
                remove(cur)
        else:
            self.log.info(2, "update not required", "ref", self.ref, "remote", remote_hash,
                          "syncCount", self.sync_count)
        return changed, remote_hash

    def cleanup(self):
        cur = self.current_worktree()
        base = self.worktree_for()
        n = 0
        if os.path.isdir(base):
            stale = self.o["stale-worktree-timeout"]
            for name in os.listdir(base):
                p = os.path.join(base, name)
                if p != cur and time.time() - os.stat(p).st_mtime > stale:
                    self.log.info(4, "removing path recursively", "path", p, "isDir", os.path.isdir(p))
                    remove(p)
                    n += 1
        if n == 0:
            return
        self.run(self.root, "worktree", "prune", "--verbose")
        self.run(self.root, "reflog", "expire", "--expire-unreachable=all", "--all")
        gc = self.o["git-gc"]
        if gc != "off":
            self.run(self.root, "gc", *({"auto": ["--auto"], "aggressive": ["--aggressive"]}.get(gc, [])))


def remove(p):
    if os.path.islink(p) or not os.path.isdir(p):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
        return
    import shutil
    shutil.rmtree(p, ignore_errors=True)


def redact(url):
    return re.sub(r"^([a-z+]+://[^:/@]+):[^@/]*@", r"\1:REDACTED@", url)


def setup_git(repo, o, log):
    """A private global gitconfig (GIT_CONFIG_GLOBAL), git-sync's defaults and the credentials."""
    fd, cfg = tempfile.mkstemp(prefix="git-sync.gitconfig.")
    os.close(fd)
    os.environ["GIT_CONFIG_GLOBAL"] = cfg
    os.environ["GIT_CONFIG_NOSYSTEM"] = "true"
    os.environ["GIT_TERMINAL_PROMPT"] = "0"
    log.info(2, "created private gitconfig file", "path", cfg)
    host = socket.gethostname()
    store = cfg + ".credentials"
    defaults = [("user.name", "git-sync"), ("user.email", f"git-sync@{host}"), ("gc.autoDetach", "false"),
                ("gc.pruneExpire", "now"), ("safe.directory", "*"),
                ("credential.helper", f"store --file={store}")]
    for k, v in defaults:
        repo.run(None, "config", "--global", k, v)
    if o["username"]:
        password = o["password"]
        if o["password-file"]:
            with open(o["password-file"]) as f:
                password = f.read()
        m = re.match(r"^(https?)://([^/]+)(/.*)?$", o["repo"])
        if m:
            data = f"protocol={m.group(1)}\nhost={m.group(2)}\npath={(m.group(3) or '/').lstrip('/')}\n" \
                   f"username={o['username']}\npassword={password}\n\n"
            repo.run(None, "config", "--global", "credential.useHttpPath", "true")
            repo.run(None, "credential", "approve", stdin=data)
    return cfg


def main(argv):
    o, changed_flags = parse_args(argv)
    if not o["root"]:
        fatal_usage("required flag: --root must be specified")
    root = os.path.abspath(o["root"])
    err_file = o["error-file"]
    log = Log(o["verbose"], (err_file if os.path.isabs(err_file) else os.path.join(root, err_file)) if err_file else None)

    def fatal(msg):
        print(msg, file=sys.stderr)
        log.error(msg, msg)
        sys.exit(1)

    if not o["repo"]:
        fatal("required flag: --repo must be specified")
    if o["branch"] and o["rev"] in ("", "HEAD"):
        log.info(0, "setting --ref from deprecated --branch")
        o["ref"] = o["branch"]
    elif o["rev"] and not o["branch"]:
        log.info(0, "setting --ref from deprecated --rev")
        o["ref"] = o["rev"]
    elif o["branch"] and o["rev"]:
        fatal("deprecated flag combo: can't set --ref from deprecated --branch and --rev (one or the other is OK)")
    if not o["ref"]:
        fatal("required flag: --ref must be specified")
    if o["depth"] < 0:
        fatal("invalid flag: --depth must be greater than or equal to 0")
    if o["submodules"] not in ("recursive", "shallow", "off"):
        fatal('invalid flag: --submodules must be one of "recursive", "shallow", or "off"')
    if o["git-gc"] not in ("auto", "always", "aggressive", "off"):
        fatal('invalid flag: --git-gc must be one of "auto", "always", "aggressive", or "off"')
    if o["dest"]:
        log.info(0, "setting --link from deprecated --dest")
        o["link"] = o["dest"]
    if not o["link"]:
        o["link"] = o["repo"].strip("/").split("/")[-1]
    if o["wait"]:
        log.info(0, "setting --period from deprecated --wait")
        o["period"] = o["wait"]
    if o["period"] < 0.01:
        fatal("invalid flag: --period must be at least 10ms")
    if o["timeout"]:
        log.info(0, "setting --sync-timeout from deprecated --timeout")
        o["sync-timeout"] = float(o["timeout"])
    if o["sync-timeout"] < 0.01:
        fatal("invalid flag: --sync-timeout must be at least 10ms")
    if o["max-sync-failures"]:
        log.info(0, "setting --max-failures from deprecated --max-sync-failures")
        o["max-failures"] = o["max-sync-failures"]
    if o["username"]:
        if not o["password"] and not o["password-file"]:
            fatal("required flag: $GITSYNC_PASSWORD or --password-file must be specified when --username is specified")
        if o["password"] and o["password-file"]:
            fatal("invalid flag: only one of $GITSYNC_PASSWORD and --password-file may be specified")
        if re.match(r"^[a-z+]+://[^/]*@", o["repo"]):
            fatal("invalid flag: credentials may not be specified in --repo when --username is specified")
    else:
        if o["password"]:
            fatal("invalid flag: $GITSYNC_PASSWORD may only be specified when --username is specified")
        if o["password-file"]:
            fatal("invalid flag: --password-file may only be specified when --username is specified")
        m = re.match(r"^(https?://)([^:/@]+)(?::([^@/]*))?@(.*)$", o["repo"])
        if m:  # user[:password]@ in an http(s) URL becomes the credentials
            o["username"], o["password"], o["repo"] = m.group(2), m.group(3) or "", m.group(1) + m.group(4)

    flags = sorted(f"--{k}={'REDACTED' if k == 'password' else (redact(str(o[k])) if k == 'repo' else o[k])}"
                   for k in changed_flags)
    log.info(0, "starting up", "version", VERSION, "pid", os.getpid(), "uid", os.getuid(), "gid", os.getgid(),
             "home", os.environ.get("HOME", ""), "flags", flags)
    os.umask(0o002 if o["group-write"] else 0o022)
    try:
        os.makedirs(root, 0o775, exist_ok=True)
    except OSError as e:
        log.error(e, "FATAL: can't make root dir", "path", root)
        sys.exit(1)
    real = os.path.realpath(root)
    if real != o["root"]:
        log.info(0, "normalized root path", "root", o["root"], "result", real)
    root = real
    link = o["link"] if os.path.isabs(o["link"]) else os.path.join(root, o["link"])
    touch_file = o["touch-file"] and (o["touch-file"] if os.path.isabs(o["touch-file"])
                                      else os.path.join(root, o["touch-file"]))
    repo = Repo(o, log, root, link)
    try:
        ver, _, _ = repo.run(None, "version")
    except (OSError, GitError) as e:
        log.error(e, "FATAL: git executable not found", "git", o["git"])
        sys.exit(1)
    log.info(0, "git version", "version", ver.strip())
    try:
        cfg = setup_git(repo, o, log)
    except (OSError, GitError) as e:
        log.error(e, "can't set default git configs")
        sys.exit(1)

    def forget():
        for p in (cfg, cfg + ".credentials"):
            try:
                os.unlink(p)
            except OSError:
                pass
    atexit.register(forget)   # the private gitconfig and the stored credentials

    def on_term(signum, frame):
        sys.exit(0 if signum == signal.SIGINT else 143)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    fail_count = 0
    sync_count = 0
    while True:
        repo.deadline = time.monotonic() + o["sync-timeout"]
        try:
            changed, sha = repo.sync()
        except (GitError, OSError) as e:
            fail_count += 1
            if o["max-failures"] >= 0 and fail_count >= o["max-failures"]:
                log.error(e, "too many failures, aborting", "failCount", fail_count)
                sys.exit(1)
            log.error(e, "error syncing repo, will retry", "failCount", fail_count)
        else:
            if (changed or sync_count == 0) and touch_file:
                try:
                    os.makedirs(os.path.dirname(touch_file), exist_ok=True)
                    with open(touch_file, "a"):
                        pass
                    os.utime(touch_file)
                    log.info(3, "touched touch-file", "path", touch_file)
                except OSError as e:
                    log.error(e, "failed to touch touch-file", "path", touch_file)
            sync_count += 1
            try:
                repo.cleanup()
            except (GitError, OSError) as e:
                log.error(e, "git cleanup failed")
            if o["one-time"]:
                log.delete_error_file()
                log.info(0, "exiting after one sync", "status", 0)
                sys.exit(0)
            if sha == o["ref"]:
                log.info(0, "ref appears to be a git hash, no further sync needed", "ref", o["ref"])
                log.delete_error_file()
                while True:
                    signal.pause()
            if fail_count > 0:
                log.info(4, "resetting failure count", "failCount", fail_count)
                fail_count = 0
            log.delete_error_file()
        repo.deadline = None
        log.info(3, "next sync", "waitTime", f"{o['period']:g}s", "syncCount", sync_count)
        time.sleep(o["period"])


if __name__ == "__main__":
    main(sys.argv[1:])
