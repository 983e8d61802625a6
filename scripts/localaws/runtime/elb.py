"""Application Load Balancers that really balance: moto's elbv2 is the control plane, this module the data
plane and the health checker.

- Each ALB (CreateLoadBalancer, or CloudFormation) gets a private address in its first subnet, its DNSName in
  the hosts files at that address, and a listening socket on the address's loopback twin for every
  listener port (HTTPS with a self-signed certificate). Listener created/modified/deleted -> sockets follow;
  load balancer deleted -> sockets closed, address released, name removed.
- Connections are admitted by the ALB's security groups (ingress CIDRs on the listener port; see
  `client_address` for what address a loopback client counts as); a refused client gets a TCP reset.
- Requests follow the listener's rules by priority (path-pattern, host-header, http-header,
  http-request-method, query-string, source-ip), then the default action: forward (weighted across target
  groups), fixed-response, redirect. Forward goes to a healthy target round robin; with no healthy target
  an ALB fails open to all registered ones; with none at all it answers 503. Refused -> 502, no answer
  within the idle timeout -> 504 (ALB's HTML bodies). See elb_proxy.py for the HTTP side.
- Targets: RegisterTargets/DeregisterTargets, CloudFormation's Targets and the runtime's own
  `register`/`deregister` (ECS services) share one table; DescribeTargetHealth reports what the checks
  found: initial (Elb.RegistrationInProgress, Elb.InitialHealthChecking) -> healthy/unhealthy
  (Target.ResponseCodeMismatch, Target.Timeout, Target.FailedHealthChecks); draining
  (Target.DeregistrationInProgress) for deregistration_delay.timeout_seconds; unused (Target.NotInUse)
  while no listener or rule forwards to the group.

Locks: core.LOCK (moto) is always taken before this module's _lock, never the other way round; no thread
holds either while it does network I/O or sleeps.
"""
import fnmatch
import http.client
import ipaddress
import itertools
import os
import random
import re
import ssl
import threading
import time
import urllib.parse

from . import core, net

_lock = threading.RLock()
_targets = {}        # tg arn -> {(id, port): Target}
_lbs = {}            # lb arn -> Balancer
_subscribers = []
_rr = itertools.count()

DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.Timeout": "Request timed out",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.HealthCheckDisabled": "Health checks are disabled",
    "Target.InvalidState": "Target is in the stopped state",
    "Elb.InternalError": "Health checks failed due to an internal error",
}


def _desc(reason, code=None):
    if reason == "Target.ResponseCodeMismatch":
        return f"Health checks failed with these codes: [{code}]"
    return DESCRIPTIONS.get(reason)


def _arn_parts(arn):
    p = arn.split(":")
    return p[4], p[3]       # account, region


def _backend(arn):
    from moto.elbv2.models import elbv2_backends
    a, r = _arn_parts(arn)
    return elbv2_backends[a][r]


def _ec2(arn):
    from moto.ec2.models import ec2_backends
    a, r = _arn_parts(arn)
    return ec2_backends[a][r]


# ---------------------------------------------------------------- targets and health

class Target:
    def __init__(self, tg_arn, tid, port, address):
        self.tg_arn, self.id, self.port, self.address = tg_arn, tid, int(port), address
        self.state, self.reason = "initial", "Elb.RegistrationInProgress"
        self.description = _desc(self.reason)
        self.ok = self.fail = 0
        self.drain_until = None
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.in_flight = 0

    def health(self):
        if self.state == "healthy":
            return ("healthy", None, None)
        return (self.state, self.reason, self.description)


def subscribe(fn):
    """fn(tg_arn, ip, port, state) on every state change, called without any lock held."""
    _subscribers.append(fn)


def _notify(changes):
    for tg_arn, tid, port, state in changes:
        for fn in list(_subscribers):
            try:
                fn(tg_arn, tid, port, state)
            except Exception as e:  # noqa: BLE001
                core.log(f"elb subscriber failed: {e}")


def _set(t, state, reason=None, code=None, changes=None):
    """Under _lock. Records a change for _notify."""
    before = t.state
    t.state, t.reason, t.description = state, reason, _desc(reason, code) if reason else None
    if changes is not None and before != state:
        changes.append((t.tg_arn, t.id, t.port, state))


