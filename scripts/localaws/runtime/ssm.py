"""The bastion: every running EC2 instance boots a small "OS" (a mount namespace with the shared hosts file,
`mount.efs`, `ec2-user` and sudo) with an OpenSSH sshd on its address, and an SSM agent that registers when
the instance profile's role allows it. Run Command (AWS-RunShellScript) really runs the script as root in
bash inside that namespace, with its real output and exit code. See DESIGN.md, section "Bastion".

- DescribeInstanceInformation: Online for a running instance whose profile role allows
  ssm:UpdateInstanceInformation (AmazonSSMManagedInstanceCore); ConnectionLost once registered and then
  stopped (or its role lost the permission); terminated instances are not listed.
- SendCommand / GetCommandInvocation / ListCommandInvocations / ListCommands / CancelCommand as SSM:
  Pending -> InProgress -> Success | Failed | TimedOut (ExecutionTimedOut, 137) | Cancelled, output capped
  at 24,000 characters (2,500 in ListCommandInvocations' plugin Output), "failed to run commands: exit
  status N" appended to stderr as the agent does. Each invocation runs in its own cgroup, killed on
  timeout, cancel, instance stop and shutdown.
- `mount -t efs` / `mount.efs fs-x:/path DIR -o tls,accesspoint=fsap-y[,ro]` bind-mounts the file system's
  directory (efs.host_path, same rules and errors as an ECS task's EFS volume). mount.efs exists only when the
  user data installs amazon-efs-utils (dnf/yum install line), laid over /sbin by an overlay in the namespace.
- The instance role's credentials reach its processes through creds.py's endpoint (instead of IMDS), with
  AWS_ENDPOINT_URL and the region; the aws CLI is on the agent's PATH.
- sshd on the loopback twin of the private IP, port 22 (and the reported public address, the same twin):
  accepts the launch key pair (KeyName) and EC2 Instance Connect keys (SendSSHPublicKey, 60 s) for
  ec2-user; host keys made once per instance, printed in GetConsoleOutput as cloud-init does.
"""
import base64
import datetime
import fnmatch
import json
import os
import pwd
import re
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid

from . import core, net

PLUGIN = "aws:runShellScript"
DOCUMENT = "AWS-RunShellScript"
OUTPUT_LIMIT = 24000
PLUGIN_OUTPUT_LIMIT = 2500
AGENT_VERSION = "3.3.1142.0"
STOPPED_PREEMPTIVELY = 137        # the agent's CommandStoppedPreemptivelyExitCode on Linux
OS_USER = "ec2-user"
EIC_TTL = 60
AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(core.HERE)))
EIC_KEYS = os.path.join(REPO, "scripts", "lib", "bastion-eic-keys.sh")

_agents = {}          # instance id -> Agent
_invocations = {}     # (command id, instance id) -> Invocation
_commands = {}        # command id -> moto Command (ours)
_state_lock = threading.Lock()   # guards _agents/_invocations (never held with core.LOCK taken after it)
_wake = threading.Event()
_server = None


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z" if t else ""


def _error(code, message):
    from moto.core.exceptions import JsonRESTError
    return JsonRESTError(code, message)


# ---------------------------------------------------------------------------------------------- moto side

def _all_instances():
    """(account, region, instance) for every instance moto knows. Caller holds core.LOCK."""
    from moto.ec2.models import ec2_backends
    for account, regions in list(ec2_backends.items()):
        for region, be in list(regions.items()):
            for reservation in list(be.reservations.values()):
                for inst in reservation.instances:
                    yield account, region, be, inst


def _statement_allows(doc, action):
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            return False
    stmts = doc.get("Statement", []) if isinstance(doc, dict) else []
    if isinstance(stmts, dict):
        stmts = [stmts]
    for s in stmts:
        if s.get("Effect") != "Allow":
            continue
        acts = s.get("Action", [])
        acts = [acts] if isinstance(acts, str) else acts
        if any(fnmatch.fnmatch(action.lower(), a.lower()) for a in acts):
            return True
    return False


def _trusts_ec2(role):
    doc = getattr(role, "assume_role_policy_document", None)
    try:
        doc = json.loads(doc) if isinstance(doc, str) else (doc or {})
    except ValueError:
        return True
    stmts = doc.get("Statement", [])
    stmts = [stmts] if isinstance(stmts, dict) else stmts
    for s in stmts:
        svc = (s.get("Principal") or {}).get("Service", []) if isinstance(s.get("Principal"), dict) else []
        svc = [svc] if isinstance(svc, str) else svc
        if s.get("Effect") == "Allow" and "ec2.amazonaws.com" in svc:
            return True
    return False


def _role_allows_ssm(role):
    if not _trusts_ec2(role):
        return False
    for arn, pol in dict(getattr(role, "managed_policies", {}) or {}).items():
        if arn.rsplit("/", 1)[-1] in ("AmazonSSMManagedInstanceCore", "AmazonEC2RoleforSSM", "AmazonSSMFullAccess"):
            return True
        doc = getattr(pol, "document", None)
        if doc is None and getattr(pol, "default_version", None) is not None:
            doc = pol.default_version.document
        if doc and _statement_allows(doc, "ssm:UpdateInstanceInformation"):
            return True
    for arn in getattr(role, "cfn_managed_policy_arns", []) or []:
        if arn.rsplit("/", 1)[-1] in ("AmazonSSMManagedInstanceCore", "AmazonEC2RoleforSSM", "AmazonSSMFullAccess"):
            return True
    for doc in dict(getattr(role, "policies", {}) or {}).values():
        if _statement_allows(doc, "ssm:UpdateInstanceInformation"):
            return True
    return False


def _profile_of(be, inst):
    assoc = getattr(be, "iam_instance_profile_associations", {}).get(inst.id)
    if assoc is not None:
        return assoc.iam_instance_profile
    prof = getattr(inst, "iam_instance_profile", None)
    return prof if prof is not None and hasattr(prof, "roles") else None


def _snapshot(account, region, be, inst):
    prof = _profile_of(be, inst)
    roles = list(getattr(prof, "roles", []) or []) if prof is not None else []
    key = None
    if getattr(inst, "key_name", None):
        kp = getattr(be, "key_pairs", {}).get(inst.key_name)
        key = kp.public_key.strip() if kp is not None else None
    return {
        "account": account, "region": region, "id": inst.id, "state": inst.state,
        "private_ip": inst.private_ip, "public_ip": inst.public_ip, "key": key,
        "ssm_ok": any(_role_allows_ssm(r) for r in roles),
        "iam_role": roles[0].name if roles else None,
        "role_arn": roles[0].arn if roles else None,
        "user_data": _user_data_text(getattr(inst, "user_data", None)),
        "tags": {t["key"]: t["value"] for t in inst.get_tags()} if hasattr(inst, "get_tags") else {},
        "hostname": net.hostname_of(inst.private_ip, region) if inst.private_ip else inst.id,
    }


