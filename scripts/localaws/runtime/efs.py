"""EFS file systems as directories (`core.path("efs", fs_id)`), access points as sub-directories.

- CreateFileSystem makes the directory (root:root 0755, as a new EFS root is); DeleteFileSystem removes it.
- CreateMountTarget takes its address from the runtime's plan (`net.allocate_in_subnet`), so
  DescribeMountTargets reports an address no other owner has; `fs-xxx.efs.REGION.amazonaws.com` resolves
  (net.HOSTS) to the file system's mount targets. DeleteMountTarget releases both.
- CreateAccessPoint creates its RootDirectory.Path (with CreationInfo's owner uid/gid and permissions) if it
  does not exist yet; `host_path` creates it again if something removed it, as EFS does on first mount.
- `host_path(account, region, fs_id, root_directory="/", access_point_id=None)` is what the ECS task engine
  and the bastion bind-mount: the access point's root (or the file system's root) joined with the volume's
  rootDirectory. A missing file system, mount target, access point or directory raises ValueError with the
  text ECS puts in stoppedReason.
"""
import functools
import os
import posixpath
import shutil

from . import core, net

_EFS_UTILS = "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: "


def fs_dir(fs_id: str) -> str:
    return core.path("efs", fs_id)


def dns_name(fs_id: str, region: str) -> str:
    return f"{fs_id}.efs.{region}.amazonaws.com"


def _backend(account, region):
    from moto.efs.models import efs_backends
    return efs_backends[account][region]


def _inside(base: str, rel: str) -> str:
    """base joined with an absolute-or-relative EFS path, never escaping base."""
    clean = posixpath.normpath("/" + (rel or "/")).lstrip("/")
    return os.path.join(base, clean) if clean and clean != "." else base


def _make_root(base: str, root_directory: dict) -> str:
    """The access point's root under the file system directory; created with CreationInfo if missing."""
    path = _inside(base, (root_directory or {}).get("Path", "/"))
    if os.path.isdir(path):
        return path
    info = (root_directory or {}).get("CreationInfo")
    if not info:
        return path          # EFS does not create it: the mount fails (host_path says so)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, mode=0o755, exist_ok=True)
    os.makedirs(path, exist_ok=True)
    os.chown(path, int(info.get("OwnerUid", 0)), int(info.get("OwnerGid", 0)))
    os.chmod(path, int(str(info.get("Permissions", "755")), 8))
    return path


def host_path(account, region, fs_id, root_directory="/", access_point_id=None) -> str:
    """The host directory a task's EFS volume mounts (see the module text). Holds core.LOCK briefly."""
    name = dns_name(fs_id, region)
    with core.LOCK:
        be = _backend(account, region)
        fs = be.file_systems_by_id.get(fs_id)
        if fs is None or not list(fs.iter_mount_targets()):
            raise ValueError(
                f'{_EFS_UTILS}Failed to resolve "{name}" - check that your file system ID is correct, and ensure '
                "that the VPC has an EFS mount target for this file system ID. See "
                "https://docs.aws.amazon.com/console/efs/mount-dns-name for more detail. : unsuccessful EFS "
                "utils command execution; code: 1")
        ap = None
        if access_point_id:
            ap = be.access_points.get(access_point_id)
            if ap is None or ap.file_system_id != fs_id:
                raise ValueError(f"{_EFS_UTILS}b'mount.nfs4: access denied by server while mounting 127.0.0.1:/' "
                                 ": unsuccessful EFS utils command execution; code: 32")
            root_spec = dict(ap.root_directory or {"Path": "/"})
        else:
            root_spec = {"Path": "/"}
    base = fs_dir(fs_id)
    os.makedirs(base, exist_ok=True)
    top = _make_root(base, root_spec)
    if not os.path.isdir(top):
        raise ValueError(f"{_EFS_UTILS}b'mount.nfs4: access denied by server while mounting 127.0.0.1:/' "
                         ": unsuccessful EFS utils command execution; code: 32")
    want = _inside(top, root_directory or "/")
    if not os.path.isdir(want):
        shown = posixpath.normpath("/" + (root_directory or "/"))
        raise ValueError(f"{_EFS_UTILS}b'mount.nfs4: mounting {name}:{shown} failed, reason given by server: "
                         "No such file or directory' : unsuccessful EFS utils command execution; code: 32")
    return want


def apply():
    from moto.efs import models as M
    B = M.EFSBackend
    orig_create_fs, orig_delete_fs = B.create_file_system, B.delete_file_system
    orig_create_mt, orig_delete_mt = B.create_mount_target, B.delete_mount_target
    orig_create_ap = B.create_access_point

    @functools.wraps(orig_create_fs)
    def create_file_system(self, *a, **kw):
        fs = orig_create_fs(self, *a, **kw)
        d = fs_dir(fs.file_system_id)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        return fs

    @functools.wraps(orig_delete_fs)
    def delete_file_system(self, file_system_id):
        out = orig_delete_fs(self, file_system_id)
        shutil.rmtree(fs_dir(file_system_id), ignore_errors=True)
        return out

    @functools.wraps(orig_create_mt)
    def create_mount_target(self, file_system_id, subnet_id, ip_address=None, security_groups=None):
        allocated = None
        if ip_address is None and file_system_id in self.file_systems_by_id:
            try:
                allocated = ip_address = net.allocate_in_subnet(subnet_id, self.account_id, self.region_name,
                                                                f"efs {file_system_id}")
            except Exception:  # noqa: BLE001 - unknown subnet: moto raises the AWS error below
                ip_address = None
        try:
            mt = orig_create_mt(self, file_system_id, subnet_id, ip_address, security_groups)
        except Exception:
            if allocated:
                net.release(allocated)
            raise
        net.HOSTS.add(dns_name(file_system_id, self.region_name), mt.ip_address)
        return mt

    @functools.wraps(orig_delete_mt)
    def delete_mount_target(self, mount_target_id):
        mt = self.mount_targets_by_id.get(mount_target_id)
        out = orig_delete_mt(self, mount_target_id)
        if mt is not None:
            net.HOSTS.remove(dns_name(mt.file_system_id, self.region_name), mt.ip_address)
            net.release(mt.ip_address)
        return out

    @functools.wraps(orig_create_ap)
    def create_access_point(self, client_token, tags, file_system_id, posix_user, root_directory):
        if file_system_id not in self.file_systems_by_id:
            from moto.efs.exceptions import FileSystemNotFound
            raise FileSystemNotFound(file_system_id)
        ap = orig_create_ap(self, client_token, tags, file_system_id, posix_user, root_directory)
        try:
            base = fs_dir(file_system_id)
            os.makedirs(base, exist_ok=True)
            _make_root(base, ap.root_directory)
        except (OSError, ValueError) as e:
            core.log(f"efs: access point {ap.access_point_id}: creating its root directory failed: {e}")
        return ap

    B.create_file_system, B.delete_file_system = create_file_system, delete_file_system
    B.create_mount_target, B.delete_mount_target = create_mount_target, delete_mount_target
    B.create_access_point = create_access_point