def _address_of(tg, tid):
    """Where a target really listens: an IP target's loopback twin, an instance's private IP's twin."""
    if getattr(tg, "target_type", "ip") == "instance" or str(tid).startswith("i-"):
        inst = tg.ec2_backend.get_instance_by_id(tid)
        if inst is None:
            raise _invalid_target()
        return net.loopback_of(inst.private_ip)
    return net.loopback_of(tid)


def _invalid_target():
    from moto.elbv2.exceptions import InvalidTargetError
    return InvalidTargetError()


def _register_locked(tg, tid, port):
    """Under core.LOCK. Adds (or renews) one target and starts its checker."""
    port = int(port if port is not None else tg.port)
    try:
        address = _address_of(tg, tid)
    except ValueError:
        raise _invalid_target()
    with _lock:
        table = _targets.setdefault(tg.arn, {})
        t = table.get((tid, port))
        if t is not None and t.state != "draining":
            return t
        if t is not None:          # re-registered while draining: a new registration
            t.stop.set()
            t.wake.set()
        t = Target(tg.arn, tid, port, address)
        table[(tid, port)] = t
    tg.targets[tid] = {"Id": tid, "Port": port}
    tg.deregistered_targets.pop(tid, None)
    threading.Thread(target=_watch, args=(t,), name=f"elb-health-{tid}:{port}", daemon=True).start()
    return t


def _deregister_locked(tg, tid, port):
    """Under core.LOCK. Starts draining (deregistration_delay.timeout_seconds), then the target is gone."""
    port = int(port if port is not None else tg.port)
    delay = int(tg.attributes.get("deregistration_delay.timeout_seconds", 300) or 0)
    changes = []
    with _lock:
        t = _targets.get(tg.arn, {}).get((tid, port))
        if t is None or t.state == "draining":
            return
        _set(t, "draining", "Target.DeregistrationInProgress", changes=changes)
        t.drain_until = time.time() + delay
        t.wake.set()
        if not any(k[0] == tid and x.state != "draining" for k, x in _targets[tg.arn].items()):
            tg.targets.pop(tid, None)
            tg.deregistered_targets[tid] = {"Id": tid, "Port": port}
    threading.Thread(target=_notify, args=(changes,), daemon=True).start()


def register(tg_arn, ip, port):
    """The runtime's way in (ECS services): as RegisterTargets with one target."""
    with core.LOCK:
        tg = _backend(tg_arn).target_groups.get(tg_arn)
        if tg is None:
            from moto.elbv2.exceptions import TargetGroupNotFoundError
            raise TargetGroupNotFoundError()
        _register_locked(tg, ip, port)


def deregister(tg_arn, ip, port):
    """As DeregisterTargets with one target; a target that is not registered is no error (as on AWS)."""
    with core.LOCK:
        tg = _backend(tg_arn).target_groups.get(tg_arn)
        if tg is not None:
            _deregister_locked(tg, ip, port)


def health(tg_arn, ip, port):
    """(state, reason, description) as DescribeTargetHealth reports them (reason/description None when
    healthy)."""
    with _lock:
        t = _targets.get(tg_arn, {}).get((ip, int(port)))
        if t is None:
            return ("unused", "Target.NotRegistered", DESCRIPTIONS["Target.NotRegistered"])
        return t.health()


def _forward_tgs(action):
    data = action.data if hasattr(action, "data") else action
    arns = []
    if data.get("TargetGroupArn"):
        arns.append(data["TargetGroupArn"])
    for x in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
        if x.get("TargetGroupArn") and x["TargetGroupArn"] not in arns:
            arns.append(x["TargetGroupArn"])
    return arns


def _users(backend, tg_arn):
    """The load balancers whose listeners or rules forward to tg_arn."""
    found = []
    for lb in backend.load_balancers.values():
        for listener in lb.listeners.values():
            for rule in listener.rules.values():
                for action in rule.actions:
                    if action.type == "forward" and tg_arn in _forward_tgs(action):
                        found.append(lb.arn)
    return found


def _max_interval():
    v = os.environ.get("LOCAL_AWS_ELB_MAX_INTERVAL")
    return float(v) if v else None


