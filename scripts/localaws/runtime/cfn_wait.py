"""CloudFormation waits like AWS (under --run).

CreateStack, ExecuteChangeSet, UpdateStack and DeleteStack return at once with the stack *_IN_PROGRESS; the
engine (moto_ext/cfn_engine.py) runs in a background thread, one per operation, holding core.LOCK while it
creates or deletes a resource and releasing it while it waits:
- AWS::ECS::Service stays CREATE_IN_PROGRESS until its deployment reaches a steady state (CREATE_COMPLETE),
  or CREATE_FAILED with CloudFormation's text when the deployment circuit breaker fails it (then the stack
  rolls back as the engine does);
- AWS::RDS::DBInstance stays CREATE_IN_PROGRESS until the MariaDB server is available (rds.wait_available);
- an update waits for each changed service's new deployment (UPDATE_FAILED + UPDATE_ROLLBACK_* when its
  circuit breaker fails it);
- a deleted service's resource stays DELETE_IN_PROGRESS until its tasks have stopped.
"""
import os
import threading
import time
import uuid

from . import core

SERVICE_TIMEOUT = float(os.environ.get("LOCAL_AWS_CFN_SERVICE_TIMEOUT", "3600"))
POLL = 0.5
_local = threading.local()
_ops = {}           # stack id -> the thread running its current operation


def _in_cfn_thread():
    return getattr(_local, "cfn", False)


def _sleep_unlocked(seconds):
    """Sleep with core.LOCK fully released (it is re-entrant: the engine may hold it more than once)."""
    lock = core.LOCK
    if lock._is_owned():
        state = lock._release_save()
        try:
            time.sleep(seconds)
        finally:
            lock._acquire_restore(state)
    else:
        time.sleep(seconds)


def _cb_reason():
    return ("Resource handler returned message: \"Error occurred during operation 'ECS Deployment Circuit "
            f"Breaker was triggered'.\" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: GeneralServiceException)")


def service_poll(svc, deployment_id, stack=None):
    """poll() for a service's deployment: None while in progress, "" once steady, else CloudFormation's reason."""
    from . import ecs_services
    deadline = time.time() + SERVICE_TIMEOUT

    def poll():
        if stack is not None and getattr(stack, "_ext_cancel", False):
            return "Resource creation cancelled"
        state, _ = ecs_services.service_state(svc, deployment_id)
        if state == "COMPLETED":
            return ""
        if state == "FAILED":
            return _cb_reason()
        if time.time() > deadline or core.shutting_down():
            return "Resource timed out waiting for completion"
        return None
    return poll


def wait_service(svc, deployment_id):
    """Blocks (LOCK released) until deployment_id is steady: None, else CloudFormation's failure reason."""
    poll = service_poll(svc, deployment_id)
    while True:
        r = poll()
        if r is not None:
            return r or None
        _sleep_unlocked(POLL)


def _rds_poll(res, stack=None):
    try:
        from . import rds
    except ImportError:
        return None
    fn = getattr(rds, "wait_available", None)
    db_id = getattr(res, "db_instance_identifier", None)
    if fn is None or not db_id:
        return None
    deadline = time.time() + SERVICE_TIMEOUT

    def poll():
        if stack is not None and getattr(stack, "_ext_cancel", False):
            return "Resource creation cancelled"
        try:
            fn(db_id, timeout=0, account_id=getattr(res, "account_id", None))
            return ""
        except Exception as e:  # noqa: BLE001 - rds.DBNotAvailable(reason)
            msg = str(e)
            if msg.endswith("not found"):
                return ""      # not a server the runtime runs
            if "did not become available within" in msg:
                if time.time() > deadline or core.shutting_down():
                    return "Resource timed out waiting for completion"
                return None
            return f"Resource handler returned message: \"{msg}\" (HandlerErrorCode: NotStabilized)"
    return poll


class Waiter:
    """cfn_engine's waiter: which created/deleted resources CloudFormation waits for."""

    @staticmethod
    def created(lid, rtype, res, rmap):
        if not _in_cfn_thread():
            return None
        from . import ecs_services
        stack = getattr(rmap, "_ext_stack", None)
        if rtype == "AWS::ECS::Service":
            return service_poll(res, ecs_services.primary_id(res), stack)
        if rtype == "AWS::RDS::DBInstance":
            return _rds_poll(res, stack)
        return None

    @staticmethod
    def deleted(lid, rtype, res, rmap):
        if not _in_cfn_thread() or rtype != "AWS::ECS::Service":
            return None
        from . import ecs_services
        deadline = time.time() + 600

        def poll():
            return "" if ecs_services.drained(res) or time.time() > deadline or core.shutting_down() else None
        return poll

    @staticmethod
    def pause():
        _sleep_unlocked(POLL)


# ---------------------------------------------------------------- operations in the background