def _user_data_text(ud):
    if isinstance(ud, (list, tuple)):
        ud = ud[0] if ud else None
    if ud is None:
        return ""
    raw = ud if isinstance(ud, bytes) else str(ud).encode()
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", errors="replace")
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _packages(user_data):
    """Packages the user data installs (dnf/yum install lines): what the instance's OS then has."""
    out = []
    for line in user_data.splitlines():
        m = re.search(r"\b(?:dnf|yum)\s+(?:-\S+\s+)*install\s+(.*)", line)
        if m:
            out += [w for w in m.group(1).split() if not w.startswith("-")]
    return out


def _fix_public_ip(inst):
    """The public address moto made up (random, not dialable) becomes the private IP's loopback twin."""
    try:
        nic = inst.nics[0]
    except (KeyError, IndexError, AttributeError):
        return
    if not nic.private_ip_address:
        return
    twin = net.loopback_of(nic.private_ip_address)
    if nic.public_ip and nic.public_ip != twin:
        nic.public_ip = twin
    elif not nic.public_ip and os.environ.get("LOCAL_AWS_BASTION_PUBLIC_ADDRESS") == "1":
        nic.public_ip = twin      # opt-in: every instance "has" a public address (real AWS: only if asked)


# ---------------------------------------------------------------------------------------------- the OS

_HOLDER = r'''set -e
mount --bind "$1" /etc/hosts
if [ -n "$2" ]; then mount -t overlay overlay -o "lowerdir=$2:$9" "$9"; fi
mount --bind "$3" /etc/passwd
mount --bind "$4" /etc/group
mount --bind "$5" /etc/shadow
mount --bind "$6" /home
if [ -d /etc/sudoers.d ]; then mount --bind "$7" /etc/sudoers.d; fi
hostname "$8"
echo ready
exec sleep infinity
'''

_SHIM = r'''#!__PYTHON__ -I
"""mount.efs of the local AWS (runtime/ssm.py): mounts an EFS file system's directory, as amazon-efs-utils would."""
import json, os, socket, subprocess, sys
SOCK, INSTANCE = __SOCK__, __INSTANCE__
def die(msg, code):
    print(msg, file=sys.stderr)
    sys.exit(code)
args, opts, pos, i = sys.argv[1:], [], [], 0
while i < len(args):
    a = args[i]
    if a in ("--version",):
        print("mount.efs (fairflow local AWS) 2.1.0"); sys.exit(0)
    if a in ("-h", "--help"):
        die("Usage: mount.efs [--version] [-h|--help] <fsname> <mountpoint> [-o <options>]", 0)
    if a == "-o" and i + 1 < len(args):
        opts += args[i + 1].split(","); i += 2; continue
    if a.startswith("-o") and len(a) > 2:
        opts += a[2:].split(","); i += 1; continue
    if a in ("-t", "-N") and i + 1 < len(args):
        i += 2; continue
    if a.startswith("-"):
        i += 1; continue
    pos.append(a); i += 1
if os.geteuid() != 0:
    die("only root can run mount.efs", 1)
if len(pos) != 2:
    die("Usage: mount.efs [--version] [-h|--help] <fsname> <mountpoint> [-o <options>]", 1)
spec, target = pos
fs, _, sub = spec.partition(":")
fs = fs.split(".")[0]
o = {}
for x in opts:
    k, _, v = x.partition("=")
    if k:
        o[k] = v
if "accesspoint" in o and "tls" not in o:
    die('The "tls" option is required when mounting via "accesspoint"', 1)
if "iam" in o and "tls" not in o:
    die('The "tls" option is required when mounting via "iam"', 1)
if not os.path.isdir(target):
    die(f"mount.nfs4: mount point {target} does not exist", 32)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(SOCK)
    s.sendall(json.dumps({"instance": INSTANCE, "fs": fs, "path": sub or "/", "ap": o.get("accesspoint")}).encode() + b"\n")
    answer = json.loads(s.makefile().readline() or "{}")
except OSError as e:
    die(f"Failed to resolve \"{fs}.efs.amazonaws.com\": {e}", 1)
if "error" in answer:
    die(answer["error"], answer.get("code", 1))
r = subprocess.run(["mount", "--bind", answer["path"], target])
if r.returncode == 0 and "ro" in o:
    r = subprocess.run(["mount", "-o", "remount,bind,ro", target])
sys.exit(32 if r.returncode else 0)
'''


class _NoSSH(Exception):
    pass


_PROVIDES = {"amazon-efs-utils": "mount.efs (the local AWS's: bind-mounts the file system's directory)",
             "mariadb105": "the host's MariaDB client (mysql, mariadb)"}


def _bin_dir():
    """Tools Amazon Linux 2023 has in /usr/bin that the host has elsewhere: the aws CLI."""
    d = os.path.dirname(core.path("ssm", "bin", "x"))
    aws = os.path.join(d, "aws")
    if not os.path.lexists(aws):
        real = os.path.join(os.path.dirname(sys.executable), "aws")
        real = real if os.path.exists(real) else shutil.which("aws")
        if real:
            os.symlink(real, aws)
    return d


