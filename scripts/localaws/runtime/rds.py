"""RDS DB instances as MariaDB servers (Debian 12's mariadb-server 10.11; there is no MySQL 8 package).

One `mariadbd` per DB instance, in its own cgroup (`core.spawn`), data under `core.path("rds", id, ...)`,
listening on the loopback twin of a private address taken in its DB subnet group's first subnet, on the
instance's port (3306 by default). The endpoint moto reports (`Endpoint.Address`,
`ID.aaaaaaaaaa.REGION.rds.amazonaws.com`) resolves there through net.HOSTS.

Life cycle (DescribeDBInstances tells the truth; every change happens on one worker thread per instance,
in request order, never holding core.LOCK while it waits):
- Create: status `creating`; the worker initialises the data directory (mariadb-install-db), starts the
  server, creates the master user (`'USER'@'%'`, mysql_native_password, ALL PRIVILEGES WITH GRANT OPTION)
  and DBName, then sets `available` once the server accepts TCP connections on its endpoint, and `failed`
  if it cannot start. ManageMasterUserPassword: the password is generated into the managed secret
  (username = MasterUsername) and the server gets that one.
- Stop/Start/Reboot: `stopping`/`stopped`, `starting`/`available`, `rebooting`/`available`, for real.
- Modify: MasterUserPassword changes the password on the server (`resetting-master-credentials`);
  NewDBInstanceIdentifier moves the endpoint name.
- Delete: the final snapshot (if asked) is taken first, then the server stops and its data is removed.
- CreateDBSnapshot (and the automated one moto takes at create): a physical copy with mariabackup
  (`--backup` + `--prepare`, the server keeps running) or a plain copy of a stopped instance's datadir;
  the snapshot is `creating` until the copy is done. RestoreDBInstanceFromDBSnapshot starts a new server
  on a copy of it (the master user and password are those in the snapshot, as on RDS).

For CloudFormation: `wait_available(db_id, timeout, account_id=None, region=None)` blocks until the
instance is `available` (returns its endpoint (address, port)) and raises DBNotAvailable(reason) if it
failed, vanished or did not get there in time. It never needs core.LOCK; call it WITHOUT holding LOCK
(the worker takes LOCK for a moment to publish each status).

Where MariaDB differs from RDS MySQL 8.4: no caching_sha2_password (the master user uses
mysql_native_password, which MySQL 8.4 clients still speak), MariaDB's SQL dialect and version string
(10.11), no IAM database authentication, no TLS on the endpoint, the master user has ALL PRIVILEGES
(RDS withholds SUPER and a few more).
"""
import functools
import json
import os
import queue
import secrets as _secrets
import shutil
import socket
import subprocess
import threading
import time

from . import core, net

_servers = {}          # (account, region, db_id) -> Server
_snapshots = {}        # (account, region, snapshot_id) -> Snap
_mu = threading.Lock()  # guards _servers/_snapshots (not moto)
_seq = [0]
_restore_from = threading.local()


class DBNotAvailable(Exception):
    pass


def _next():
    with _mu:
        _seq[0] += 1
        return _seq[0]


def _sql_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(s: str) -> str:
    return "`" + s.replace("`", "``") + "`"


def listener_pids(ip: str, port: int):
    """PIDs with a listening TCP socket on ip:port (from /proc/net/tcp and /proc/*/fd)."""
    want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(ip), "little"), port)
    inodes = set()
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[1] == want and parts[3] == "0A":
                    inodes.add(parts[9])
    except OSError:
        return set()
    pids = set()
    if not inodes:
        return pids
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.add(int(pid))
        except OSError:
            continue
    return pids


class Snap:
    def __init__(self, key, source_key):
        self.key, self.source_key = key, source_key
        self.dir = core.path("rds-snapshots", f"{key[2].replace(':', '_')}-{_next()}")
        self.done = threading.Event()
        self.ok = False
        self.deleted = False


