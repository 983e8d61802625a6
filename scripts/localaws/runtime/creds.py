"""The ECS container credentials endpoint (task role credentials) and the task metadata endpoint v4.

On ECS the agent serves http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. Here one small HTTP
server listens on 127.0.0.1:PORT (a free port) and every task gets
  AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/v2/credentials/<random id>
  AWS_CONTAINER_AUTHORIZATION_TOKEN=<random token>     (sent back as the Authorization header)
which every AWS SDK honours. Each GET returns temporary credentials of the task role, made by moto's STS
AssumeRole (session name = the task id, as ECS does), so moto's IAM authorization evaluates the role's
policies for every call the task makes. Credentials are cached until 15 minutes before they expire.

The same server answers ECS_CONTAINER_METADATA_URI_V4 (`register_metadata`): GET URI (the container) and
GET URI/task (the task), with the fields of ECS's task metadata v4 that the runtime knows (no stats); and
the container agent's API, ECS_AGENT_URI = http://127.0.0.1:PORT/api/<the same id> (`agent_uri`): its paths
go to the handler `set_agent_handler` installed (ecs_protection: /task-protection/v1/state).

Also here: `can_read_secret(role_arn, secret_arn)` evaluates an execution role's policies (moto's IAM
policy evaluation) for secretsmanager:GetSecretValue, as ECS does before it injects `secrets`.
"""
import datetime
import json
import secrets as _secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import core

DURATION = 6 * 3600
_lock = threading.Lock()
_server = None
_entries = {}      # id -> dict(role_arn, token, account, region, session, cached)
_metadata = {}     # id -> fn() -> (container metadata, task metadata): the task metadata endpoint v4
_agent_handler = None   # fn(task_arn, method, path parts after /api/ID, body bytes) -> (status, JSON body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _agent(self, method):
        parts = self.path.split("?")[0].rstrip("/").split("/")
        with _lock:
            fn = _metadata.get(parts[2]) if len(parts) >= 3 else None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if fn is None or _agent_handler is None:
            return self._send(404, {"error": {"Code": "ResourceNotFoundException",
                                              "Message": "Failed to find a task for the request"}})
        try:
            code, out = _agent_handler(fn.task_arn, method, parts[3:], body)
        except Exception as e:  # noqa: BLE001 - the agent's shape, never a traceback
            core.log(f"agent endpoint {method} {self.path}: {e!r}")
            code, out = 500, {"error": {"Arn": fn.task_arn, "Code": "ServerException", "Message": str(e)}}
        return self._send(code, out)

    def do_PUT(self):  # noqa: N802
        if self.path.startswith("/api/"):
            return self._agent("PUT")
        return self._send(405, {"message": "method not allowed"})

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/api/"):
            return self._agent("GET")
        parts = self.path.split("?")[0].rstrip("/").split("/")
        if len(parts) >= 3 and parts[1] in ("v3", "v4"):
            with _lock:
                fn = _metadata.get(parts[2])
            if fn is None:
                return self._send(404, {"message": "no such container"})
            try:
                container, task = fn()
            except Exception as e:  # noqa: BLE001
                return self._send(500, {"message": str(e)})
            rest = parts[3:]
            if not rest:
                return self._send(200, container)
            if rest == ["task"]:
                return self._send(200, task)
            return self._send(404, {"message": "not provided by the local AWS"})
        cid = parts[-1] if len(parts) >= 4 and parts[1] == "v2" and parts[2] == "credentials" else None
        with _lock:
            entry = _entries.get(cid)
        if entry is None:
            return self._send(404, {"code": "NotFound", "message": "Credentials for the task were not found"})
        if self.headers.get("Authorization") != entry["token"]:
            return self._send(401, {"code": "AccessDenied", "message": "Invalid authorization token"})
        try:
            return self._send(200, _credentials(entry))
        except Exception as e:  # noqa: BLE001
            core.log(f"credentials for {entry['role_arn']} failed: {e}")
            return self._send(500, {"code": "InternalServerError", "message": str(e)})