class Agent:
    """One instance's OS (namespace holder, sshd) and its SSM agent."""

    def __init__(self, info):
        self.id = info["id"]
        self.account, self.region = info["account"], info["region"]
        self.info = info
        self.dir = os.path.dirname(core.path("ec2", self.id, "x"))
        os.makedirs(self.dir, exist_ok=True)
        self.state = "down"          # down | booting | up
        self.registered = False
        self.registered_at = None
        self.last_ping = None
        self.holder = None
        self.sshd = None
        self.cg = None
        self.console = ""
        self.busy = threading.Lock()
        self.boot_error = None
        self.env = {}
        self.packages = []

    @property
    def online(self):
        return self.state == "up" and self.info["state"] == "running" and self.info["ssm_ok"]

    def ping_status(self):
        if self.online:
            return "Online"
        return "ConnectionLost" if self.registered else None

    # ---- files made once per instance (they live on its "root volume": kept across stop/start)
    def _prepare(self):
        d = self.dir
        keys = os.path.join(d, "etc-ssh")
        os.makedirs(keys, exist_ok=True)
        for t in ("ecdsa", "ed25519", "rsa") if shutil.which("ssh-keygen") else ():
            f = os.path.join(keys, f"ssh_host_{t}_key")
            if not os.path.exists(f):
                subprocess.run(["ssh-keygen", "-q", "-t", t, "-N", "", "-f", f, "-C", f"root@{self.info['hostname']}"],
                               check=True, stdin=subprocess.DEVNULL, capture_output=True)
        uid = 1000
        used = {p.pw_uid for p in pwd.getpwall()}
        while uid in used:
            uid += 1
        home = os.path.join(d, "home")
        os.makedirs(os.path.join(home, OS_USER, ".ssh"), exist_ok=True)
        os.chown(os.path.join(home, OS_USER), uid, uid)
        with open("/etc/passwd") as f:
            passwd = [x for x in f.read().splitlines() if not x.startswith(OS_USER + ":")]
        passwd.append(f"{OS_USER}:x:{uid}:{uid}:EC2 Default User:/home/{OS_USER}:/bin/bash")
        with open("/etc/group") as f:
            group = [x for x in f.read().splitlines() if not x.startswith(OS_USER + ":")]
        group.append(f"{OS_USER}:x:{uid}:")
        try:
            with open("/etc/shadow") as f:
                shadow = [x for x in f.read().splitlines() if not x.startswith(OS_USER + ":")]
        except OSError:
            shadow = []
        shadow.append(f"{OS_USER}:*:19000:0:99999:7:::")
        for name, lines, mode in (("passwd", passwd, 0o644), ("group", group, 0o644), ("shadow", shadow, 0o640)):
            p = os.path.join(d, name)
            with open(p, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.chmod(p, mode)
        sudoers = os.path.join(d, "sudoers.d")
        os.makedirs(sudoers, exist_ok=True)
        os.chmod(sudoers, 0o750)
        p = os.path.join(sudoers, "90-cloud-init-users")
        with open(p, "w") as f:
            f.write(f"# Created by cloud-init\n{OS_USER} ALL=(ALL) NOPASSWD:ALL\n")
        os.chmod(p, 0o440)
        # The launch key pair, where cloud-init puts it (sshd reads it as the user: inside its home).
        ak = os.path.join(home, OS_USER, ".ssh", "authorized_keys")
        with open(ak, "w") as f:
            f.write((self.info["key"] + "\n") if self.info["key"] else "")
        # Amazon Linux's ec2-user has the sbin directories on PATH (mount.efs is in /usr/sbin)
        for rc in (".bashrc", ".bash_profile"):
            with open(os.path.join(home, OS_USER, rc), "w") as f:
                f.write("# .bashrc (Amazon Linux 2023 default, shortened)\n"
                        "[ -f /etc/bashrc ] && . /etc/bashrc\n"
                        'case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/local/sbin:/usr/sbin";; esac\n'
                        f"PATH=\"$PATH:{_bin_dir()}\"\nexport PATH\n"
                        "# the instance role (IMDS on EC2) and the local AWS\n"
                        + "".join(f"export {k}='{v}'\n" for k, v in sorted(self.env.items())))
        for p in (ak, os.path.dirname(ak), *(os.path.join(home, OS_USER, rc) for rc in (".bashrc", ".bash_profile"))):
            os.chown(p, uid, uid)
        os.chmod(ak, 0o600)
        os.makedirs(os.path.join(d, "eic"), exist_ok=True)
        os.makedirs(os.path.join(d, "efs-utils"), exist_ok=True)
        shim = os.path.join(d, "efs-utils", "mount.efs")   # laid over /sbin (an overlay in the namespace only)
        with open(shim, "w") as f:
            f.write(_SHIM.replace("__PYTHON__", sys.executable).replace("__SOCK__", repr(_server.path))
                    .replace("__INSTANCE__", repr(self.id)))
        os.chmod(shim, 0o755)
        listen = net.loopback_of(self.info["private_ip"])
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write("\n".join([
                f"ListenAddress {listen}:22",
                *(f"HostKey {keys}/ssh_host_{t}_key" for t in ("ecdsa", "ed25519", "rsa")),
                f"PidFile {d}/sshd.pid",
                "AuthorizedKeysFile .ssh/authorized_keys",
                f"AuthorizedKeysCommand {EIC_KEYS} %u {d}/eic",
                "AuthorizedKeysCommandUser root",
                "StrictModes no", "PermitRootLogin no", "PubkeyAuthentication yes",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
                "AllowTcpForwarding yes", "PermitOpen any", "X11Forwarding no",
                "MaxStartups 100", "MaxSessions 100", "LogLevel VERBOSE",
                "Subsystem sftp /usr/lib/openssh/sftp-server", ""]))
        return listen

    def boot(self):
        """Starts the namespace holder and sshd; the agent registers once both are up."""
        with self.busy:
            if self.state != "down" or core.shutting_down():
                return
            self.state = "booting"
            try:
                self.env = self._environment()
                listen = self._prepare()
                self.packages = _packages(self.info["user_data"])
                efs_utils = "amazon-efs-utils" in self.packages
                self.cg = core.new_cgroup(f"ec2-{self.id}/os")
                d = self.dir
                log = open(os.path.join(d, "os.log"), "ab")
                self.holder = core.spawn(
                    ["unshare", "-m", "-u", "--propagation", "private", "bash", "-c", _HOLDER, "ec2-os",
                     net.HOSTS.hosts_path(), os.path.join(d, "efs-utils") if efs_utils else "",
                     os.path.join(d, "passwd"),
                     os.path.join(d, "group"), os.path.join(d, "shadow"), os.path.join(d, "home"),
                     os.path.join(d, "sudoers.d"), self.info["hostname"], os.path.realpath("/sbin")],
                    self.cg, stdout=subprocess.PIPE, stderr=log)
                log.close()
                ready, _, _ = select.select([self.holder.stdout], [], [], 10)
                if not ready or self.holder.stdout.readline().strip() != b"ready":
                    raise RuntimeError(f"the instance's namespace did not come up: {self._tail('os.log')}")
                if not (os.path.exists("/usr/sbin/sshd") and shutil.which("ssh-keygen")):
                    raise _NoSSH("OpenSSH is not installed (scripts/lib/install-ssm-bastion.sh): no sshd")
                os.makedirs("/run/sshd", exist_ok=True)
                self.sshd = core.spawn(["nsenter", "-t", str(self.holder.pid), "-m", "-u", "--",
                                        "/usr/sbin/sshd", "-D", "-f", os.path.join(d, "sshd_config"),
                                        "-E", os.path.join(d, "sshd.log")], self.cg)
                deadline = time.time() + 10
                while time.time() < deadline:
                    if self.sshd.poll() is not None:
                        core.log(f"ssm: sshd of {self.id} exited ({self.sshd.returncode}): {self._tail('sshd.log')}")
                        break
                    try:
                        socket.create_connection((listen, 22), timeout=0.5).close()
                        break
                    except OSError:
                        time.sleep(0.05)
            except _NoSSH as e:
                core.log(f"ssm: instance {self.id}: {e}")
            except Exception as e:  # noqa: BLE001 - reported, instance stays without agent
                self.boot_error = str(e)
                core.log(f"ssm: instance {self.id} did not boot: {e}")
                self._kill()
                self.state = "down"
                return
            try:
                self.console = self._console_text()
                self.state = "up"
                if self.info["ssm_ok"]:
                    self._register()
                core.log(f"ssm: instance {self.id} up (sshd {listen}:22, agent "
                         f"{'Online' if self.online else 'not registered: no SSM permission in its role'})")
            except Exception as e:  # noqa: BLE001 - reported, instance stays without agent
                self.boot_error = str(e)
                core.log(f"ssm: instance {self.id} did not boot: {e}")
                self._kill()
                self.state = "down"

    def _environment(self):
        """What the instance's processes get instead of IMDS: the instance role's credentials (the ECS
        credentials endpoint of creds.py, session name = instance id as EC2 names it), the local AWS's
        endpoint and the region; PATH as the agent's, plus the aws CLI."""
        env = {"AWS_ENDPOINT_URL": core.endpoint() or "", "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.info.get("role_arn"):
            from . import creds
            creds.unregister(f"ec2-instance/{self.id}")
            env.update(creds.register(f"ec2-instance/{self.id}", self.info["role_arn"], self.account, self.region,
                                      self.id))
        return env

    def _register(self):
        if not self.registered:
            self.registered = True
            self.registered_at = _now()
        self.last_ping = _now()

    def _tail(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()[-500:]
        except OSError:
            return ""

    def _console_text(self):
        keys = os.path.join(self.dir, "etc-ssh")
        fps, pubs = [], []
        for t in ("ecdsa", "ed25519", "rsa"):
            pub = os.path.join(keys, f"ssh_host_{t}_key.pub")
            if not os.path.exists(pub):
                continue
            r = subprocess.run(["ssh-keygen", "-l", "-f", pub], capture_output=True, text=True)
            fps.append(r.stdout.strip())
            with open(pub) as f:
                pubs.append(f.read().strip())
        lines = [f"[    0.000000] Linux version 6.1.0 (fairflow local AWS: {self.id} is a namespace, not a VM)",
                 "[  OK  ] Started sshd.service - OpenSSH server daemon.",
                 "[  OK  ] Started amazon-ssm-agent.service - amazon-ssm-agent.",
                 "#############################################################",
                 "-----BEGIN SSH HOST KEY FINGERPRINTS-----", *fps,
                 "-----END SSH HOST KEY FINGERPRINTS-----",
                 "#############################################################",
                 "-----BEGIN SSH HOST KEY KEYS-----", *pubs, "-----END SSH HOST KEY KEYS-----",
                 *(f"cloud-init: user data installs {p}: {_PROVIDES.get(p, 'not emulated (the host has what it has)')}"
                   for p in self.packages),
                 f"cloud-init: Cloud-init finished at {_now().strftime('%a, %d %b %Y %H:%M:%S +0000')}", ""]
        return "\n".join(lines)

    def _kill(self):
        try:
            from . import creds
            creds.unregister(f"ec2-instance/{self.id}")
        except Exception:  # noqa: BLE001
            pass
        if self.cg:
            core.kill_cgroup(self.cg, grace=1)
            try:
                os.rmdir(os.path.dirname(self.cg))
            except OSError:
                pass
        self.holder = self.sshd = self.cg = None

    def shutdown(self, reason):
        """Instance stopped/terminated: its commands fail, sshd and the namespace go."""
        with self.busy:
            if self.state == "down":
                return
            with _state_lock:
                mine = [inv for inv in _invocations.values() if inv.instance_id == self.id and not inv.done]
            for inv in mine:
                inv.abort("Failed", "Failed", f"the instance was {reason}")
            self._kill()
            self.state = "down"
            core.log(f"ssm: instance {self.id} {reason}: sshd and agent stopped")


# ---------------------------------------------------------------------------------------------- commands

class Invocation:
    def __init__(self, command, instance_id, account, region, commands, workdir, exec_timeout, delivery_timeout):
        self.command = command
        self.command_id = command.command_id
        self.instance_id = instance_id
        self.account, self.region = account, region
        self.commands, self.workdir = commands, workdir
        self.exec_timeout, self.delivery_timeout = exec_timeout, delivery_timeout
        self.requested = _now()
        self.status, self.details, self.code = "Pending", "Pending", -1
        self.stdout = self.stderr = ""
        self.start = self.end = None
        self.done = False
        self.cg = None
        self._cancel = None       # (status, details, message) asked by CancelCommand / instance stop
        self._changed = threading.Event()

    def abort(self, status, details, message):
        self._cancel = (status, details, message)
        self._changed.set()
        if self.cg:
            core.kill_cgroup(self.cg)

    def elapsed(self):
        if not self.start:
            return ""
        secs = ((self.end or _now()) - self.start).total_seconds()
        return f"PT{secs:.3f}S"

    def as_invocation(self):
        return {
            "CommandId": self.command_id, "InstanceId": self.instance_id, "Comment": self.command.comment,
            "DocumentName": self.command.document_name, "DocumentVersion": "$DEFAULT", "PluginName": PLUGIN,
            "ResponseCode": self.code, "ExecutionStartDateTime": _iso(self.start),
            "ExecutionElapsedTime": self.elapsed(), "ExecutionEndDateTime": _iso(self.end),
            "Status": self.status, "StatusDetails": self.details,
            "StandardOutputContent": self.stdout, "StandardOutputUrl": self._url("stdout"),
            "StandardErrorContent": self.stderr, "StandardErrorUrl": self._url("stderr"),
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
        }

    def _url(self, stream):
        b = self.command.output_s3_bucket_name
        if not b:
            return ""
        prefix = (self.command.output_s3_key_prefix or "").strip("/")
        key = "/".join(x for x in (prefix, self.command_id, self.instance_id, "awsrunShellScript",
                                   "0.awsrunShellScript", stream) if x)
        return f"https://s3.{self.command.output_s3_region or self.region}.amazonaws.com/{b}/{key}"

    def as_list_item(self, details):
        item = {
            "CommandId": self.command_id, "InstanceId": self.instance_id, "InstanceName": "",
            "Comment": self.command.comment, "DocumentName": self.command.document_name,
            "DocumentVersion": "$DEFAULT", "RequestedDateTime": self.requested.timestamp(),
            "Status": self.status, "StatusDetails": self.details, "TraceOutput": "",
            "StandardOutputUrl": self._url("stdout"), "StandardErrorUrl": self._url("stderr"),
            "ServiceRole": self.command.service_role_arn or "",
            "NotificationConfig": {"NotificationArn": "", "NotificationEvents": [], "NotificationType": ""},
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
            "CommandPlugins": [],
        }
        if details:
            out = self.stdout
            if self.stderr:
                out += "\n----------ERROR-------\n" + self.stderr
            if len(out) > PLUGIN_OUTPUT_LIMIT:
                out = out[:PLUGIN_OUTPUT_LIMIT - 23] + "\n---Output truncated---"
            plugin = {"Name": PLUGIN, "Status": self.status, "StatusDetails": self.details,
                      "ResponseCode": self.code, "Output": out,
                      "StandardOutputUrl": self._url("stdout"), "StandardErrorUrl": self._url("stderr"),
                      "OutputS3Region": self.command.output_s3_region or self.region,
                      "OutputS3BucketName": self.command.output_s3_bucket_name or "",
                      "OutputS3KeyPrefix": self.command.output_s3_key_prefix or ""}
            if self.start:
                plugin["ResponseStartDateTime"] = self.start.timestamp()
            if self.end:
                plugin["ResponseFinishDateTime"] = self.end.timestamp()
            item["CommandPlugins"] = [plugin]
        return item

    # ---- the run (its own thread; core.LOCK only to update moto's Command)
    def _set(self, status, details):
        with core.LOCK:
            self.status, self.details = status, details
            _update_command(self.command)

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - an invocation never dies silently
            core.log(f"ssm: command {self.command_id} on {self.instance_id} failed to run: {e}")
            self._finish("Failed", "Failed", -1, "", f"failed to run commands: {e}")

    def _run(self):
        deadline = time.time() + self.delivery_timeout
        while True:
            if self._cancel:
                return self._finish(self._cancel[0], self._cancel[1], -1, "", "")
            agent = _agents.get(self.instance_id)
            if agent is not None and agent.online and agent.holder is not None:
                break
            if time.time() > deadline or core.shutting_down():
                return self._finish("TimedOut", "DeliveryTimedOut", -1, "", "")
            self._changed.wait(0.2)
        d = os.path.join(agent.dir, "document", "orchestration", self.command_id, "awsrunShellScript",
                         "0.awsrunShellScript")
        os.makedirs(d, exist_ok=True)
        script = os.path.join(d, "_script.sh")
        with open(script, "w") as f:
            f.write("\n".join(self.commands) + "\n")
        os.chmod(script, 0o700)
        wd = self.workdir or d
        self.start = _now()
        self._set("InProgress", "InProgress")
        if not os.path.isdir(wd):
            return self._finish("Failed", "Failed", 1, "",
                                f"failed to run commands: chdir {wd}: no such file or directory")
        self.cg = core.new_cgroup(f"ec2-{self.instance_id}/cmd-{self.command_id}")
        out_path, err_path = os.path.join(d, "stdout"), os.path.join(d, "stderr")
        env = {**agent.env, "PATH": f"{AGENT_PATH}:{_bin_dir()}", "AWS_SSM_INSTANCE_ID": self.instance_id,
               "AWS_SSM_REGION_NAME": self.region}
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = core.spawn([shutil.which("nsenter") or "nsenter", "-t", str(agent.holder.pid), "-m", "-u",
                               f"--wd={wd}", "--", "/bin/bash", script], self.cg, stdout=out, stderr=err, env=env)
        timed_out = False
        end_at = time.time() + self.exec_timeout
        while proc.poll() is None:
            if self._cancel:
                break
            if time.time() >= end_at:
                timed_out = True
                break
            self._changed.wait(0.1)
        core.kill_cgroup(self.cg)       # the script and whatever it left running
        proc.wait()
        self.cg = None
        stdout, stderr = _read(out_path), _read(err_path)
        if self._cancel:
            status, details, msg = self._cancel
            return self._finish(status, details, -1, stdout, stderr + (("\n" if stderr else "") + msg if msg else ""))
        if timed_out:
            return self._finish("TimedOut", "ExecutionTimedOut", STOPPED_PREEMPTIVELY, stdout, stderr)
        code = proc.returncode if proc.returncode >= 0 else -1
        if code == 0:
            return self._finish("Success", "Success", 0, stdout, stderr)
        if stderr and not stderr.endswith("\n"):
            stderr += "\n"
        return self._finish("Failed", "Failed", code, stdout, stderr + f"failed to run commands: exit status {code}")

    def _finish(self, status, details, code, stdout, stderr):
        self.stdout, self.stderr = _cap(stdout, "\n---Output truncated---"), _cap(stderr, "\n---Error truncated----")
        self.end = _now()
        if self.start is None and status not in ("TimedOut", "Cancelled"):
            self.start = self.end
        with core.LOCK:
            self.code, self.status, self.details, self.done = code, status, details, True
            _update_command(self.command)
        if self.command.output_s3_bucket_name:
            _upload(self)


def _read(p):
    try:
        with open(p, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _cap(text, suffix):
    return text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT - len(suffix)] + suffix


def _upload(inv):
    """OutputS3BucketName: the full stdout/stderr as the agent uploads them (errors only logged)."""
    try:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition
        with core.LOCK:
            s3 = s3_backends[inv.account][get_partition(inv.region)]
            d = os.path.join(_agents[inv.instance_id].dir, "document", "orchestration", inv.command_id,
                             "awsrunShellScript", "0.awsrunShellScript")
            for stream in ("stdout", "stderr"):
                url = inv._url(stream)
                key = url.split(".amazonaws.com/", 1)[1].split("/", 1)[1]
                s3.put_object(inv.command.output_s3_bucket_name, key, _read(os.path.join(d, stream)).encode())
    except Exception as e:  # noqa: BLE001
        core.log(f"ssm: uploading the output of {inv.command_id} to S3 failed: {e}")


def _update_command(cmd):
    """moto's Command reflects its invocations (caller holds core.LOCK)."""
    invs = [i for (c, _), i in list(_invocations.items()) if c == cmd.command_id]
    if not invs:
        return
    done = [i for i in invs if i.done]
    cmd.completed_count = len(done)
    cmd.error_count = len([i for i in done if i.status in ("Failed", "TimedOut")])
    cmd.delivery_timed_out = len([i for i in done if i.details == "DeliveryTimedOut"])
    if len(done) < len(invs):
        running = any(i.status == "InProgress" for i in invs) or done
        cmd.status = cmd.status_details = "InProgress" if running else "Pending"
        return
    statuses = {i.status for i in invs}
    if statuses == {"Success"}:
        cmd.status = cmd.status_details = "Success"
    elif "Cancelled" in statuses:
        cmd.status = cmd.status_details = "Cancelled"
    elif statuses == {"TimedOut"}:
        cmd.status = "TimedOut"
        cmd.status_details = "DeliveryTimedOut" if all(i.details == "DeliveryTimedOut" for i in invs) else "ExecutionTimedOut"
    else:
        cmd.status = cmd.status_details = "Failed"


# ---------------------------------------------------------------------------------------------- watcher

def _reconcile():
    with core.LOCK:
        infos = [_snapshot(a, r, be, inst) for a, r, be, inst in _all_instances()]
    for info in infos:
        with _state_lock:
            agent = _agents.get(info["id"])
            if agent is None:
                if info["state"] not in ("pending", "running"):
                    continue
                agent = _agents[info["id"]] = Agent(info)
                _claim_address(info)
            agent.info = info
        if info["state"] != "running":
            agent.boot_error = None       # a start boots it again
        if info["state"] == "running" and agent.state == "down" and not agent.busy.locked() and not agent.boot_error:
            threading.Thread(target=agent.boot, name=f"ssm-boot-{agent.id}", daemon=True).start()
        elif info["state"] != "running" and agent.state == "up" and not agent.busy.locked():
            reason = "terminated" if info["state"] in ("shutting-down", "terminated") else "stopped"
            threading.Thread(target=agent.shutdown, args=(reason,), daemon=True).start()
        if info["state"] in ("shutting-down", "terminated"):
            agent.registered = False      # deregistered: no longer listed
            _release_address(info)
        elif agent.online:
            agent.last_ping = _now()
        if info["state"] == "running" and agent.boot_error is None and agent.state == "up" and info["ssm_ok"]:
            agent._register()


def _claim_address(info):
    ip = info["private_ip"]
    if not ip:
        return
    net.claim(ip, f"ec2 instance {info['id']}")
    net.HOSTS.add(info["hostname"], ip)
    if info["public_ip"]:
        net.HOSTS.add(_public_dns(info), ip)


def _release_address(info):
    ip = info["private_ip"]
    if ip and net.owner_of(ip) == f"ec2 instance {info['id']}":
        net.release(ip)
        net.HOSTS.remove(info["hostname"], ip)
        net.HOSTS.remove(_public_dns(info), ip)


def _public_dns(info):
    dashed = net.loopback_of(info["private_ip"]).replace(".", "-")
    return f"ec2-{dashed}.compute-1.amazonaws.com" if info["region"] == "us-east-1" else \
        f"ec2-{dashed}.{info['region']}.compute.amazonaws.com"


def _watch():
    while not core.shutting_down():
        _wake.wait(1.0)
        _wake.clear()
        if core.shutting_down():
            break
        try:
            _reconcile()
        except Exception as e:  # noqa: BLE001 - the watcher keeps going
            core.log(f"ssm: reconcile failed: {e!r}")


# ---------------------------------------------------------------------------------------------- mount.efs server

class _EfsHandler(socketserver.StreamRequestHandler):
    def handle(self):
        req = {}
        try:
            req = json.loads(self.rfile.readline() or b"{}")
            agent = _agents.get(req.get("instance"))
            if agent is None:
                raise ValueError("unknown instance")
            ans = {"path": _efs_path(agent.account, agent.region, req["fs"], req.get("path") or "/", req.get("ap"))}
        except ValueError as e:
            ans = _efs_error(str(e))
        except Exception as e:  # noqa: BLE001
            ans = {"error": f"mount.efs: {e}", "code": 1}
        self.wfile.write(json.dumps(ans).encode() + b"\n")


def _efs_path(account, region, fs_id, sub, ap):
    from . import efs
    hp = getattr(efs, "host_path", None)
    if hp is None:      # efs.py not written yet: the directory it will use
        p = os.path.join(core.path("efs", fs_id), sub.lstrip("/"))
        if not os.path.isdir(p):
            raise ValueError(f"mount.nfs4: mounting {fs_id}:{sub} failed, reason given by server: No such file or directory")
        return p
    return hp(account, region, fs_id, root_directory=sub, access_point_id=ap)


def _efs_error(text):
    """efs.host_path's ECS text ('...stderr: b'mount.nfs4: ...' : unsuccessful ...; code: 32') -> what
    mount.efs prints and its exit code."""
    m = re.search(r"code: (\d+)\s*$", text)
    code = int(m.group(1)) if m else 32
    inner = text.split("stderr: ", 1)[-1]
    inner = re.sub(r"\s*:\s*unsuccessful EFS utils command execution; code: \d+\s*$", "", inner)
    if inner.startswith("b'") and inner.endswith("'"):
        inner = inner[2:-1]
    return {"error": inner, "code": code}


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _start_server():
    global _server
    path = core.path("ssm", "mount-efs.sock")
    if os.path.exists(path):
        os.unlink(path)
    _server = _UnixServer(path, _EfsHandler)
    _server.path = path
    threading.Thread(target=_server.serve_forever, name="ssm-mount-efs", daemon=True).start()


# ---------------------------------------------------------------------------------------------- API patches

def _filters(body):
    """[(key lower, values)] from Filters and InstanceInformationFilterList."""
    out = []
    for f in body.get("Filters") or []:
        out.append((f.get("Key", ""), f.get("Values") or []))
    for f in body.get("InstanceInformationFilterList") or []:
        out.append((f.get("key", ""), f.get("valueSet") or []))
    return out


def _info_item(agent):
    info = agent.info
    return {
        "InstanceId": agent.id, "PingStatus": agent.ping_status(),
        "LastPingDateTime": (agent.last_ping or _now()).timestamp(), "AgentVersion": AGENT_VERSION,
        "IsLatestVersion": False, "PlatformType": "Linux", "PlatformName": "Amazon Linux",
        "PlatformVersion": "2023", "ResourceType": "EC2Instance", "IPAddress": info["private_ip"],
        "ComputerName": info["hostname"], "SourceId": agent.id, "SourceType": "AWS::EC2::Instance",
        "AssociationStatus": "Success",
    }


def _matches(agent, item, key, values):
    k = key.lower()
    if k in ("instanceids", "instanceid"):
        return agent.id in values
    if k == "pingstatus":
        return item["PingStatus"] in values
    if k in ("platformtypes", "platformtype"):
        return "Linux" in values
    if k == "resourcetype":
        return "EC2Instance" in values
    if k == "agentversion":
        return AGENT_VERSION in values
    if k == "iamrole":
        return agent.info["iam_role"] in values
    if k == "associationstatus":
        return "Success" in values
    if k.startswith("tag:"):
        v = agent.info["tags"].get(key[4:])
        return v is not None and v in values
    if k == "tag-key":
        return any(t in agent.info["tags"] for t in values)
    raise _error("InvalidInstanceInformationFilterValue", f"The filter key {key} is not valid")


def describe_instance_information(self):
    body = json.loads(self.body or "{}")
    _reconcile_now()
    filters = _filters(body)
    items = []
    with _state_lock:
        agents = [a for a in _agents.values() if a.account == self.current_account and a.region == self.region]
    for agent in sorted(agents, key=lambda a: a.id):
        status = agent.ping_status()
        if status is None or agent.info["state"] in ("shutting-down", "terminated"):
            continue
        item = _info_item(agent)
        if all(_matches(agent, item, k, v) for k, v in filters):
            items.append(item)
    start = int(body.get("NextToken") or 0)
    size = int(body.get("MaxResults") or 50)
    page = items[start:start + size]
    out = {"InstanceInformationList": page}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return json.dumps(out)


def _reconcile_now():
    """A request sees the instances' current state (the watcher may be a second behind)."""
    try:
        _reconcile()
    except Exception as e:  # noqa: BLE001
        core.log(f"ssm: reconcile failed: {e!r}")


def _param_list(params, name):
    v = params.get(name)
    if v is None:
        return None
    return [v] if isinstance(v, str) else list(v)


def make_send_command(orig):
    def send_command(self):
        body = json.loads(self.body or "{}")
        doc = body.get("DocumentName")
        if doc != DOCUMENT:
            return orig(self)
        _reconcile_now()
        params = body.get("Parameters") or {}
        commands = _param_list(params, "commands")
        if not commands:
            raise _error("InvalidParameters", "Parameter \"commands\" is required for document AWS-RunShellScript.")
        unknown = set(params) - {"commands", "workingDirectory", "executionTimeout"}
        if unknown:
            raise _error("InvalidParameters", f"Parameters {sorted(unknown)} are not defined in document {DOCUMENT}.")
        try:
            exec_timeout = int((_param_list(params, "executionTimeout") or ["3600"])[0] or 3600)
        except ValueError:
            raise _error("InvalidParameters", "Parameter \"executionTimeout\" must be an integer.") from None
        if not 1 <= exec_timeout <= 172800:
            raise _error("InvalidParameters", "Parameter \"executionTimeout\" must be between 1 and 172800.")
        workdir = ((_param_list(params, "workingDirectory") or [""])[0] or "").strip()
        delivery = body.get("TimeoutSeconds") or 3600
        if not 30 <= int(delivery) <= 2592000:
            raise _error("ValidationException", "1 validation error detected: Value at 'timeoutSeconds' failed to "
                         "satisfy constraint: Member must have value between 30 and 2592000")
        ids = list(body.get("InstanceIds") or [])
        targets = body.get("Targets") or []
        if targets:
            with core.LOCK:
                for _, _, _, inst in _all_instances():
                    tags = {t["key"]: t["value"] for t in inst.get_tags()}
                    for t in targets:
                        k, vals = t.get("Key", ""), t.get("Values") or []
                        if (k == "InstanceIds" and inst.id in vals) or \
                                (k.startswith("tag:") and tags.get(k[4:]) in vals) or \
                                (k == "tag-key" and any(v in tags for v in vals)):
                            ids.append(inst.id)
        ids = list(dict.fromkeys(ids))
        if not ids and not targets:
            raise _error("ValidationException", "Must specify either InstanceIds or Targets")
        with _state_lock:
            bad = [i for i in ids if i not in _agents or not _agents[i].registered
                   or _agents[i].account != self.current_account or _agents[i].region != self.region
                   or _agents[i].info["state"] in ("shutting-down", "terminated")]
        if bad:
            raise _error("InvalidInstanceId", f"Instances [{', '.join('[' + i + ']' for i in bad)}] not in a "
                         f"valid state for account {self.current_account}")
        command = self.ssm_backend.send_command(
            comment=body.get("Comment", ""), document_name=doc, timeout_seconds=int(delivery), instance_ids=list(ids),
            max_concurrency=body.get("MaxConcurrency", "50"), max_errors=body.get("MaxErrors", "0"),
            notification_config=body.get("NotificationConfig"),
            output_s3_bucket_name=body.get("OutputS3BucketName", ""),
            output_s3_key_prefix=body.get("OutputS3KeyPrefix", ""),
            output_s3_region=body.get("OutputS3Region", ""), parameters=params,
            service_role_arn=body.get("ServiceRoleArn", ""), targets=[])
        command.targets = targets
        command.instance_ids = list(ids)     # moto adds every instance when Targets is empty
        command.status = command.status_details = "Pending"
        command.completed_count = 0
        command.target_count = len(ids)
        command.invocations = []
        invs = []
        with _state_lock:
            for iid in ids:
                inv = Invocation(command, iid, self.current_account, self.region, commands, workdir,
                                 exec_timeout, int(delivery))
                _invocations[(command.command_id, iid)] = inv
                invs.append(inv)
            _commands[command.command_id] = command
        resp = command.response_object()
        for inv in invs:
            threading.Thread(target=inv.run, name=f"ssm-{command.command_id[:8]}-{inv.instance_id}",
                             daemon=True).start()
        return json.dumps({"Command": _jsonable(resp)})
    return send_command


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, datetime.datetime):
        return obj.timestamp()
    return obj


def make_get_command_invocation(orig):
    def get_command_invocation(self):
        body = json.loads(self.body or "{}")
        cid, iid, plugin = body.get("CommandId"), body.get("InstanceId"), body.get("PluginName")
        if cid not in _commands:
            return orig(self)
        inv = _invocations.get((cid, iid))
        if inv is None or (plugin and plugin != PLUGIN) or _commands[cid].account_id != self.current_account:
            raise _error("InvocationDoesNotExist", "")
        return json.dumps(inv.as_invocation())
    return get_command_invocation


def list_command_invocations(self):
    body = json.loads(self.body or "{}")
    cid, iid = body.get("CommandId"), body.get("InstanceId")
    details = bool(body.get("Details"))
    with _state_lock:
        invs = [i for i in _invocations.values()
                if i.account == self.current_account and i.region == self.region
                and (not cid or i.command_id == cid) and (not iid or i.instance_id == iid)]
    if cid and cid not in _commands:
        raise _error("InvalidCommandId", "")
    for f in body.get("Filters") or []:
        k, v = f.get("key"), f.get("value")
        if k == "Status":
            invs = [i for i in invs if i.status == v]
        elif k == "DocumentName":
            invs = [i for i in invs if i.command.document_name == v]
    invs.sort(key=lambda i: i.requested, reverse=True)
    start, size = int(body.get("NextToken") or 0), int(body.get("MaxResults") or 50)
    out = {"CommandInvocations": [i.as_list_item(details) for i in invs[start:start + size]]}
    if start + size < len(invs):
        out["NextToken"] = str(start + size)
    return json.dumps(out)


def make_cancel_command(orig):
    def cancel_command(self):
        body = json.loads(self.body or "{}")
        cid = body.get("CommandId")
        if cid not in _commands:
            if orig:
                return orig(self)
            raise _error("InvalidCommandId", "")
        ids = body.get("InstanceIds") or None
        with _state_lock:
            invs = [i for (c, iid), i in _invocations.items() if c == cid and (ids is None or iid in ids)]
        for inv in invs:
            if not inv.done:
                threading.Thread(target=inv.abort, args=("Cancelled", "Cancelled", ""), daemon=True).start()
        return json.dumps({})
    return cancel_command


def make_console_output(orig):
    def get_console_output(self):
        iid = self._get_param("InstanceId")
        agent = _agents.get(iid)
        if agent is None or not agent.console:
            return orig(self)
        from moto.ec2.utils import Base64EncodedString
        from moto.core.responses import ActionResult
        from moto.core.utils import utcnow
        self.ec2_backend.get_instance(iid)
        return ActionResult({"InstanceId": iid, "Timestamp": utcnow(),
                             "Output": Base64EncodedString.from_raw_string(agent.console)})
    return get_console_output


def send_ssh_public_key(self):
    body = json.loads(self.body or "{}")
    iid, user, key = body.get("InstanceId"), body.get("InstanceOSUser"), (body.get("SSHPublicKey") or "").strip()
    _reconcile_now()
    agent = _agents.get(iid)
    if agent is None or agent.account != self.current_account or agent.region != self.region:
        raise _error("EC2InstanceNotFoundException", f"Instance {iid} not found")
    if agent.info["state"] != "running":
        raise _error("EC2InstanceStateInvalidException", f"Instance {iid} is not in a valid state")
    az = body.get("AvailabilityZone")
    if not user or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}", user):
        raise _error("InvalidArgsException", "InstanceOSUser is invalid")
    if not re.match(r"^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$", key):
        raise _error("InvalidArgsException", "The public key is invalid: it must be an OpenSSH RSA, ED25519 or ECDSA key")
    with core.LOCK:
        from moto.ec2.models import ec2_backends
        inst = ec2_backends[agent.account][agent.region].get_instance(iid)
        if az and inst._placement.zone != az:
            raise _error("EC2InstanceNotFoundException", f"Instance {iid} not found in {az}")
    d = os.path.join(agent.dir, "eic")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, user), "a") as f:
        f.write(f"{int(time.time()) + EIC_TTL} {key}\n")
    return json.dumps({"RequestId": str(uuid.uuid4()), "Success": True})