class Server:
    def __init__(self, key, *, port, master_username, master_password, db_name, private_ip, address,
                 restore_snap=None):
        self.key = key
        self.account, self.region, self.db_id = key
        self.port = int(port)
        self.master_username, self.master_password, self.db_name = master_username, master_password, db_name
        self.private_ip, self.address = private_ip, address
        self.loopback = net.loopback_of(private_ip)
        self.restore_snap = restore_snap
        self.home = core.path("rds", f"{self.db_id}-{_next()}")
        self.datadir = os.path.join(self.home, "data")
        # a Unix socket path has at most 107 bytes: keep it short, whatever the instance's name
        self.sock = core.path("rds-sock", f"{_next()}.sock")
        self.cg = None
        self.proc = None
        self.status = "creating"
        self.reason = None
        self.changed = threading.Condition()
        self.ops = queue.Queue()
        self.gone = False
        os.makedirs(self.home, exist_ok=True)
        threading.Thread(target=self._work, name=f"rds-{self.db_id}", daemon=True).start()

    # ------------------------------------------------------------ status

    def publish(self, status, reason=None, moto_db=True):
        with self.changed:
            self.status, self.reason = status, reason
            self.changed.notify_all()
        if not moto_db:
            return
        with core.LOCK:
            db = _moto_db(self.key)
            if db is not None:
                db.status = status

    # ------------------------------------------------------------ worker

    def _work(self):
        while True:
            op, arg = self.ops.get()
            if core.shutting_down():
                return
            try:
                getattr(self, "_op_" + op)(arg)
            except Exception as e:  # noqa: BLE001 - a failing operation is a status, not a dead thread
                core.log(f"rds {self.db_id}: {op} failed: {e}")
                if op in ("create", "start", "reboot", "password"):
                    self._kill()
                    self.publish("failed", str(e))
                elif op == "snapshot":
                    arg.done.set()
            if op == "delete":
                return

    def _client(self, sql, timeout=30):
        r = subprocess.run(["mariadb", "--no-defaults", "--protocol=socket", f"--socket={self.sock}", "-uroot",
                            "--batch", "--skip-column-names"], input=sql, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb: {r.stderr.strip()[-400:]}")
        return r.stdout

    def _init_datadir(self):
        if self.restore_snap is not None:
            snap = self.restore_snap
            snap.done.wait(600)
            if not snap.ok or not os.path.isdir(snap.dir):
                raise RuntimeError(f"snapshot {snap.key[2]} has no data")
            shutil.copytree(snap.dir, self.datadir, symlinks=True)
            return
        log = os.path.join(self.home, "install.log")
        with open(log, "w") as out:
            r = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                                "--auth-root-authentication-method=socket", "--skip-test-db",
                                "--innodb-log-file-size=16M"], stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {open(log).read()[-400:]}")

    def _start_server(self):
        if core.shutting_down():
            raise RuntimeError("the local AWS is shutting down")
        self.cg = core.new_cgroup(f"rds-{self.db_id}-{_next()}")
        err = os.path.join(self.home, "error.log")
        argv = ["mariadbd", "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
                f"--bind-address={self.loopback}", f"--socket={self.sock}",
                f"--pid-file={os.path.join(self.home, 'mariadbd.pid')}", "--user=root", f"--log-error={err}",
                "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=16M", "--max-connections=200", "--innodb-flush-log-at-trx-commit=2",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
                "--default-time-zone=+00:00", "--explicit-defaults-for-timestamp=ON"]
        with open(os.path.join(self.home, "stdout.log"), "ab") as out:
            self.proc = core.spawn(argv, self.cg, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while True:
            if self.proc.poll() is not None:
                tail = open(err).read()[-600:] if os.path.exists(err) else ""
                raise RuntimeError(f"mariadbd exited ({self.proc.returncode}): {tail}")
            try:
                with socket.create_connection((self.loopback, self.port), timeout=1) as s:
                    s.settimeout(2)
                    greeting = s.recv(128)
                if greeting:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("mariadbd did not accept connections within 120 s")
            time.sleep(0.1)
        pids = set(core.cgroup_pids(self.cg))
        listeners = listener_pids(self.loopback, self.port)
        if not listeners & pids:
            raise RuntimeError(f"{self.loopback}:{self.port} is served by another process ({sorted(listeners)})")
        # the socket is up once TCP is; the client over the socket also proves root can administer it
        self._client("SELECT 1;")

    def _stop_server(self, grace=30):
        if self.cg:
            core.kill_cgroup(self.cg, grace=grace)
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.proc, self.cg = None, None

    def _kill(self):
        try:
            self._stop_server(grace=0)
        except Exception:  # noqa: BLE001
            pass

    def _op_create(self, _):
        self._init_datadir()
        self._start_server()
        if self.restore_snap is None:
            user, pw = _sql_str(self.master_username or "admin"), _sql_str(self.master_password or "")
            sql = (f"CREATE USER {user}@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD({pw});\n"
                   f"GRANT ALL PRIVILEGES ON *.* TO {user}@'%' WITH GRANT OPTION;\n")
            if self.db_name:
                sql += f"CREATE DATABASE IF NOT EXISTS {_ident(self.db_name)};\n"
            self._client(sql + "FLUSH PRIVILEGES;\n")
        self.publish("available")
        core.log(f"rds {self.db_id}: mariadbd pid {self.proc.pid} on {self.loopback}:{self.port} ({self.address})")

    def _op_stop(self, _):
        self._stop_server()
        self.publish("stopped")

    def _op_start(self, _):
        self._start_server()
        self.publish("available")

    def _op_reboot(self, _):
        self._stop_server()
        self._start_server()
        self.publish("available")

    def _op_password(self, pw):
        self.master_password = pw
        if self.proc is None:
            return                      # a stopped instance: applied at the next start? RDS refuses; moot
        self._client(f"ALTER USER {_sql_str(self.master_username)}@'%' IDENTIFIED VIA mysql_native_password "
                     f"USING PASSWORD({_sql_str(pw)});\nFLUSH PRIVILEGES;\n")
        self.publish("available")

    def _op_snapshot(self, snap):
        tmp = snap.dir + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        log = os.path.join(self.home, f"backup-{_next()}.log")
        if self.proc is not None and self.proc.poll() is None:
            with open(log, "w") as out:
                for argv in (["mariabackup", "--backup", f"--target-dir={tmp}", f"--socket={self.sock}",
                              "--user=root"],
                             ["mariabackup", "--prepare", f"--target-dir={tmp}"]):
                    r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       timeout=600)
                    if r.returncode != 0:
                        raise RuntimeError(f"{argv[0]} {argv[1]} failed: {open(log).read()[-400:]}")
        else:
            shutil.copytree(self.datadir, tmp, symlinks=True)
        os.replace(tmp, snap.dir)
        snap.ok = True
        snap.done.set()
        with core.LOCK:
            s = _moto_snapshot(snap.key)
            if s is not None:
                s.status = "available"
        if snap.deleted:
            shutil.rmtree(snap.dir, ignore_errors=True)
        core.log(f"rds {self.db_id}: snapshot {snap.key[2]} taken")

    def _op_delete(self, _):
        self._stop_server()
        shutil.rmtree(self.home, ignore_errors=True)
        for p in (self.sock, self.sock + ".lock"):
            if os.path.exists(p):
                os.unlink(p)
        self.gone = True
        self.publish("deleted", moto_db=False)
        net.HOSTS.remove(self.address, self.private_ip)
        net.release(self.private_ip)
        core.log(f"rds {self.db_id}: deleted")