def _config(tg_arn):
    """Under core.LOCK: what a check needs (or None once the group is gone)."""
    with core.LOCK:
        backend = _backend(tg_arn)
        tg = backend.target_groups.get(tg_arn)
        if tg is None:
            return None
        users = _users(backend, tg_arn)
        source = None
        for arn in users:
            b = _lbs.get(arn)
            if b and b.address:
                source = b.address
                break
        interval = float(tg.health_check_interval_seconds or 30)
        cap = _max_interval()
        if cap:
            interval = min(interval, cap)
        return {
            "in_use": bool(users), "source": source or "127.0.0.1",
            "enabled": tg.health_check_enabled,
            "protocol": (tg.health_check_protocol or tg.protocol or "HTTP").upper(),
            "port": str(tg.health_check_port or "traffic-port"),
            "path": tg.health_check_path or "/",
            "interval": interval,
            "timeout": float(tg.health_check_timeout_seconds or 5),
            "healthy": int(tg.healthy_threshold_count or 5),
            "unhealthy": int(tg.unhealthy_threshold_count or 2),
            "matcher": str((getattr(tg, "matcher", None) or {}).get("HttpCode") or "200"),
        }


def _code_matches(spec, code):
    for part in spec.replace(" ", "").split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            if int(lo) <= code <= int(hi):
                return True
        elif part and int(part) == code:
            return True
    return False


def _check(cfg, t):
    """One health check, no lock held. -> (reason or None, status code or None)."""
    port = t.port if cfg["port"] == "traffic-port" else int(cfg["port"])
    kw = {"timeout": cfg["timeout"], "source_address": (cfg["source"], 0)}
    if cfg["protocol"] == "HTTPS":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(t.address, port, context=ctx, **kw)
    elif cfg["protocol"] in ("HTTP",):
        conn = http.client.HTTPConnection(t.address, port, **kw)
    else:   # TCP health check
        import socket
        try:
            socket.create_connection((t.address, port), timeout=cfg["timeout"],
                                     source_address=(cfg["source"], 0)).close()
            return None, None
        except (TimeoutError, socket.timeout):
            return "Target.Timeout", None
        except OSError:
            return "Target.FailedHealthChecks", None
    deadline = time.monotonic() + cfg["timeout"]
    try:
        conn.request("GET", cfg["path"], headers={"Host": f"{t.id}:{port}", "User-Agent": "ELB-HealthChecker/2.0",
                                                  "Connection": "close", "Accept-Encoding": "identity"})
        resp = conn.getresponse()
        code = resp.status
        while resp.read(65536):
            if time.monotonic() > deadline:
                return "Target.Timeout", None
    except (TimeoutError, OSError) as e:
        import socket
        if isinstance(e, (TimeoutError, socket.timeout)):
            return "Target.Timeout", None
        return "Target.FailedHealthChecks", None
    except http.client.HTTPException:
        return "Target.FailedHealthChecks", None
    finally:
        conn.close()
    if _code_matches(cfg["matcher"], code):
        return None, code
    return "Target.ResponseCodeMismatch", code


def _watch(t):
    """A target's life: health checks on the group's schedule, draining, then gone."""
    while not t.stop.is_set() and not core.shutting_down():
        try:
            cfg = _config(t.tg_arn)
        except Exception as e:  # noqa: BLE001
            core.log(f"elb: reading target group {t.tg_arn} failed: {e}")
            cfg = None
        changes = []
        if cfg is None:
            with _lock:
                _targets.get(t.tg_arn, {}).pop((t.id, t.port), None)
            return
        with _lock:
            if t.stop.is_set():
                return
            if t.state == "draining":
                left = t.drain_until - time.time()
                if left <= 0:
                    table = _targets.get(t.tg_arn, {})
                    if table.get((t.id, t.port)) is t:
                        del table[(t.id, t.port)]
                    t.stop.set()
                    changes.append((t.tg_arn, t.id, t.port, "gone"))
                wait = min(max(left, 0), 1.0)
                check = False
            elif not cfg["in_use"]:
                t.ok = t.fail = 0
                _set(t, "unused", "Target.NotInUse", changes=changes)
                wait, check = 1.0, False
            elif not cfg["enabled"]:
                _set(t, "unavailable", "Target.HealthCheckDisabled", changes=changes)
                wait, check = 1.0, False
            else:
                if t.state == "unused" or (t.state == "initial" and t.reason == "Elb.RegistrationInProgress"):
                    _set(t, "initial", "Elb.InitialHealthChecking", changes=changes)
                check = True
        _notify(changes)
        if not check:
            if t.stop.is_set():
                return
            t.wake.wait(wait)
            t.wake.clear()
            continue
        started = time.monotonic()
        reason, code = _check(cfg, t)
        changes = []
        with _lock:
            if t.stop.is_set() or t.state == "draining":
                continue
            if reason is None:
                t.ok, t.fail = t.ok + 1, 0
                if t.state != "healthy" and t.ok >= cfg["healthy"]:
                    _set(t, "healthy", changes=changes)
            else:
                t.ok, t.fail = 0, t.fail + 1
                if t.state == "unhealthy" or t.fail >= cfg["unhealthy"]:
                    _set(t, "unhealthy", reason, code, changes=changes)
        _notify(changes)
        t.wake.wait(max(0.0, cfg["interval"] - (time.monotonic() - started)))
        t.wake.clear()