def _credentials(entry):
    now = datetime.datetime.now(datetime.timezone.utc)
    cached = entry.get("cached")
    if cached and cached["_exp"] - now > datetime.timedelta(minutes=15):
        return {k: v for k, v in cached.items() if not k.startswith("_")}
    from moto.utilities.utils import get_partition
    from moto.sts.models import sts_backends
    with core.LOCK:
        backend = sts_backends[entry["account"]][get_partition(entry["region"])]
        role = backend.assume_role(region_name=entry["region"], role_session_name=entry["session"],
                                   role_arn=entry["role_arn"], policy=None, duration=DURATION, external_id=None)
        exp = role.expiration
        if exp.tzinfo is None:
            exp = exp.replace(tzinfo=datetime.timezone.utc)
        out = {"AccessKeyId": role.access_key_id, "SecretAccessKey": role.secret_access_key,
               "Token": role.session_token, "RoleArn": entry["role_arn"],
               "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"), "_exp": exp}
    entry["cached"] = out
    return {k: v for k, v in out.items() if not k.startswith("_")}


def _ensure_server():
    global _server
    with _lock:
        if _server is not None:
            return _server
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, name="ecs-credentials", daemon=True).start()
        _server = srv
        core.log(f"container credentials endpoint on 127.0.0.1:{srv.server_address[1]}")

        def stop():
            srv.shutdown()
            srv.server_close()
        core.on_shutdown(stop)
        return srv


def port():
    """The endpoint's port on 127.0.0.1 (None until the first task with a role)."""
    return _server.server_address[1] if _server is not None else None


def register(task_arn, role_arn, account, region, session):
    """Environment variables that give a task's containers its role's credentials (empty without a role)."""
    if not role_arn:
        return {}
    srv = _ensure_server()
    cid = _secrets.token_hex(16)
    token = _secrets.token_urlsafe(24)
    with _lock:
        _entries[cid] = {"role_arn": role_arn, "token": token, "account": account, "region": region,
                         "session": session, "task_arn": task_arn}
    return {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{srv.server_address[1]}/v2/credentials/{cid}",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token}


def unregister(task_arn):
    with _lock:
        for cid in [c for c, e in _entries.items() if e["task_arn"] == task_arn]:
            del _entries[cid]
        for mid in [m for m, fn in _metadata.items() if getattr(fn, "task_arn", None) == task_arn]:
            del _metadata[mid]


def register_metadata(task_arn, fn):
    """ECS_CONTAINER_METADATA_URI_V4 for one container: GET it -> fn()[0], GET it + /task -> fn()[1]."""
    srv = _ensure_server()
    mid = _secrets.token_hex(16)
    fn.task_arn = task_arn
    with _lock:
        _metadata[mid] = fn
    return f"http://127.0.0.1:{srv.server_address[1]}/v4/{mid}"


def agent_uri(metadata_uri):
    """ECS_AGENT_URI of the container whose ECS_CONTAINER_METADATA_URI_V4 is metadata_uri (as ECS, one id)."""
    return metadata_uri.replace("/v4/", "/api/")


def set_agent_handler(fn):
    """fn(task_arn, method, rest, body) -> (status, JSON-able body) answers $ECS_AGENT_URI/<rest...>."""
    global _agent_handler
    _agent_handler = fn


def _role_policies(iam, role_name):
    """The role's policy documents (inline and attached) as JSON strings/objects moto's IAMPolicy takes."""
    docs = []
    for name in iam.list_role_policies(role_name):
        _, doc = iam.get_role_policy(role_name, name)
        docs.append(doc)
    attached, _ = iam.list_attached_role_policies(role_name)
    docs += attached
    return docs


def can_read_secret(role_arn, account, region, secret_arn, action="secretsmanager:GetSecretValue"):
    """(allowed, None) for `action` (GetSecretValue, or ssm:GetParameters) by role_arn on the resource. Caller
    holds LOCK. See role_allows."""
    return role_allows(role_arn, account, region, action, secret_arn), None


def role_allows(role_arn, account, region, action, resource):
    """Whether role_arn's policies allow `action` on `resource` (moto's IAM policy evaluation). Caller holds LOCK.
    A role that does not exist in IAM is treated as allowed (moto's CloudFormation may not create IAM
    roles the way AWS does); a role that exists is evaluated by moto's policy evaluation."""
    from moto.utilities.utils import get_partition
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.iam.models import iam_backends
    iam = iam_backends[account][get_partition(region)]
    role_name = role_arn.split("/")[-1]
    try:
        iam.get_role(role_name)
    except Exception:  # noqa: BLE001 - no such role
        return True
    permitted = False
    for doc in _role_policies(iam, role_name):
        r = IAMPolicy(doc).is_action_permitted(action, resource)
        if r == PermissionResult.DENIED:
            return False
        if r == PermissionResult.PERMITTED:
            permitted = True
    return permitted


def apply():
    pass