# ---------------------------------------------------------------- moto side

_renamed = {}   # (account, region, old identifier) -> the moto instance renamed away from it


def _adopt_in_stacks(account, region, db):
    """A stack's DB instance is its physical id, as in CloudFormation: when an instance was renamed away
    (ModifyDBInstance NewDBInstanceIdentifier) and another is restored under the old name, the stack's resource
    (its GetAtt Endpoint.Address, its delete) is the restored one; the renamed one is no stack's any more."""
    with _mu:
        old = _renamed.pop((account, region, db.db_instance_identifier.lower()), None)
    if old is None:
        return
    try:
        from moto.cloudformation.models import cloudformation_backends
        stacks = list(cloudformation_backends[account][region].stacks.values())
    except Exception:  # noqa: BLE001
        return
    for st in stacks:
        parsed = getattr(getattr(st, "resource_map", None), "_parsed_resources", {}) or {}
        for lid, res in list(parsed.items()):
            if res is old:
                parsed[lid] = db
                core.log(f"rds: stack {st.name} resource {lid} is now the restored {db.db_instance_identifier}")


def _moto_db(key):
    from moto.rds.models import rds_backends
    return rds_backends[key[0]][key[1]].databases.get(key[2])


def _moto_snapshot(key):
    from moto.rds.models import rds_backends
    return rds_backends[key[0]][key[1]].database_snapshots.get(key[2])


