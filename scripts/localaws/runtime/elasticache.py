"""ElastiCache (Redis OSS) replication groups and cache clusters as redis-server processes.

Each node (a replication group's primary and replicas, or a stand-alone cache cluster) is one
`redis-server` (Debian 12: 7.0) in its own cgroup, on the loopback twin of a private address in the cache
subnet group's subnets (primary in the first, replicas round-robin), on the group's port (6379 default).
Replicas run with `--replicaof` the primary. Data under `core.path("elasticache", id, ...)`, no persistence.

- TransitEncryptionEnabled: TLS only on the port (`--port 0 --tls-port P`, as ElastiCache's "required"
  mode), with a server certificate (SANs: every endpoint name of the group and its addresses) signed by the
  runtime's own CA (`ca_path()`, generated with openssl under core.path). Clients that verify
  (`rediss://...?ssl_cert_reqs=required`, as the HA template's broker URL asks) need that CA:
  `ca_bundle_path()` is the system bundle plus it; `sandbox_mounts()` = {"/etc/ssl/certs/ca-certificates.crt":
  ca_bundle_path()}, the bind mount that makes a task trust it (checked: redis-py 8 and kombu in the airflow
  3.3.2 venv connect with ssl_cert_reqs=required through it, and fail without it).
- AuthToken: `requirepass` (and `masterauth` on replicas): AUTH <token> as on ElastiCache.
- Names (net.HOSTS): PrimaryEndpoint (`master.ID.xxxxxx.use1.cache.amazonaws.com`) -> primary,
  ReaderEndpoint (`replica....`) -> the replicas (the primary if none), each member's ReadEndpoint -> itself,
  ConfigurationEndpoint (cluster mode enabled) -> the first node group's primary (no slot sharding here:
  cluster mode is served by plain servers, CLUSTER commands fail). A stand-alone cache cluster's name is
  `ID.abc123.0001.use1.cache.amazonaws.com` (what moto_ext's AWS::ElastiCache::CacheCluster GetAtt gives).
- Status: `creating` until every node answers PING (over TLS with AUTH when asked), then `available`;
  DeleteReplicationGroup/DeleteCacheCluster: `deleting`, the servers stop, then the group is gone. A group
  or cluster removed from moto by another path (CloudFormation's delete) has its servers stopped by a
  reaper within a second.
- `wait_available(replication_group_id, timeout, account_id=None, region=None)` for CloudFormation: like
  rds.wait_available (returns the primary (address, port); raises CacheNotAvailable(reason)); call it
  without holding core.LOCK.
"""
import functools
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

from . import core, net
from .rds import listener_pids

_groups = {}        # (account, region, kind, id) -> Group
_mu = threading.Lock()
_seq = [0]
_ca_lock = threading.Lock()


class CacheNotAvailable(Exception):
    pass


def _next():
    with _mu:
        _seq[0] += 1
        return _seq[0]


# ---------------------------------------------------------------- certificates

def ca_path() -> str:
    """The runtime's CA certificate (PEM), made on first use."""
    d = core.path("elasticache", "ca")
    with _ca_lock:
        pem = os.path.join(d, "ca.pem")
        if not os.path.exists(pem):
            os.makedirs(d, exist_ok=True)
            _openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", os.path.join(d, "ca.key"), "-out", pem + ".tmp", "-days", "3650",
                      "-subj", "/CN=fairflow local AWS ElastiCache CA",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            os.replace(pem + ".tmp", pem)
    return pem


def ca_bundle_path() -> str:
    """System CA bundle + the runtime's CA: a file for SSL_CERT_FILE in tasks that dial ElastiCache TLS."""
    out = core.path("elasticache", "ca", "bundle.pem")
    ca = ca_path()
    with _ca_lock:
        if not os.path.exists(out):
            system = ""
            for p in ("/etc/ssl/certs/ca-certificates.crt",):
                if os.path.exists(p):
                    system = open(p).read()
            with open(out + ".tmp", "w") as f:
                f.write(system.rstrip("\n") + "\n" + open(ca).read())
            os.replace(out + ".tmp", out)
    return out


def sandbox_mounts() -> dict:
    """Container path -> host path for a task or the bastion to trust the runtime's CA with no change to its
    environment: the bundle over OpenSSL's default CA file (Python's ssl, redis-py, kombu, curl read it)."""
    return {"/etc/ssl/certs/ca-certificates.crt": ca_bundle_path()}


def _openssl(args):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        lines = [x for x in r.stderr.splitlines() if x.strip() and not set(x.strip()) <= set("-+.*")]
        raise RuntimeError(f"openssl {args[0]} failed: {' '.join(lines)[-300:]}")