def _background(stack, name, fn):
    prev = _ops.get(stack.stack_id)

    def run():
        _local.cfn = True
        if prev is not None and prev.is_alive():
            prev.join()
        try:
            with core.LOCK:
                fn()
        except Exception as e:  # noqa: BLE001 - the stack says what failed; never a dead thread silently
            import traceback
            core.log(f"CloudFormation {name} of {stack.name} failed: {e!r}\n{traceback.format_exc()}")
            with core.LOCK:
                final = {"CREATE_IN_PROGRESS": "CREATE_FAILED", "UPDATE_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
                         "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS":
                         "ROLLBACK_FAILED", "DELETE_IN_PROGRESS": "DELETE_FAILED"}.get(stack.status)
                if final:
                    from moto_ext.cfn_engine import _reason
                    stack.status = final
                    stack._add_stack_event(final, resource_status_reason=_reason(e))
        finally:
            _ops.pop(stack.stack_id, None) if _ops.get(stack.stack_id) is threading.current_thread() else None
    t = threading.Thread(target=run, name=f"cfn-{name}-{stack.name}", daemon=True)
    _ops[stack.stack_id] = t
    t.start()


def _backend_of(stack):
    from moto.cloudformation.models import cloudformation_backends
    return cloudformation_backends[stack.account_id][stack.region_name]


def _ecs_services_of(stack):
    """{logical id: moto Service} of the stack's ECS services."""
    from moto.ecs.models import Service
    out = {}
    for lid, res in list(stack.resource_map._parsed_resources.items()):
        if isinstance(res, Service):
            out[lid] = res
    return out


def _sync_services(stack):
    """moto's update modifies a resource only when its own JSON changed: a service whose TaskDefinition Ref
    now names a new revision (the task definition was replaced) is updated here, as CloudFormation does."""
    from moto.cloudformation import parsing as P
    from moto.ecs.models import ecs_backends
    rmap = stack.resource_map
    for lid, svc in _ecs_services_of(stack).items():
        rj = rmap._resource_json_map.get(lid) or {}
        ref = (rj.get("Properties") or {}).get("TaskDefinition")
        if ref is None:
            continue
        try:
            td = P.clean_json(ref, rmap)
        except Exception:  # noqa: BLE001
            continue
        arn = getattr(td, "arn", td)
        if isinstance(arn, str) and arn.startswith("arn:") and arn != svc.task_definition:
            ecs_backends[stack.account_id][stack.region_name].update_service(
                {"cluster": svc.cluster_name, "service": svc.name, "task_definition": arn})


def _run_update(stack, apply_fn, done_fn):
    """apply_fn changes the resources (under LOCK); then wait for each changed service's deployment."""
    from . import ecs_services
    before = {lid: (id(s), ecs_services.primary_id(s), s.desired_count) for lid, s in _ecs_services_of(stack).items()}
    old_template, old_params = stack.template, dict(stack.parameters or {})
    try:
        apply_fn()
        _sync_services(stack)
    except Exception as e:  # noqa: BLE001
        from moto_ext.cfn_engine import _reason
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=_reason(e))
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        return
    failed = []
    for lid, svc in _ecs_services_of(stack).items():
        dep = ecs_services.primary_id(svc)
        if before.get(lid) == (id(svc), dep, svc.desired_count) or dep is None:
            continue
        _resource_event(stack, lid, svc, "UPDATE_IN_PROGRESS")
        reason = _wait_update(stack, svc, dep)
        if reason:
            _resource_event(stack, lid, svc, "UPDATE_FAILED", reason)
            failed.append(lid)
            break
        _resource_event(stack, lid, svc, "UPDATE_COMPLETE")
    if not failed:
        done_fn()
        return
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    cancelled = getattr(stack, "_ext_cancel_update", False)
    stack._ext_cancel_update = False
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=(
        "Stack update cancelled" if cancelled else f"The following resource(s) failed to update: [{', '.join(failed)}]. "))
    try:
        stack.template = old_template
        stack._parse_template()
        stack.resource_map.update(stack.template_dict, old_params)
        stack.output_map = stack._create_output_map()
        _sync_services(stack)
        for lid, svc in _ecs_services_of(stack).items():
            wait_service(svc, ecs_services.primary_id(svc))
    except Exception as e:  # noqa: BLE001
        from moto_ext.cfn_engine import _reason
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=_reason(e))
        return
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def _wait_update(stack, svc, deployment_id):
    """wait_service, but a CancelUpdateStack ends the wait with CloudFormation's reason."""
    poll = service_poll(svc, deployment_id)
    while True:
        if getattr(stack, "_ext_cancel_update", False):
            return "Resource update cancelled"
        r = poll()
        if r is not None:
            return r or None
        _sleep_unlocked(POLL)