def _drop_group(tg_arn):
    with _lock:
        for t in _targets.pop(tg_arn, {}).values():
            t.stop.set()
            t.wake.set()


def _health_descriptions(backend, tg, wanted):
    from moto.elbv2.models import FakeHealthStatus
    hc_port = tg.health_check_port
    out = []
    with _lock:
        table = dict(_targets.get(tg.arn, {}))
    if wanted:
        for w in wanted:
            tid = w["Id"]
            port = int(w.get("Port") or tg.port)
            t = table.get((tid, port))
            if t is None and "Port" not in w:
                t = next((x for (i, _), x in table.items() if i == tid), None)
            if t is None:
                out.append(FakeHealthStatus(tid, port, hc_port, "unused", "Target.NotRegistered",
                                            DESCRIPTIONS["Target.NotRegistered"]))
            else:
                out.append(FakeHealthStatus(tid, t.port, hc_port, *t.health()))
        return out
    for t in table.values():
        out.append(FakeHealthStatus(t.id, t.port, hc_port, *t.health()))
    return out


# ---------------------------------------------------------------- load balancers

class Balancer:
    """One ALB's runtime: its address and one ListenerSocket per listener port."""

    def __init__(self, arn, name, dns_name, private_ip):
        self.arn, self.name, self.dns_name, self.private_ip = arn, name, dns_name, private_ip
        self.address = net.loopback_of(private_ip) if private_ip else None
        self.sockets = {}       # port -> (protocol, ListenerSocket)

    # -- called by ListenerSocket (connection threads, no lock held)

    def idle_timeout(self):
        with core.LOCK:
            lb = _backend(self.arn).load_balancers.get(self.arn)
            v = lb.attrs.get("idle_timeout.timeout_seconds") if lb else None
        try:
            return float(v or 60)
        except ValueError:
            return 60.0

    def admit(self, peer, port):
        ip, known = client_address(peer)
        with core.LOCK:
            lb = _backend(self.arn).load_balancers.get(self.arn)
            if lb is None:
                return None
            ec2 = _ec2(self.arn)
            groups = list(lb.security_groups or [])
            if not groups:
                d = ec2.get_default_security_group(lb.vpc_id)
                groups = [d.id] if d else []
            for gid in groups:
                sg = ec2.get_security_group_from_id(gid)
                for rule in (sg.ingress_rules if sg else []):
                    if _rule_admits(rule, port, ip, known):
                        return ip
        return None

    def serve(self, h, sock):
        try:
            decision = _decide(self, sock.port, h)
        except Exception as e:  # noqa: BLE001
            core.log(f"load balancer {self.name}: routing failed: {type(e).__name__}: {e}")
            decision = ("error", 500)
        kind = decision[0]
        if kind == "forward":
            _, t, idle, attrs = decision
            proto = "https" if sock.ssl_context is not None else "http"
            from .elb_proxy import Upstream
            try:
                h.forward(t.address, t.port, self.address, proto, sock.port, idle,
                          drop_invalid=attrs.get("routing.http.drop_invalid_header_fields.enabled") == "true",
                          xff_mode=attrs.get("routing.http.xff_header_processing.mode") or "append")
            except Upstream as e:
                core.log(f"load balancer {self.name}: {e} -> {e.code}")
                h.close_connection = True
                _error(h, e.code)
            finally:
                with _lock:
                    t.in_flight -= 1
            return
        h.drain_body()
        if kind == "fixed":
            _, code, ctype, body = decision
            h.simple(code, ctype, body)
        elif kind == "redirect":
            _, code, location = decision
            h.simple(code, "text/html", _redirect_body(code), extra=[("Location", location)])
        else:
            _error(h, decision[1])


