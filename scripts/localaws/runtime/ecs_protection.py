"""ECS task scale-in protection: UpdateTaskProtection / GetTaskProtection (moto has neither) and the container
agent's endpoint a task uses on itself, `PUT|GET $ECS_AGENT_URI/task-protection/v1/state`.

A protected task is never chosen by the service scheduler (ecs_services) for a scale-in or a deployment;
protection ends when the task clears it or when it expires (ExpiresInMinutes, default 120, 1..2880).
The state lives on the moto Task (`_protection` = expiry datetime, or absent); `is_protected(task)` is what
the scheduler asks. LOCAL_AWS_TASK_PROTECTION_MINUTE (seconds, default 60) is how long one minute of
ExpiresInMinutes lasts, so tests can watch protection expire.
"""
import datetime
import json
import os
import uuid

from . import core

DEFAULT_MINUTES = 120
MAX_MINUTES = 2880
MAX_UPDATE_TASKS = 10
MAX_GET_TASKS = 100


def _minute():
    return float(os.environ.get("LOCAL_AWS_TASK_PROTECTION_MINUTE", "60"))


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def expiry(task):
    """The protection's expiry (UTC datetime) of a moto Task, or None when it is not protected (an expired
    protection is cleared here, as ECS clears protectionEnabled)."""
    exp = getattr(task, "_protection", None)
    if exp is not None and exp <= _now():
        task._protection = exp = None
    return exp


def is_protected(task):
    return expiry(task) is not None


# ---------------------------------------------------------------------------------------- the ECS API

def _invalid(message):
    from moto.ecs.exceptions import InvalidParameterException
    return InvalidParameterException(message)


def _find(backend, cluster, ref):
    tid = ref.split("/")[-1]
    for arn, task in backend.tasks.get(cluster.name, {}).items():
        if arn == ref or arn.endswith("/" + tid):
            return task
    return None


def _arn_of(backend, cluster, ref):
    if ref.startswith("arn:"):
        return ref
    return f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:task/{cluster.name}/{ref}"


def _entry(task):
    exp = expiry(task)
    out = {"taskArn": task.task_arn, "protectionEnabled": exp is not None}
    if exp is not None:
        out["expirationDate"] = exp
    return out


def _lookup(backend, cluster, refs):
    """([(ref, task)], failures) with ECS's failure reasons: MISSING (no such task in the cluster),
    TASK_NOT_VALID (a task that no service runs)."""
    found, failures = [], []
    for ref in refs:
        task = _find(backend, cluster, ref)
        if task is None:
            failures.append({"arn": _arn_of(backend, cluster, ref), "reason": "MISSING"})
        elif not str(getattr(task, "group", "") or "").startswith("service:"):
            failures.append({"arn": task.task_arn, "reason": "TASK_NOT_VALID"})
        else:
            found.append(task)
    return found, failures


def update(backend, cluster, refs, enabled, minutes=None):
    """UpdateTaskProtection (LOCK held): -> (protectedTasks, failures). Raises ECS's exceptions."""
    cl = backend._get_cluster(cluster or "default")
    refs = list(refs or [])
    if not 1 <= len(refs) <= MAX_UPDATE_TASKS:
        raise _invalid(f"tasks must contain between 1 and {MAX_UPDATE_TASKS} task IDs or ARNs.")
    if enabled and minutes is not None and not 1 <= int(minutes) <= MAX_MINUTES:
        raise _invalid(f"expiresInMinutes must be between 1 and {MAX_MINUTES}.")
    tasks, failures = _lookup(backend, cl, refs)
    for task in tasks:
        if enabled:
            task._protection = _now() + datetime.timedelta(
                seconds=int(minutes if minutes is not None else DEFAULT_MINUTES) * _minute())
        else:
            task._protection = None
    if tasks:
        from . import ecs_services
        ecs_services.wake()     # a released task may be stopped at once
    return [_entry(t) for t in tasks], failures


def get(backend, cluster, refs=None):
    """GetTaskProtection (LOCK held): -> (protectedTasks, failures); no refs = every service task of the
    cluster that is meant to run."""
    cl = backend._get_cluster(cluster or "default")
    if refs:
        if len(refs) > MAX_GET_TASKS:
            raise _invalid(f"tasks can contain at most {MAX_GET_TASKS} task IDs or ARNs.")
        tasks, failures = _lookup(backend, cl, refs)
    else:
        tasks = [t for t in backend.tasks.get(cl.name, {}).values()
                 if str(getattr(t, "group", "") or "").startswith("service:") and t.desired_status == "RUNNING"]
        failures = []
    return [_entry(t) for t in tasks], failures


# ---------------------------------------------------------------------------------------- the agent endpoint