def _server_cert(d, cn, names, ips):
    ca = ca_path()
    cad = os.path.dirname(ca)
    key, csr, crt, ext = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.pem", "ext.cnf"))
    alt = ",".join([f"DNS:{n}" for n in names] + [f"IP:{i}" for i in ips])
    with open(ext, "w") as f:
        f.write(f"subjectAltName={alt}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,"
                "keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n")
    _openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
              "-out", csr, "-subj", f"/CN={cn[:64]}"])
    with _ca_lock:
        _openssl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", os.path.join(cad, "ca.key"),
                  "-CAcreateserial", "-CAserial", os.path.join(cad, "ca.srl"), "-out", crt, "-days", "825",
                  "-extfile", ext])
    return crt, key


# ---------------------------------------------------------------- RESP

def ping(ip, port, tls=False, token=None, ca=None, timeout=2.0):
    """AUTH (if token) + PING; returns the reply line (e.g. '+PONG') or raises OSError."""
    raw = socket.create_connection((ip, port), timeout=timeout)
    try:
        s = raw
        if tls:
            ctx = ssl.create_default_context(cafile=ca or ca_path())
            ctx.check_hostname = False
            s = ctx.wrap_socket(raw)
        s.settimeout(timeout)
        f = s.makefile("rb")
        if token:
            s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(token.encode()), token.encode()))
            line = f.readline().decode().strip()
            if not line.startswith("+OK"):
                return line
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        return f.readline().decode().strip()
    finally:
        raw.close()


# ---------------------------------------------------------------- nodes

class Node:
    def __init__(self, group, cluster_id, role, private_ip, names):
        self.group, self.cluster_id, self.role = group, cluster_id, role
        self.private_ip, self.loopback, self.names = private_ip, net.loopback_of(private_ip), names
        self.home = core.path("elasticache", group.id, f"{cluster_id}-{_next()}")
        self.cg = None
        self.proc = None

    def start(self, primary=None):
        if core.shutting_down():
            raise RuntimeError("the local AWS is shutting down")
        g = self.group
        os.makedirs(self.home, exist_ok=True)
        argv = ["redis-server", "--bind", self.loopback, "--dir", self.home, "--save", "", "--appendonly", "no",
                "--protected-mode", "no", "--daemonize", "no", "--logfile", os.path.join(self.home, "redis.log"),
                "--databases", "16"]
        if g.tls:
            argv += ["--port", "0", "--tls-port", str(g.port), "--tls-cert-file", g.cert, "--tls-key-file", g.key_file,
                     "--tls-ca-cert-file", ca_path(), "--tls-auth-clients", "no", "--tls-replication", "yes"]
        else:
            argv += ["--port", str(g.port)]
        if g.token:
            argv += ["--requirepass", g.token, "--masterauth", g.token]
        if primary is not None:
            argv += ["--replicaof", primary.loopback, str(g.port)]
        self.cg = core.new_cgroup(f"elasticache-{self.cluster_id}-{_next()}")
        with open(os.path.join(self.home, "stdout.log"), "ab") as out:
            self.proc = core.spawn(argv, self.cg, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, deadline):
        g = self.group
        while True:
            if self.proc.poll() is not None:
                log = os.path.join(self.home, "redis.log")
                tail = open(log).read()[-500:] if os.path.exists(log) else ""
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}): {tail}")
            try:
                reply = ping(self.loopback, g.port, tls=g.tls, token=g.token)
                if reply == "+PONG":
                    break
            except (OSError, ssl.SSLError):
                pass
            if time.time() > deadline:
                raise RuntimeError(f"redis-server on {self.loopback}:{g.port} did not answer PING in time")
            time.sleep(0.05)
        if not listener_pids(self.loopback, g.port) & set(core.cgroup_pids(self.cg)):
            raise RuntimeError(f"{self.loopback}:{g.port} is served by another process")

    def stop(self, grace=5):
        if self.cg:
            core.kill_cgroup(self.cg, grace=grace)
        self.cg, self.proc = None, None


