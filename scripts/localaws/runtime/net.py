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


def loopback_of(private_ip: str) -> str:
    """10.0.2.37 -> 127.0.2.37. A loopback address is returned as it is; anything else is refused."""
    ip = ipaddress.IPv4Address(private_ip)
    if ip.is_loopback:
        return str(ip)
    if not ip.is_private:
        raise ValueError(f"{private_ip} is not a private address: the local AWS never dials it")
    b = ip.packed
    return f"127.{b[1]}.{b[2]}.{b[3]}"


def allocate(cidr: str, owner: str) -> str:
    """A free private address in cidr (e.g. a subnet's 10.0.2.0/24), recorded for owner."""
    net = ipaddress.IPv4Network(cidr, strict=False)
    hosts = list(net.hosts())
    with _lock:
        for ip in hosts[3:-1] if len(hosts) > 8 else hosts:   # .1-.3 are AWS's (router, DNS, reserved)
            s = str(ip)
            twin = loopback_of(s)
            if s not in _allocated and twin not in ("127.0.0.1",) and not twin.endswith(".255"):
                _allocated[s] = owner
                return s
    raise RuntimeError(f"no free address left in {cidr}")


def allocate_in_subnet(subnet_id: str, account_id: str, region: str, owner: str) -> str:
    from moto.ec2.models import ec2_backends
    with core.LOCK:
        subnet = ec2_backends[account_id][region].get_subnet(subnet_id)
        cidr = subnet.cidr_block
    return allocate(cidr, owner)


def release(private_ip: str) -> None:
    with _lock:
        _allocated.pop(private_ip, None)


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
            lines.append(f"{ip}\tlocalhost {hostname} {short}")
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