def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def _agent_error(status, arn, code, message, request_id=None):
    out = {"error": {"Arn": arn, "Code": code, "Message": message}} if arn else \
        {"error": {"Code": code, "Message": message}}
    if request_id:
        out["requestID"] = request_id
    return status, out


def agent(task_arn, method, rest, body):
    """$ECS_AGENT_URI/task-protection/v1/state as the ECS agent answers it: the agent calls ECS with the
    task role's credentials, so no role is 403 and a role without ecs:Update/GetTaskProtection is ECS's
    AccessDeniedException; a success is {"protection": {ExpirationDate, ProtectionEnabled, TaskArn}},
    an ECS failure (e.g. TASK_NOT_VALID) {"failure": {Arn, Detail, Reason}}, errors {"error": {...}}."""
    from . import creds, ecs_tasks
    if rest != ["task-protection", "v1", "state"]:
        return 404, {"error": {"Code": "ResourceNotFoundException", "Message": "not provided by the local AWS"}}
    if method == "PUT":
        try:
            req = json.loads(body or b"null")
            minutes = req.get("ExpiresInMinutes") if isinstance(req, dict) else None
            if not isinstance(req, dict) or set(req) - {"ProtectionEnabled", "ExpiresInMinutes"} \
                    or (minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int))) \
                    or not isinstance(req.get("ProtectionEnabled", False), (bool, type(None))):
                raise ValueError(req)   # as the agent's Go decoder: unknown fields and wrong types fail
        except ValueError:
            return _agent_error(400, None, "InvalidParameterException",
                                "UpdateTaskProtection: failed to decode request")
        if not isinstance(req.get("ProtectionEnabled"), bool):
            return _agent_error(400, task_arn, "InvalidParameterException",
                                "Invalid request: does not contain 'ProtectionEnabled' field")
        action = "ecs:UpdateTaskProtection"
    elif method == "GET":
        action = "ecs:GetTaskProtection"
    else:
        return 405, {"error": {"Code": "InvalidParameterException", "Message": "method not allowed"}}
    run = ecs_tasks.run_of(task_arn)
    if run is None:
        return _agent_error(404, None, "ResourceNotFoundException", "Failed to find a task for the request")
    role = getattr(run.td, "task_role_arn", None)
    if not role:
        return _agent_error(403, task_arn, "AccessDeniedException",
                            "Invalid Request: no task IAM role credentials available for task")
    request_id = str(uuid.uuid4())
    with core.LOCK:
        if not creds.role_allows(role, run.account, run.region, action, task_arn):
            return _agent_error(400, task_arn, "AccessDeniedException",
                                f"User: arn:aws:sts::{run.account}:assumed-role/{role.split('/')[-1]}/{run.id} is "
                                f"not authorized to perform: {action} on resource: {task_arn} because no "
                                f"identity-based policy allows the {action} action", request_id)
        try:
            if method == "PUT":
                done, failures = update(run.backend, run.task.cluster_name, [task_arn], req["ProtectionEnabled"],
                                        req.get("ExpiresInMinutes"))
            else:
                done, failures = get(run.backend, run.task.cluster_name, [task_arn])
        except Exception as e:  # noqa: BLE001 - ECS's exception, passed on as the agent does
            return _agent_error(400, task_arn, getattr(e, "code", None) or type(e).__name__,
                                getattr(e, "message", None) or str(e), request_id)
    if failures:
        f = failures[0]
        return 200, {"failure": {"Arn": f["arn"], "Detail": f.get("detail"), "Reason": f["reason"]}}
    p = done[0]
    return 200, {"protection": {"ExpirationDate": _iso(p.get("expirationDate")),
                                "ProtectionEnabled": p["protectionEnabled"], "TaskArn": p["taskArn"]}}


# ---------------------------------------------------------------------------------------- moto patches

def apply():
    from moto.core.responses import ActionResult
    from moto.ecs import responses as R
    from . import creds

    def update_task_protection(self):
        enabled = self._get_param("protectionEnabled")
        if enabled is None:
            raise _invalid("protectionEnabled is required.")
        done, failures = update(self.ecs_backend, self._get_param("cluster", "default"), self._get_param("tasks"),
                                bool(enabled), self._get_param("expiresInMinutes"))
        return ActionResult({"protectedTasks": done, "failures": failures})

    def get_task_protection(self):
        done, failures = get(self.ecs_backend, self._get_param("cluster", "default"), self._get_param("tasks"))
        return ActionResult({"protectedTasks": done, "failures": failures})

    R.EC2ContainerServiceResponse.update_task_protection = update_task_protection
    R.EC2ContainerServiceResponse.get_task_protection = get_task_protection
    creds.set_agent_handler(agent)