class Group:
    """A replication group (kind 'rg') or a stand-alone cache cluster (kind 'cc')."""

    def __init__(self, key, moto_obj, *, port, tls, token, layout):
        self.key = key
        self.account, self.region, self.kind, self.id = key
        self.obj = moto_obj
        self.port, self.tls, self.token = int(port or 6379), bool(tls), token or None
        self.layout = layout            # [(cluster_id, role, subnet_index, [names])] primary first per shard
        self.nodes = []
        self.status = "creating"
        self.reason = None
        self.changed = threading.Condition()
        self.cert = self.key_file = None
        self.ready = threading.Event()
        self.stopped = False

    def publish(self, status, reason=None):
        with self.changed:
            self.status, self.reason = status, reason
            self.changed.notify_all()
        with core.LOCK:
            _set_moto_status(self, status)

    def run(self):
        try:
            if self.tls:
                names = sorted({n for _, _, _, ns in self.layout for n in ns})
                d = core.path("elasticache", self.id, "tls")
                os.makedirs(d, exist_ok=True)
                self.cert, self.key_file = _server_cert(d, self.id, names, [n.loopback for n in self.nodes] +
                                                        [n.private_ip for n in self.nodes])
            primary = None
            for n in self.nodes:
                n.start(primary if n.role == "replica" else None)
                if n.role == "primary":
                    primary = n
            deadline = time.time() + 60
            for n in self.nodes:
                n.wait_ready(deadline)
            if self.stopped:
                return
            self.publish("available")
            core.log(f"elasticache {self.id}: " + ", ".join(f"{n.cluster_id} ({n.role}) pid {n.proc.pid} on "
                                                             f"{n.loopback}:{self.port}" for n in self.nodes)
                     + (" TLS" if self.tls else "") + (" AUTH" if self.token else ""))
        except Exception as e:  # noqa: BLE001 - a failure is a status
            core.log(f"elasticache {self.id}: create failed: {e}")
            for n in self.nodes:
                n.stop(grace=0)
            self.publish("create-failed", str(e))
        finally:
            self.ready.set()

    def delete(self, drop_from_moto):
        self.stopped = True
        self.ready.wait(120)
        for n in self.nodes:
            n.stop()
            net.release(n.private_ip)
        for _, _, _, names in self.layout:
            for name in names:
                net.HOSTS.remove(name)
        shutil.rmtree(core.path("elasticache", self.id), ignore_errors=True)
        with self.changed:
            self.status = "deleted"
            self.changed.notify_all()
        if drop_from_moto:
            with core.LOCK:
                be = _backend(self.account, self.region)
                table = be.replication_groups if self.kind == "rg" else be.cache_clusters
                if table.get(self.id) is self.obj:
                    table.pop(self.id, None)
        core.log(f"elasticache {self.id}: deleted")


def _backend(account, region):
    from moto.elasticache.models import elasticache_backends
    return elasticache_backends[account][region]


def _set_moto_status(g, status):
    o = g.obj
    if g.kind == "rg":
        o.status = status
        for ng in o.node_groups:
            ng["status"] = status
    else:
        o.status = o.cache_cluster_status = status


def _subnets(be, group_name):
    sg = be.cache_subnet_groups.get(group_name) if group_name else None
    return list(getattr(sg, "subnet_ids", None) or [])


def _alloc(be, subnets, index, owner):
    if subnets:
        sid = subnets[index % len(subnets)]
        try:
            return net.allocate_in_subnet(sid, be.account_id, be.region_name, owner)
        except Exception as e:  # noqa: BLE001
            core.log(f"elasticache {owner}: no address in {sid}: {e}")
    return net.allocate("172.31.0.0/16", owner)


def _rg_layout(rg):
    """[(cluster_id, role, subnet_index, names)] from moto's node groups."""
    out = []
    for ng in rg.node_groups:
        members = ng.get("node_group_members", [])
        for i, m in enumerate(members):
            role = m.get("current_role") or ("primary" if i == 0 else "replica")
            names = []
            ep = m.get("read_endpoint", {}).get("address")
            if ep:
                names.append(ep)
            if role == "primary" and ng.get("primary_endpoint_address"):
                names.append(ng["primary_endpoint_address"])
            if role == "replica" and ng.get("reader_endpoint_address"):
                names.append(ng["reader_endpoint_address"])
            out.append((m["cache_cluster_id"], role, i, names))
        if len(members) == 1 and ng.get("reader_endpoint_address"):
            out[-1][3].append(ng["reader_endpoint_address"])   # no replica: the reader endpoint is the primary
    cfg = getattr(rg, "configuration_endpoint", None)
    if cfg and cfg.get("address") and out:
        out[0][3].append(cfg["address"])
    return out


def _begin(be, kind, obj, obj_id, *, port, tls, token, layout, subnets):
    key = (be.account_id, be.region_name, kind, obj_id)
    g = Group(key, obj, port=port, tls=tls, token=token, layout=layout)
    for cluster_id, role, idx, names in layout:
        ip = _alloc(be, subnets, idx, f"elasticache {cluster_id}")
        g.nodes.append(Node(g, cluster_id, role, ip, names))
        for name in names:
            net.HOSTS.add(name, ip)
    with _mu:
        _groups[key] = g
    _set_moto_status(g, "creating")
    threading.Thread(target=g.run, name=f"elasticache-{obj_id}", daemon=True).start()
    return g