def _server_for(account, region, db_id):
    with _mu:
        return _servers.get((account, region, (db_id or "").lower()))


def wait_available(db_id, timeout=600, account_id=None, region=None):
    """Blocks until the instance is available; returns (address, port). Raises DBNotAvailable(reason)."""
    db_id = db_id.lower()
    with _mu:
        cands = [s for k, s in _servers.items() if k[2] == db_id and (account_id in (None, k[0]))
                 and (region in (None, k[1]))]
    if not cands:
        raise DBNotAvailable(f"DB instance {db_id} not found")
    srv = cands[-1]
    deadline = time.time() + timeout
    with srv.changed:
        while srv.status != "available":
            if srv.status in ("failed", "deleted", "incompatible-parameters"):
                raise DBNotAvailable(f"DB instance {db_id} is {srv.status}: {srv.reason or ''}".rstrip(": "))
            left = deadline - time.time()
            if left <= 0:
                raise DBNotAvailable(f"DB instance {db_id} did not become available within {timeout} s "
                                     f"(status {srv.status})")
            srv.changed.wait(min(left, 1.0))
    return srv.address, srv.port


def _pick_ip(db, account, region):
    """A private address in the DB subnet group's first subnet (or the default VPC's range)."""
    owner = f"rds {db.db_instance_identifier}"
    group = getattr(db, "db_subnet_group", None)
    for subnet in (getattr(group, "_subnets", None) or []):
        try:
            return net.allocate_in_subnet(subnet.id, account, region, owner)
        except Exception as e:  # noqa: BLE001
            core.log(f"rds {db.db_instance_identifier}: no address in {subnet.id}: {e}")
    return net.allocate("172.31.0.0/16", owner)


def _managed_password(db, account, region):
    """ManageMasterUserPassword: a generated password in the managed secret (with the real username)."""
    secret = db.master_user_secret.secret
    from moto.secretsmanager.models import secretsmanager_backends
    sm = secretsmanager_backends[account][region]
    pw = "".join(_secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(28))
    sm.put_secret_value(secret_id=secret.arn, secret_string=json.dumps(
        {"username": db.master_username, "password": pw}), secret_binary=None,
        client_request_token=None, version_stages=["AWSCURRENT"])
    return pw


def _begin(backend, db, restore_snap=None):
    """Called under LOCK right after moto created the instance: status creating, worker starts it."""
    account, region = backend.account_id, backend.region_name
    key = (account, region, db.db_instance_identifier)
    if db.manage_master_user_password and restore_snap is None:
        password = _managed_password(db, account, region)
    else:
        password = db.__dict__.get("_master_user_password")
    ip = _pick_ip(db, account, region)
    srv = Server(key, port=db.port or 3306, master_username=db.master_username, master_password=password,
                 db_name=db.db_name, private_ip=ip, address=db.address, restore_snap=restore_snap)
    with _mu:
        _servers[key] = srv
    net.HOSTS.add(db.address, ip)
    db.status = "creating"
    srv.ops.put(("create", None))
    return srv