def _apply_cancel_update():
    """CancelUpdateStack (moto has none: it answered 500): an update in progress stops waiting and rolls back."""
    from moto.cloudformation import responses as R
    from moto.cloudformation.exceptions import ValidationError

    def cancel_update_stack(self):
        name = self._get_param("StackName")
        backend = self.cloudformation_backend
        stack = backend.stacks.get(name) or next((s for s in backend.stacks.values() if s.name == name), None)
        if stack is None:
            raise ValidationError(name, message=f"Stack [{name}] does not exist")
        if stack.status != "UPDATE_IN_PROGRESS":
            raise ValidationError(name, message=f"CancelUpdateStack cannot be called from current stack status {stack.status}.")
        stack._ext_cancel_update = True
        return ('<CancelUpdateStackResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
                f'<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></CancelUpdateStackResponse>')
    R.CloudFormationResponse.cancel_update_stack = cancel_update_stack


def _resource_event(stack, lid, res, status, reason=None):
    from moto_ext.cfn_engine import event, physical_id
    event(stack, lid, physical_id(res), "AWS::ECS::Service", status, reason)


def apply():
    from moto.cloudformation import models as M
    from moto_ext import cfn_engine
    from moto_ext.check import require
    require(M.Stack, "create_resources", "update")
    require(M.CloudFormationBackend, "delete_stack", "execute_change_set", "update_stack")
    cfn_engine.waiter = Waiter()
    _apply_cancel_update()

    orig_create_resources = M.Stack.create_resources

    def create_resources(self):
        if _in_cfn_thread():
            return orig_create_resources(self)
        self.status = "CREATE_IN_PROGRESS"

        def work():
            orig_create_resources(self)
            if self.status == "CREATE_COMPLETE":
                backend = _backend_of(self)
                for export in self.exports or []:
                    backend.exports[export.name] = export
        _background(self, "create", work)
    M.Stack.create_resources = create_resources

    orig_delete_stack = M.CloudFormationBackend.delete_stack

    def delete_stack(self, name_or_stack_id):
        if _in_cfn_thread():
            return orig_delete_stack(self, name_or_stack_id)
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is None or stack.status == "DELETE_IN_PROGRESS":
            return
        if stack.status in ("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"):
            from moto.cloudformation.exceptions import ValidationError
            raise ValidationError(message=f"Stack [{stack.name}] cannot be deleted while in status {stack.status}")
        running = _ops.get(stack.stack_id)
        if running is not None and running.is_alive() and stack.status == "CREATE_IN_PROGRESS":
            stack._ext_cancel = True     # as CloudFormation: the creation is cancelled, rolled back, then deleted
        else:
            stack.status = "DELETE_IN_PROGRESS"
        _background(stack, "delete", lambda: orig_delete_stack(self, stack.stack_id))
    M.CloudFormationBackend.delete_stack = delete_stack

    def busy(stack):
        from moto.cloudformation.exceptions import ValidationError
        if stack.status.endswith("_IN_PROGRESS"):
            raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")

    def stack_update(self, template, role_arn=None, parameters=None, tags=None):
        busy(self)
        self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        self.status = "UPDATE_IN_PROGRESS"

        def apply_fn():
            self.template = template
            self._parse_template()
            self.resource_map.update(self.template_dict, parameters)
            self.output_map = self._create_output_map()
            self.role_arn = role_arn
            if parameters:
                self.parameters = parameters
            if tags is not None:
                self.tags = tags

        def done_fn():
            self._add_stack_event("UPDATE_COMPLETE")
            self.status = "UPDATE_COMPLETE"
        _background(self, "update", lambda: _run_update(self, apply_fn, done_fn))
    M.Stack.update = stack_update

    orig_execute = M.CloudFormationBackend.execute_change_set

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name
             and (stack_name is None or cs.stack_name == stack_name or cs.stack_id == stack_name)), None)
        if change_set is None or change_set.change_set_type == "CREATE" or _in_cfn_thread():
            return orig_execute(self, change_set_name, stack_name)   # CREATE: create_resources goes async
        stack = self.stacks[change_set.stack_id]
        busy(stack)
        stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.status = "UPDATE_IN_PROGRESS"
        change_set.execution_status = "EXECUTE_IN_PROGRESS"

        def apply_fn():
            change_set.apply()
            stack.template = change_set.template
            stack._parse_template()
            stack.output_map = stack._create_output_map()

        def done_fn():
            stack._add_stack_event("UPDATE_COMPLETE")
            stack.status = "UPDATE_COMPLETE"
            change_set.execution_status = "EXECUTE_COMPLETE"
        _background(stack, "update", lambda: _run_update(stack, apply_fn, done_fn))
    M.CloudFormationBackend.execute_change_set = execute_change_set

    def shutdown():
        for t in list(_ops.values()):
            t.join(timeout=2)
    core.on_shutdown(shutdown)
