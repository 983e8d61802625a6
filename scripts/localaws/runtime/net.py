"""Addresses and names. Every address the runtime binds or dials is in 127.0.0.0/8.

A private VPC address a.b.c.d (10/8, 172.16/12, 192.168/16) has one loopback twin, 127.b.c.d, so what AWS
reports (a task's 10.0.2.37, a target's IP, an RDS endpoint's A record) maps to where it really listens
(127.0.2.37). Subnets hand out addresses from their CIDR, skipping AWS's reserved first four and last one.

Names (ALB DNS names, RDS/ElastiCache endpoints, Cloud Map records) resolve through hosts files: one
shared file (HOSTS.path, printed by the launcher as LOCAL_AWS_HOSTS_FILE) and one per sandbox (a task's
own `localhost` and hostname point at its address). Files are rewritten in place, so a bind mount of one
over /etc/hosts sees every change.
"""
import ipaddress
import os
import threading

from . import core

_lock = threading.Lock()
_allocated = {}   # private ip -> owner (str)
_twins = {}       # loopback twin -> private ip (the reverse of _allocated, for lookups per connection)


def loopback_of(private_ip: str) -> str:
    """10.0.2.37 -> 127.0.2.37. A loopback address is returned as it is; anything else is refused."""
    ip = ipaddress.IPv4Address(private_ip)
    if ip.is_loopback:
        return str(ip)
    if not ip.is_private:
        raise ValueError(f"{private_ip} is not a private address: the local AWS never dials it")
    b = ip.packed
    return f"127.{b[1]}.{b[2]}.{b[3]}"


# Loopback twins are host-wide: two local AWS processes (a test suite beside the demo) must not hand out
# the same 127.x address, or their tasks collide on ports. Each twin in use has a file here holding the
# pid of the local AWS that holds it; a file whose pid is gone is free again (after a SIGKILL).
REGISTRY = os.environ.get("LOCAL_AWS_ADDRESS_REGISTRY", "/run/fairflow-local-aws/addresses")