def apply():
    from moto.ec2.models import instances as I
    from moto.ec2.responses import general as G
    from moto.ssm import responses as R
    from moto.ec2instanceconnect import responses as EIC

    _start_server()
    from moto.iam import models as IAM
    orig_role_cfn = IAM.Role.create_from_cloudformation_json.__func__

    def role_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        # moto drops ManagedPolicyArns (AWS managed policies are not loaded): keep them for the agent's check.
        # moto stores an inline Policies document as the dict it got, and its IAM evaluation then fails with
        # KeyError 'policy_document' (a 500) on every call made with the role's credentials: store JSON text.
        props = dict(cloudformation_json.get("Properties") or {})
        if props.get("Policies"):
            props["Policies"] = [dict(p, PolicyDocument=json.dumps(p["PolicyDocument"]))
                                 if isinstance(p, dict) and isinstance(p.get("PolicyDocument"), dict) else p
                                 for p in props["Policies"]]
            cloudformation_json = dict(cloudformation_json, Properties=props)
        role = orig_role_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        arns = (cloudformation_json.get("Properties") or {}).get("ManagedPolicyArns") or []
        role.cfn_managed_policy_arns = [a for a in arns if isinstance(a, str)]
        return role
    IAM.Role.create_from_cloudformation_json = classmethod(role_from_cfn)
    Inst = I.Instance
    orig_init, orig_start, orig_stop, orig_terminate = Inst.__init__, Inst.start, Inst.stop, Inst.terminate

    def __init__(self, *a, **kw):
        orig_init(self, *a, **kw)
        _fix_public_ip(self)
        ip = getattr(self, "private_ip", None)
        if ip:      # at once: a mount target or task created in the same request must not get it too
            net.claim(ip, f"ec2 instance {self.id}")
        _wake.set()

    def start(self, *a, **kw):
        r = orig_start(self, *a, **kw)
        _fix_public_ip(self)
        _wake.set()
        return r

    def stop(self, *a, **kw):
        r = orig_stop(self, *a, **kw)
        _wake.set()
        return r

    def terminate(self, *a, **kw):
        r = orig_terminate(self, *a, **kw)
        _wake.set()
        return r
    Inst.__init__, Inst.start, Inst.stop, Inst.terminate = __init__, start, stop, terminate

    S = R.SimpleSystemManagerResponse
    S.describe_instance_information = describe_instance_information
    S.send_command = make_send_command(S.send_command)
    S.get_command_invocation = make_get_command_invocation(S.get_command_invocation)
    S.list_command_invocations = list_command_invocations
    S.cancel_command = make_cancel_command(getattr(S, "cancel_command", None))
    G.General.get_console_output = make_console_output(G.General.get_console_output)
    EIC.Ec2InstanceConnectResponse.send_ssh_public_key = send_ssh_public_key

    def cleanup():
        _wake.set()
        with _state_lock:
            agents = list(_agents.values())
            invs = [i for i in _invocations.values() if not i.done]
        for inv in invs:
            inv._cancel = ("Failed", "Failed", "the local AWS stopped")
            if inv.cg:
                core.kill_cgroup(inv.cg)
        for a in agents:
            a._kill()
        if _server is not None:
            _server.shutdown()
            _server.server_close()
    core.on_shutdown(cleanup)
    threading.Thread(target=_watch, name="ssm-watch", daemon=True).start()