def _queue_snapshot(srv, s, key):
    snap = Snap(key, srv.key)
    with _mu:
        _snapshots[key] = snap
    s.status = "creating"
    srv.ops.put(("snapshot", snap))


def _ensure_status(db, allowed, action):
    from moto.rds.exceptions import InvalidDBInstanceStateError, InvalidDBInstanceStateFault
    if db.status not in allowed:
        if action in ("stop", "start"):
            raise InvalidDBInstanceStateError(db.db_instance_identifier, action)
        raise InvalidDBInstanceStateFault(f"Instance {db.db_instance_identifier} is not in available state.")


def apply():
    from moto.rds import models as M
    B = M.RDSBackend
    o = {n: getattr(B, n) for n in ("create_db_instance", "delete_db_instance", "stop_db_instance",
                                    "start_db_instance", "reboot_db_instance", "modify_db_instance",
                                    "create_db_snapshot", "delete_db_snapshot",
                                    "restore_db_instance_from_db_snapshot")}

    @functools.wraps(o["create_db_instance"])
    def create_db_instance(self, db_kwargs):
        restore = getattr(_restore_from, "snap", None)
        _restore_from.snap = None
        db = o["create_db_instance"](self, db_kwargs)
        if getattr(db, "db_cluster_identifier", None) is None and db.engine in ("mysql", "mariadb", "MySQL"):
            srv = _begin(self, db, restore_snap=restore)
            for s in list(self.database_snapshots.values()):   # moto's automated backup: a real one too
                key = (self.account_id, self.region_name, s.db_snapshot_identifier)
                if s.snapshot_type == "automated" and s.db_instance_identifier == db.db_instance_identifier \
                        and key not in _snapshots:
                    _queue_snapshot(srv, s, key)
        else:
            core.log(f"rds {db.db_instance_identifier}: engine {db.engine} is not run (mysql/mariadb only); "
                     "moto's record only")
        return db

    @functools.wraps(o["restore_db_instance_from_db_snapshot"])
    def restore_db_instance_from_db_snapshot(self, from_snapshot_id, overrides):
        sid = from_snapshot_id.split(":")[-1] if from_snapshot_id.startswith("arn:") else from_snapshot_id
        with _mu:
            snap = _snapshots.get((self.account_id, self.region_name, sid.lower()))
        _restore_from.snap = snap
        try:
            db = o["restore_db_instance_from_db_snapshot"](self, from_snapshot_id, overrides)
        finally:
            _restore_from.snap = None
        _adopt_in_stacks(self.account_id, self.region_name, db)
        return db

    @functools.wraps(o["create_db_snapshot"])
    def create_db_snapshot(self, db_instance_identifier, db_snapshot_identifier, snapshot_type="manual",
                           tags=None, original_created_at=None, kms_key_id=None):
        srv = _server_for(self.account_id, self.region_name, db_instance_identifier)
        if srv is not None and srv.status not in ("available", "stopped", "creating", "backing-up") \
                and snapshot_type == "manual":
            from moto.rds.exceptions import InvalidDBInstanceStateFault
            raise InvalidDBInstanceStateFault(f"Cannot create a snapshot because the database instance "
                                              f"{db_instance_identifier} is not currently in the available state.")
        s = o["create_db_snapshot"](self, db_instance_identifier, db_snapshot_identifier, snapshot_type, tags,
                                    original_created_at, kms_key_id)
        if srv is not None:
            _queue_snapshot(srv, s, (self.account_id, self.region_name, s.db_snapshot_identifier))
        return s

    @functools.wraps(o["delete_db_snapshot"])
    def delete_db_snapshot(self, db_snapshot_identifier):
        s = o["delete_db_snapshot"](self, db_snapshot_identifier)
        with _mu:
            snap = _snapshots.pop((self.account_id, self.region_name, s.db_snapshot_identifier), None)
        if snap is not None:
            snap.deleted = True
            if snap.done.is_set():
                shutil.rmtree(snap.dir, ignore_errors=True)
        return s

    @functools.wraps(o["delete_db_instance"])
    def delete_db_instance(self, db_instance_identifier, final_db_snapshot_identifier=None,
                           skip_final_snapshot=False, delete_automated_backups=True, **_):
        srv = _server_for(self.account_id, self.region_name, db_instance_identifier)
        db = o["delete_db_instance"](self, db_instance_identifier, final_db_snapshot_identifier,
                                     skip_final_snapshot, delete_automated_backups)
        if srv is not None:
            with _mu:
                _servers.pop(srv.key, None)
            srv.ops.put(("delete", None))
        return db

    @functools.wraps(o["stop_db_instance"])
    def stop_db_instance(self, db_instance_identifier, db_snapshot_identifier=None):
        db = o["stop_db_instance"](self, db_instance_identifier, db_snapshot_identifier)
        srv = _server_for(self.account_id, self.region_name, db_instance_identifier)
        if srv is not None:
            db.status = srv.status = "stopping"
            srv.ops.put(("stop", None))
        return db

    @functools.wraps(o["start_db_instance"])
    def start_db_instance(self, db_instance_identifier):
        db = o["start_db_instance"](self, db_instance_identifier)
        srv = _server_for(self.account_id, self.region_name, db_instance_identifier)
        if srv is not None:
            db.status = srv.status = "starting"
            srv.ops.put(("start", None))
        return db

    @functools.wraps(o["reboot_db_instance"])
    def reboot_db_instance(self, db_instance_identifier):
        db = o["reboot_db_instance"](self, db_instance_identifier)
        srv = _server_for(self.account_id, self.region_name, db_instance_identifier)
        if srv is not None:
            _ensure_status(db, ("available",), "reboot")
            db.status = srv.status = "rebooting"
            srv.ops.put(("reboot", None))
        return db

    @functools.wraps(o["modify_db_instance"])
    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        srv = _server_for(self.account_id, self.region_name, db_instance_identifier)
        new_pw = db_kwargs.get("master_user_password")
        if srv is not None and (new_pw or db_kwargs.get("manage_master_user_password") is not None):
            _ensure_status(self.describe_db_instances(db_instance_identifier)[0], ("available",), "modify")
        db = o["modify_db_instance"](self, db_instance_identifier, db_kwargs)
        if srv is None:
            return db
        if db.db_instance_identifier != srv.db_id:       # NewDBInstanceIdentifier: the endpoint moves
            with _mu:
                _renamed[(srv.account, srv.region, srv.db_id.lower())] = db
            net.HOSTS.remove(srv.address, srv.private_ip)
            with _mu:
                _servers.pop(srv.key, None)
                srv.key = (srv.account, srv.region, db.db_instance_identifier)
                srv.db_id = db.db_instance_identifier
                _servers[srv.key] = srv
            srv.address = db.address
            net.HOSTS.add(srv.address, srv.private_ip)
        if db_kwargs.get("manage_master_user_password") is True:
            new_pw = _managed_password(db, self.account_id, self.region_name)
        if new_pw:
            db.status = srv.status = "resetting-master-credentials"
            srv.ops.put(("password", new_pw))
        return db

    for name, fn in (("create_db_instance", create_db_instance), ("delete_db_instance", delete_db_instance),
                     ("stop_db_instance", stop_db_instance), ("start_db_instance", start_db_instance),
                     ("reboot_db_instance", reboot_db_instance), ("modify_db_instance", modify_db_instance),
                     ("create_db_snapshot", create_db_snapshot), ("delete_db_snapshot", delete_db_snapshot),
                     ("restore_db_instance_from_db_snapshot", restore_db_instance_from_db_snapshot)):
        setattr(B, name, fn)

    def stop_all():
        with _mu:
            servers = list(_servers.values())
        for srv in servers:
            srv._kill()
    core.on_shutdown(stop_all)