def wait_available(replication_group_id, timeout=300, account_id=None, region=None):
    rid = replication_group_id.lower()
    with _mu:
        cands = [g for k, g in _groups.items() if k[3] == rid and account_id in (None, k[0])
                 and region in (None, k[1])]
    if not cands:
        raise CacheNotAvailable(f"replication group {rid} not found")
    g = cands[-1]
    deadline = time.time() + timeout
    with g.changed:
        while g.status != "available":
            if g.status in ("create-failed", "deleted", "deleting"):
                raise CacheNotAvailable(f"{rid} is {g.status}: {g.reason or ''}".rstrip(": "))
            left = deadline - time.time()
            if left <= 0:
                raise CacheNotAvailable(f"{rid} did not become available within {timeout} s (status {g.status})")
            g.changed.wait(min(left, 1.0))
    primary = next(n for n in g.nodes if n.role == "primary")
    return (primary.names[-1] if primary.names else primary.loopback), g.port


def _reaper():
    """Stops the servers of groups/clusters that left moto by a path that bypasses the delete calls."""
    while not core.shutting_down():
        time.sleep(1.0)
        with _mu:
            groups = list(_groups.items())
        gone = []
        with core.LOCK:
            for key, g in groups:
                be = _backend(g.account, g.region)
                table = be.replication_groups if g.kind == "rg" else be.cache_clusters
                if table.get(g.id) is not g.obj:
                    gone.append(key)
        for key in gone:
            with _mu:
                g = _groups.pop(key, None)
            if g is not None:
                g.delete(drop_from_moto=False)


def apply():
    from moto.elasticache import models as M
    B = M.ElastiCacheBackend
    o_rg, o_del_rg = B.create_replication_group, B.delete_replication_group
    o_cc, o_del_cc = B.create_cache_cluster, B.delete_cache_cluster

    @functools.wraps(o_rg)
    def create_replication_group(self, replication_group_id, *a, **kw):
        import inspect
        bound = inspect.signature(o_rg).bind(self, replication_group_id, *a, **kw).arguments
        rg = o_rg(self, replication_group_id, *a, **kw)
        for ng in rg.node_groups:        # moto keeps the reader address but does not report ReaderEndpoint
            if ng.get("reader_endpoint_address") and "reader_endpoint" not in ng:
                ng["reader_endpoint"] = {"address": ng["reader_endpoint_address"], "port": rg.port}
        if (rg.engine or "redis") in ("redis", "valkey"):
            _begin(self, "rg", rg, rg.replication_group_id, port=rg.port,
                   tls=bound.get("transit_encryption_enabled"), token=bound.get("auth_token"),
                   layout=_rg_layout(rg), subnets=_subnets(self, bound.get("cache_subnet_group_name")))
        return rg

    @functools.wraps(o_del_rg)
    def delete_replication_group(self, replication_group_id, retain_primary_cluster=None):
        rg = o_del_rg(self, replication_group_id, retain_primary_cluster)
        with _mu:
            g = _groups.pop((self.account_id, self.region_name, "rg", replication_group_id), None)
        if g is not None:
            rg.status = "deleting"
            threading.Thread(target=g.delete, args=(True,), daemon=True).start()
        return rg

    @functools.wraps(o_cc)
    def create_cache_cluster(self, cache_cluster_id, replication_group_id, *a, **kw):
        import inspect
        bound = inspect.signature(o_cc).bind(self, cache_cluster_id, replication_group_id, *a, **kw).arguments
        cc = o_cc(self, cache_cluster_id, replication_group_id, *a, **kw)
        if (cc.engine or "redis") == "redis" and not replication_group_id:
            name = f"{cache_cluster_id}.abc123.0001.use1.cache.amazonaws.com"
            _begin(self, "cc", cc, cache_cluster_id, port=cc.port, tls=bound.get("transit_encryption_enabled"),
                   token=bound.get("auth_token"), layout=[(cache_cluster_id, "primary", 0, [name])],
                   subnets=_subnets(self, bound.get("cache_subnet_group_name")))
        elif (cc.engine or "redis") != "redis":
            core.log(f"elasticache {cache_cluster_id}: engine {cc.engine} is not run (redis only)")
        return cc

    @functools.wraps(o_del_cc)
    def delete_cache_cluster(self, cache_cluster_id):
        cc = o_del_cc(self, cache_cluster_id)
        with _mu:
            g = _groups.pop((self.account_id, self.region_name, "cc", cache_cluster_id), None)
        if g is not None:
            threading.Thread(target=g.delete, args=(True,), daemon=True).start()
        return cc

    B.create_replication_group, B.delete_replication_group = create_replication_group, delete_replication_group
    B.create_cache_cluster, B.delete_cache_cluster = create_cache_cluster, delete_cache_cluster
    threading.Thread(target=_reaper, name="elasticache-reaper", daemon=True).start()

    def stop_all():
        with _mu:
            groups = list(_groups.values())
        for g in groups:
            for n in g.nodes:
                n.stop(grace=0)
    core.on_shutdown(stop_all)