def _error(h, code):
    from .elb_proxy import alb_error_body
    h.simple(code, "text/html", alb_error_body(code))


def _redirect_body(code):
    from .elb_proxy import alb_error_body
    return alb_error_body(code).replace(b"Service Temporarily Unavailable", b"")


def client_address(peer):
    """The address a connecting client counts as, and whether it is known (for CIDR matching).

    - A loopback twin of an address the runtime handed out (a task, the bastion, ...) is that private
      address: a VPC-internal client.
    - Any other loopback client (the tests, the demo, the fairflow CLI on this machine) is "the internet".
      Its address is LOCAL_AWS_CLIENT_IP if set (e.g. 203.0.113.7, so an IP allow-list can admit or exclude
      it); unset, it is an unknown public address that only a 0.0.0.0/0 rule admits (X-Forwarded-For then
      shows the real 127.0.0.1)."""
    private = net.private_of(peer)
    if private:
        return private, True
    v = os.environ.get("LOCAL_AWS_CLIENT_IP")
    if v:
        return v, True
    return peer, False


def _rule_admits(rule, port, ip, known):
    proto = (rule.ip_protocol or "").lower()
    if proto not in ("tcp", "-1", "6"):
        return False
    if proto != "-1" and rule.from_port is not None and not (int(rule.from_port) <= port <= int(rule.to_port)):
        return False
    cidr = (rule.ip_range or {}).get("CidrIp")
    if not cidr:
        return False    # source-group and prefix-list rules: see DESIGN.md (not matched)
    net_ = ipaddress.IPv4Network(cidr, strict=False)
    if net_.prefixlen == 0:
        return True
    return known and ipaddress.IPv4Address(ip) in net_


# ---------------------------------------------------------------- routing