def _claim(twin: str) -> bool:
    os.makedirs(REGISTRY, exist_ok=True)
    path = os.path.join(REGISTRY, twin)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                pid = int(open(path).read().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid == os.getpid():
                return False
            if pid and os.path.exists(f"/proc/{pid}"):
                return False
            try:
                os.unlink(path)   # its owner is gone
            except FileNotFoundError:
                pass
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def _unclaim(twin: str) -> None:
    path = os.path.join(REGISTRY, twin)
    try:
        if int(open(path).read().strip() or 0) == os.getpid():
            os.unlink(path)
    except (OSError, ValueError):
        pass


def release_all() -> None:
    """At shutdown: every twin this process holds is free again."""
    with _lock:
        for ip in list(_allocated):
            _unclaim(loopback_of(ip))
        _allocated.clear()
        _twins.clear()


def allocate(cidr: str, owner: str) -> str:
    """A free private address in cidr (e.g. a subnet's 10.0.2.0/24), recorded for owner; its loopback twin
    is free host-wide (no other local AWS holds it)."""
    net = ipaddress.IPv4Network(cidr, strict=False)
    hosts = list(net.hosts())
    with _lock:
        for ip in hosts[3:-1] if len(hosts) > 8 else hosts:   # .1-.3 are AWS's (router, DNS, reserved)
            s = str(ip)
            twin = loopback_of(s)
            if s not in _allocated and twin not in ("127.0.0.1",) and not twin.endswith(".255") and _claim(twin):
                _allocated[s] = owner
                _twins[twin] = s
                return s
    raise RuntimeError(f"no free address left in {cidr}")


def claim(private_ip: str, owner: str) -> bool:
    """Records an address chosen elsewhere (moto's own); False if someone here or another local AWS has it."""
    with _lock:
        if private_ip in _allocated:
            return _allocated[private_ip] == owner
        if not _claim(loopback_of(private_ip)):
            return False
        _allocated[private_ip] = owner
        _twins[loopback_of(private_ip)] = private_ip
        return True


def owner_of(private_ip: str):
    """Who holds private_ip here (None if no one)."""
    with _lock:
        return _allocated.get(private_ip)


def private_of(loopback: str):
    """The private address whose twin is loopback, if this runtime handed it out (else None)."""
    with _lock:
        return _twins.get(loopback)


def allocate_in_subnet(subnet_id: str, account_id: str, region: str, owner: str) -> str:
    from moto.ec2.models import ec2_backends
    with core.LOCK:
        subnet = ec2_backends[account_id][region].get_subnet(subnet_id)
        cidr = subnet.cidr_block
    return allocate(cidr, owner)


def release(private_ip: str) -> None:
    with _lock:
        if _allocated.pop(private_ip, None) is not None:
            _twins.pop(loopback_of(private_ip), None)
            _unclaim(loopback_of(private_ip))


def apply_moto_addresses() -> None:
    """moto picks ENI addresses (instances, interfaces) at random in the subnet: take them from the plan."""
    from moto.ec2.models import elastic_network_interfaces as eni
    orig = eni.random_private_ip

    def random_private_ip(cidr=None, ipv6=False):
        if ipv6 or not cidr:
            return orig(cidr, ipv6) if cidr else orig()
        return allocate(cidr, "ec2 network interface")
    eni.random_private_ip = random_private_ip
    from moto.ec2.models import subnets

    def get_available_subnet_ip(self, instance):
        for _ in range(64):
            # the owner name the bastion's agent (ssm.py) claims and releases the address under
            ip = allocate(self.cidr_block, f"ec2 instance {getattr(instance, 'id', '?')}")
            if ip not in self._subnet_ips:
                self._subnet_ips[ip] = instance
                return ip
        raise RuntimeError(f"no free address left in {self.cidr_block}")
    subnets.Subnet.get_available_subnet_ip = get_available_subnet_ip
    core.on_shutdown(release_all)


def hostname_of(private_ip: str, region: str) -> str:
    """The host name ECS gives an awsvpc task (ip-10-0-2-37.ec2.internal / .REGION.compute.internal)."""
    dashed = private_ip.replace(".", "-")
    return f"ip-{dashed}.ec2.internal" if region == "us-east-1" else f"ip-{dashed}.{region}.compute.internal"


class Hosts:
    """Name -> loopback addresses, written to the shared hosts file and every sandbox's own file."""

    def __init__(self):
        self._lock = threading.Lock()
        self._names = {}        # name -> [loopback ip, ...] (in registration order)
        self._sandboxes = {}    # file path -> (own ip, own hostname)
        self.path = None

    def _ensure(self):
        if self.path is None:
            self.path = core.path("hosts")
            self._write(self.path, None)

    def hosts_path(self) -> str:
        with self._lock:
            self._ensure()
            return self.path

    def set(self, name: str, addresses) -> None:
        """name resolves to addresses (private or loopback; stored as loopback)."""
        with self._lock:
            self._ensure()
            self._names[name.lower().rstrip(".")] = [loopback_of(a) for a in addresses]
            self._rewrite()

    def add(self, name: str, address: str) -> None:
        with self._lock:
            self._ensure()
            lst = self._names.setdefault(name.lower().rstrip("."), [])
            lb = loopback_of(address)
            if lb not in lst:
                lst.append(lb)
            self._rewrite()

    def remove(self, name: str, address: str = None) -> None:
        with self._lock:
            key = name.lower().rstrip(".")
            if address is None:
                self._names.pop(key, None)
            elif key in self._names:
                lb = loopback_of(address)
                self._names[key] = [a for a in self._names[key] if a != lb]
                if not self._names[key]:
                    del self._names[key]
            self._rewrite()

    def resolve(self, name: str):
        with self._lock:
            return list(self._names.get(name.lower().rstrip("."), []))

    def sandbox_file(self, file_path: str, own_ip: str, own_hostname: str) -> str:
        """A hosts file for one sandbox: localhost and its host name are its own address."""
        with self._lock:
            self._ensure()
            self._sandboxes[file_path] = (loopback_of(own_ip), own_hostname)
            self._write(file_path, self._sandboxes[file_path])
        return file_path

    def drop_sandbox(self, file_path: str) -> None:
        with self._lock:
            self._sandboxes.pop(file_path, None)

    def _rewrite(self):
        self._write(self.path, None)
        for p, own in list(self._sandboxes.items()):
            if os.path.exists(p):
                self._write(p, own)

    def _write(self, file_path, own):
        lines = ["# written by fairflow's local AWS"]
        if own:
            ip, hostname = own
            short = hostname.split(".")[0]
            # The host name first: gethostbyaddr/getfqdn (Airflow's hostname_callable) give the first name,
            # and on ECS a task's FQDN is its ip-10-0-x-y name, not localhost.
            lines.append(f"{ip}\t{hostname} {short} localhost")
        else:
            lines.append("127.0.0.1\tlocalhost")
        for name, addrs in sorted(self._names.items()):
            for a in addrs:
                lines.append(f"{a}\t{name}")
        data = ("\n".join(lines) + "\n").encode()
        # In place (not rename): a bind mount of this file over /etc/hosts keeps seeing it.
        fd = os.open(file_path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)


HOSTS = Hosts()
