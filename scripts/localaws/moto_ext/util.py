"""Small helpers shared by the extensions."""
import inspect
import re


def call(fn, **kw):
    """Call a moto backend method with the keyword arguments it takes.

    Drops arguments the method does not take and passes None for required ones not given, so small
    signature drift between moto versions does not break an extension.
    """
    sig = inspect.signature(fn)
    args = {}
    for name, p in sig.parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in kw:
            args[name] = kw[name]
        elif p.default is p.empty:
            args[name] = None
    return fn(**args)


def tags_list(tags):
    """CFN Tags ([{Key, Value}]) or a dict → [{Key, Value}] with string values."""
    if not tags:
        return []
    if isinstance(tags, dict):
        return [{"Key": k, "Value": str(v)} for k, v in tags.items()]
    return [{"Key": t["Key"], "Value": str(t.get("Value", ""))} for t in tags if isinstance(t, dict) and "Key" in t]


def merge_tags(*sources):
    out = {}
    for s in sources:
        for t in tags_list(s):
            out[t["Key"]] = t["Value"]
    return [{"Key": k, "Value": v} for k, v in out.items()]


def bool_of(v, default=False):
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    return str(v).lower() == "true"


def int_of(v, default=None):
    if v is None or v == "":
        return default
    return int(v)


_CAMEL_EXCEPTIONS = {"EFSVolumeConfiguration": "efsVolumeConfiguration", "IAM": "iam",
                     "FilesystemId": "fileSystemId", "ECSManagedTags": "ecsManagedTags"}
# Keys whose children are user data (keep their keys as they are).
_OPAQUE = {"Options", "DockerLabels", "SystemControls", "secretOptions"}


def camel(key):
    if key in _CAMEL_EXCEPTIONS:
        return _CAMEL_EXCEPTIONS[key]
    m = re.match(r"^([A-Z]+)([A-Z][a-z].*)?$", key)
    if m and m.group(2) is not None and len(m.group(1)) > 1:  # e.g. "IPCMode" -> "ipcMode"
        return m.group(1)[:-1].lower() + m.group(1)[-1] + m.group(2)
    return key[:1].lower() + key[1:]


def to_api(obj, parent=None):
    """CFN PascalCase properties → ECS API camelCase, keeping user-supplied map keys."""
    if isinstance(obj, dict):
        if parent in _OPAQUE:
            return dict(obj)
        return {camel(k): to_api(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_api(v, parent) for v in obj]
    return obj