def _wild(pattern, value, case):
    """ALB wildcards: * (any run) and ? (one character)."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, 0 if case else re.IGNORECASE) is not None


def _cond_matches(c, h, client_ip):
    field = c.get("Field")
    path = urllib.parse.urlsplit(h.path).path or "/"
    query = urllib.parse.urlsplit(h.path).query
    if field == "path-pattern":
        vals = (c.get("PathPatternConfig") or {}).get("Values") or c.get("Values") or []
        return any(_wild(v, path, True) for v in vals)
    if field == "host-header":
        vals = (c.get("HostHeaderConfig") or {}).get("Values") or c.get("Values") or []
        host = (h.headers.get("Host") or "").rsplit(":", 1)[0] if not (h.headers.get("Host") or "").startswith("[") \
            else h.headers.get("Host")
        return any(_wild(v, host, False) for v in vals)
    if field == "http-header":
        cfg = c.get("HttpHeaderConfig") or {}
        got = h.headers.get_all(cfg.get("HttpHeaderName") or "") or []
        return any(_wild(v, g, False) for v in cfg.get("Values") or [] for g in got)
    if field == "http-request-method":
        vals = (c.get("HttpRequestMethodConfig") or {}).get("Values") or c.get("Values") or []
        return h.command in vals
    if field == "query-string":
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        for kv in (c.get("QueryStringConfig") or {}).get("Values") or []:
            for k, v in pairs:
                if (kv.get("Key") is None or _wild(kv["Key"], k, False)) and _wild(kv.get("Value", "*"), v, False):
                    return True
        return False
    if field == "source-ip":
        vals = (c.get("SourceIpConfig") or {}).get("Values") or c.get("Values") or []
        try:
            addr = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        return any(addr in ipaddress.ip_network(v, strict=False) for v in vals)
    return False


def _final_action(actions):
    acts = sorted(actions, key=lambda a: int((a.data if hasattr(a, "data") else a).get("Order") or 0))
    acts = [a for a in acts if not str(a.type).startswith("authenticate")]
    return acts[-1] if acts else None


def _pick_target(tg_arn):
    """Under _lock: healthy targets round robin; none healthy -> all registered (fail open)."""
    ts = [t for t in _targets.get(tg_arn, {}).values() if t.state != "draining"]
    healthy = [t for t in ts if t.state in ("healthy", "unavailable")]
    pool = healthy or ts
    if not pool:
        return None
    t = pool[next(_rr) % len(pool)]
    t.in_flight += 1
    return t


def _decide(balancer, port, h):
    with core.LOCK:
        lb = _backend(balancer.arn).load_balancers.get(balancer.arn)
        if lb is None:
            return ("error", 503)
        listener = next((x for x in lb.listeners.values() if int(x.port) == port), None)
        if listener is None:
            return ("error", 503)
        attrs = dict(lb.attrs)
        idle = float(attrs.get("idle_timeout.timeout_seconds") or 60)
        rules = [r for r in listener.rules.values() if not r.is_default]
        rules.sort(key=lambda r: int(r.priority))
        rules += [r for r in listener.rules.values() if r.is_default]
        action = None
        for rule in rules:
            if all(_cond_matches(c, h, h.client_ip) for c in (rule.conditions or [])):
                action = _final_action(rule.actions)
                break
        if action is None:
            return ("error", 503)
        data = dict(action.data)
        if action.type == "forward":
            fc = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
            if fc:
                weights = [int(x.get("Weight", 1) or 0) for x in fc]
                if sum(weights) <= 0:
                    return ("error", 503)
                tg_arn = random.choices([x["TargetGroupArn"] for x in fc], weights=weights)[0]
            else:
                tg_arn = data.get("TargetGroupArn")
            with _lock:
                t = _pick_target(tg_arn)
            if t is None:
                return ("error", 503)
            return ("forward", t, idle, attrs)
        if action.type == "fixed-response":
            cfg = data.get("FixedResponseConfig") or {}
            return ("fixed", int(cfg.get("StatusCode") or 200), cfg.get("ContentType") or "text/plain",
                    (cfg.get("MessageBody") or "").encode())
        if action.type == "redirect":
            return ("redirect",) + _redirect(data.get("RedirectConfig") or {}, h, port, listener.protocol)
        return ("error", 503)


def _redirect(cfg, h, port, protocol):
    split = urllib.parse.urlsplit(h.path)
    host = (h.headers.get("Host") or "").rsplit(":", 1)[0]
    values = {"protocol": protocol.lower(), "host": host, "port": str(port),
              "path": (split.path or "/").lstrip("/"), "query": split.query}

    def sub(s):
        return re.sub(r"#\{(protocol|host|port|path|query)\}", lambda m: values[m.group(1)], s)
    proto = sub(cfg.get("Protocol") or "#{protocol}").lower()
    rport = sub(cfg.get("Port") or "#{port}")
    rhost = sub(cfg.get("Host") or "#{host}")
    rpath = sub(cfg.get("Path") or "/#{path}")
    rquery = sub(cfg.get("Query") or "#{query}")
    default = (proto == "http" and rport == "80") or (proto == "https" and rport == "443")
    location = f"{proto}://{rhost}{'' if default else ':' + rport}{rpath}{'?' + rquery if rquery else ''}"
    code = 301 if (cfg.get("StatusCode") or "HTTP_301") == "HTTP_301" else 302
    return code, location


# ---------------------------------------------------------------- keeping sockets in step with moto

def _lb_created(lb):
    """Under core.LOCK: a new ALB gets its address, its name and (later) its listeners."""
    if (lb.type or "application") != "application":
        return
    private, skipped = None, []
    for subnet in lb.subnets:
        try:
            while True:
                private = net.allocate(subnet.cidr_block, f"elb {lb.name}")
                if not _listening_on_host(net.loopback_of(private)) or len(skipped) > 50:
                    break
                skipped.append(private)     # another process (another local AWS?) listens there
                private = None
            break
        except RuntimeError:
            continue
    b = Balancer(lb.arn, lb.name, lb.dns_name, private)
    b.skipped = skipped
    with _lock:
        _lbs[lb.arn] = b
    if private:
        net.HOSTS.add(lb.dns_name, private)
        core.log(f"load balancer {lb.name}: {lb.dns_name} at {private} (listens on {b.address})")
    lb.state = "active"


def _listening_on_host(loopback):
    """Whether any process on this host already listens on that address (any port): /proc/net/tcp."""
    want = "%08X" % int.from_bytes(bytes(int(x) for x in loopback.split("."))[::-1], "big")
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "0A" and parts[1].split(":")[0] in (want,):
                    return True
    except (OSError, StopIteration, IndexError):
        pass
    return False


def _sync(lb_arn):
    """Under core.LOCK: one listening socket per listener port, with the listener's protocol."""
    from .elb_proxy import ListenerSocket, self_signed_context
    with _lock:
        b = _lbs.get(lb_arn)
    if b is None or b.address is None:
        return
    lb = _backend(lb_arn).load_balancers.get(lb_arn)
    want = {}
    if lb is not None:
        for listener in lb.listeners.values():
            want[int(listener.port)] = (listener.protocol or "HTTP").upper()
    for port, (proto, sock) in list(b.sockets.items()):
        if want.get(port) != proto:
            sock.close()
            del b.sockets[port]
    for port, proto in want.items():
        if port in b.sockets:
            continue
        if proto not in ("HTTP", "HTTPS"):
            core.log(f"load balancer {b.name}: listener protocol {proto} is not served")
            continue
        try:
            ctx = self_signed_context(b.dns_name) if proto == "HTTPS" else None
            b.sockets[port] = (proto, ListenerSocket(b, b.address, port, ctx))
        except OSError as e:
            core.log(f"load balancer {b.name}: cannot listen on {b.address}:{port}: {e}")


def _lb_deleted(lb_arn):
    with _lock:
        b = _lbs.pop(lb_arn, None)
    if b is None:
        return
    for proto, sock in b.sockets.values():
        sock.close()
    b.sockets.clear()
    if b.private_ip:
        net.HOSTS.remove(b.dns_name, b.private_ip)
        net.release(b.private_ip)
    for ip in getattr(b, "skipped", []):
        net.release(ip)
    core.log(f"load balancer {b.name}: stopped")


def _shutdown():
    with _lock:
        arns = list(_lbs)
        groups = list(_targets)
    for arn in arns:
        _lb_deleted(arn)
    for g in groups:
        _drop_group(g)


# ---------------------------------------------------------------- moto patches

def apply():
    from moto.elbv2 import models as M
    B = M.ELBv2Backend
    TG = M.FakeTargetGroup
    for name in ("create_load_balancer", "delete_load_balancer", "create_listener", "delete_listener",
                 "modify_listener", "register_targets", "deregister_targets", "describe_target_health",
                 "delete_target_group", "convert_and_validate_properties"):
        if not hasattr(B, name):
            raise RuntimeError(f"moto's ELBv2Backend has no {name}: the load balancer cannot be run")

    orig_create_lb = B.create_load_balancer

    def create_load_balancer(self, *a, **kw):
        lb = orig_create_lb(self, *a, **kw)
        if not lb.security_groups:
            d = self.ec2_backend.get_default_security_group(lb.vpc_id)
            lb.security_groups = [d.id] if d else []
        _lb_created(lb)
        return lb
    B.create_load_balancer = create_load_balancer

    orig_delete_lb = B.delete_load_balancer

    def delete_load_balancer(self, arn):
        orig_delete_lb(self, arn)
        _lb_deleted(arn)
    B.delete_load_balancer = delete_load_balancer

    orig_create_listener = B.create_listener

    def create_listener(self, load_balancer_arn, *a, **kw):
        listener = orig_create_listener(self, load_balancer_arn, *a, **kw)
        _sync(load_balancer_arn)
        _wake_all()
        return listener
    B.create_listener = create_listener

    orig_delete_listener = B.delete_listener

    def delete_listener(self, listener_arn):
        listener = orig_delete_listener(self, listener_arn)
        _sync(listener.load_balancer_arn)
        return listener
    B.delete_listener = delete_listener

    orig_modify_listener = B.modify_listener

    def modify_listener(self, arn, *a, **kw):
        listener = orig_modify_listener(self, arn, *a, **kw)
        _sync(listener.load_balancer_arn)
        _wake_all()
        return listener
    B.modify_listener = modify_listener

    orig_create_rule = B.create_rule

    def create_rule(self, *a, **kw):
        rule = orig_create_rule(self, *a, **kw)
        _wake_all()
        return rule
    B.create_rule = create_rule

    def register_targets(self, target_group_arn, instances):
        tg = self.target_groups.get(target_group_arn)
        if tg is None:
            raise M.TargetGroupNotFoundError()
        if tg.target_type in ("lambda", "alb"):
            return tg.register(instances)
        for target in instances:
            if str(target["Id"]).startswith("i-"):
                inst = tg.ec2_backend.get_instance_by_id(target["Id"])
                if inst is not None and inst.state != "running":
                    raise M.TargetNotRunning(instance_id=target["Id"])
            _register_locked(tg, target["Id"], target.get("Port"))
    B.register_targets = register_targets

    def deregister_targets(self, target_group_arn, instances):
        tg = self.target_groups.get(target_group_arn)
        if tg is None:
            raise M.TargetGroupNotFoundError()
        for target in instances:
            _deregister_locked(tg, target["Id"], target.get("Port"))
    B.deregister_targets = deregister_targets

    def describe_target_health(self, target_group_arn, targets):
        tg = self.target_groups.get(target_group_arn)
        if tg is None:
            raise M.TargetGroupNotFoundError()
        if tg.target_type in ("lambda", "alb"):
            return [tg.health_for(t, self.ec2_backend) for t in (targets or list(tg.targets.values()))]
        return _health_descriptions(self, tg, targets)
    B.describe_target_health = describe_target_health

    orig_delete_tg = B.delete_target_group

    def delete_target_group(self, target_group_arn):
        tg = orig_delete_tg(self, target_group_arn)
        _drop_group(target_group_arn)
        return tg
    B.delete_target_group = delete_target_group

    def convert_and_validate_properties(self, properties):
        # moto keeps only TargetGroupArn of a CloudFormation forward action; keep ForwardConfig too.
        out = []
        for i, action in enumerate(properties["DefaultActions"]):
            if action["Type"] not in M.ALLOWED_ACTIONS:
                raise M.InvalidActionTypeError(action["Type"], i + 1)
            out.append(dict(action))
        return out
    B.convert_and_validate_properties = convert_and_validate_properties

    tg_init = TG.__init__

    def tg_init_(self, *a, **kw):
        tg_init(self, *a, **kw)
        # AWS's default health check timeout for HTTP/HTTPS target groups is 5 s (moto says 10).
        if not kw.get("healthcheck_timeout_seconds") and (self.health_check_protocol or "") in ("HTTP", "HTTPS"):
            self.health_check_timeout_seconds = 5
    TG.__init__ = tg_init_

    tg_cfn = TG.create_from_cloudformation_json.__func__

    def tg_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        tg = tg_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        props = cloudformation_json.get("Properties", {})
        backend = M.elbv2_backends[account_id][region_name]
        attrs = {x["Key"]: x["Value"] for x in props.get("TargetGroupAttributes") or []}
        if attrs:
            backend.modify_target_group_attributes(tg.arn, attrs)
        if "HealthCheckEnabled" in props:
            tg.health_check_enabled = str(props["HealthCheckEnabled"]).lower() == "true"
        if props.get("HealthCheckTimeoutSeconds"):
            tg.health_check_timeout_seconds = int(props["HealthCheckTimeoutSeconds"])
        if props.get("Targets"):
            backend.register_targets(tg.arn, [{"Id": t["Id"], **({"Port": int(t["Port"])} if t.get("Port") else {})}
                                              for t in props["Targets"]])
        return tg
    TG.create_from_cloudformation_json = classmethod(tg_from_cfn)

    lb_cfn = M.FakeLoadBalancer.create_from_cloudformation_json.__func__

    def lb_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        lb = lb_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        attrs = {x["Key"]: x["Value"] for x in cloudformation_json.get("Properties", {}).get("LoadBalancerAttributes") or []}
        if attrs:
            lb.attrs.update(attrs)
        return lb
    M.FakeLoadBalancer.create_from_cloudformation_json = classmethod(lb_from_cfn)

    core.on_shutdown(_shutdown)


def _wake_all():
    """A group may just have come into use: its checkers look again now rather than in a second."""
    with _lock:
        for table in _targets.values():
            for t in table.values():
                t.wake.set()
