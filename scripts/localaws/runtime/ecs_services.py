"""ECS services for real: a scheduler that keeps each service's desired count of tasks running through
ecs_tasks.launch, with deployments and rollout state, rolling updates within minimumHealthyPercent /
maximumPercent, the deployment circuit breaker (with rollback), replacement of failed tasks with a
(shortened) throttle, load-balancer target (de)registration with draining, ELB/container health kills
after the grace period, Cloud Map names in net.HOSTS, and ECS's service event texts.

One scheduler thread ticks every TICK seconds (and at once when a task changes state). A tick:
  1. without LOCK: reads each registered target's health from elb.health;
  2. with LOCK: refreshes the tasks' states, counts, deployments, the circuit breaker, and decides what to
     launch (ecs_tasks.launch, under LOCK like RunTask) and what to stop;
  3. without LOCK: registers targets / Cloud Map names of newly RUNNING tasks; stops go to a worker
     thread per batch (Cloud Map removal, deregister, wait for the target group's deregistration delay,
     then ecs_tasks.stop).

API for cfn_wait: `service_state(service, deployment_id)` -> ("IN_PROGRESS"|"COMPLETED"|"FAILED", reason)
and `drained(service)` -> True once a deleted service has no task left.
"""
import functools
import math
import os
import random
import threading
import time
import uuid

from . import core, ecs_protection, net

TICK = 0.5
# ECS throttles a service whose tasks keep failing to start, up to 27 minutes between attempts; here the
# first THROTTLE_AFTER consecutive failures are retried at once, then 1, 2, 4, ... up to THROTTLE_MAX s.
THROTTLE_AFTER = 3
THROTTLE_MAX = 30.0
STOP_CODE = "ServiceSchedulerInitiated"
# A task counts toward a steady state once it has been RUNNING (and healthy) for this long: ECS's scheduler
# looks every few seconds, so a container that exits right after it started never counts as running.
STEADY_AFTER = float(os.environ.get("LOCAL_AWS_ECS_STEADY_AFTER", "3"))

_services = {}          # id(service) -> SvcRT
_wake = threading.Event()
_thread = None
_stop = threading.Event()


def _now():
    from moto.core.utils import utcnow
    return utcnow()


def _tasks_mod():
    from . import ecs_tasks
    return ecs_tasks


def _elb_mod():
    from . import elb
    return elb


def wake():
    _wake.set()


class TaskRec:
    def __init__(self, task, deployment_id, has_hc):
        self.arn = task.task_arn
        self.id = task.id
        self.task = task
        self.deployment_id = deployment_id
        self.has_hc = has_hc
        self.status = "PROVISIONING"
        self.started = time.time()
        self.running_at = None
        self.ever_steady = False
        self.steady = False
        self.healthy_since = None
        self.ip = None
        self.registered = []      # [(tg_arn, ip, port)]
        self.lb_state = {}        # tg_arn -> state
        self.cloudmap = []        # [(hosts name, ip, sd service id)]
        self.stopping = False
        self.gone = False
        self.mu = threading.Lock()   # registration vs. deregistration of this task's targets/names


class SvcRT:
    def __init__(self, backend, service):
        self.backend = backend
        self.service = service
        self.recs = {}            # task arn -> TaskRec
        self.dep_eval = {}        # deployment id -> still evaluated by the circuit breaker
        self.stalled = set()      # deployment ids that launch nothing more (breaker tripped, no rollback target)
        self.last_completed = None  # (deployment id, task definition arn)
        self.consecutive_failures = 0
        self.next_launch_at = 0.0
        self.announced_throttle = False
        self.steady = False
        self.pending_actions = []
        self.blocked = {}         # deployment id -> protected tasks announced as blocking its scale-in


# ---------------------------------------------------------------- helpers on moto's model

def add_event(service, message):
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": _now(), "message": message})
    del service.events[100:]


def _dep_conf(service):
    dc = getattr(service, "deployment_configuration", None) or {}
    cb = dc.get("deploymentCircuitBreaker") or {}
    return (int(dc.get("maximumPercent", 200) if dc.get("maximumPercent") is not None else 200),
            int(dc.get("minimumHealthyPercent", 100) if dc.get("minimumHealthyPercent") is not None else 100),
            bool(cb.get("enable")), bool(cb.get("rollback")))


def breaker_threshold(desired):
    """ECS: 0.5 * desired count, rounded up, at least 3 and at most 200."""
    return min(200, max(3, math.ceil(0.5 * desired)))


def new_deployment(service, task_definition, reason=None):
    dep_id = f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"
    now = _now()
    for d in service.deployments:
        if d["status"] == "PRIMARY":
            d["status"] = "ACTIVE"
            d["updatedAt"] = now
    dep = {"id": dep_id, "status": "PRIMARY", "taskDefinition": task_definition,
           "desiredCount": service.desired_count, "pendingCount": 0, "runningCount": 0, "failedTasks": 0,
           "createdAt": now, "updatedAt": now, "launchType": service.launch_type,
           "platformVersion": service.platform_version,
           "platformFamily": "EC2" if service.launch_type == "EC2" else "Linux",
           "networkConfiguration": service.network_configuration or None,
           "rolloutState": "IN_PROGRESS",
           "rolloutStateReason": reason or f"ECS deployment {dep_id} in progress."}
    dep = {k: v for k, v in dep.items() if v is not None}
    service.deployments.insert(0, dep)
    return dep


def _primary(service):
    for d in service.deployments:
        if d["status"] == "PRIMARY":
            return d
    return None


def _has_health_checks(backend, td_arn):
    try:
        td = backend.describe_task_definition(td_arn)
    except Exception:  # noqa: BLE001
        return False
    return any(c.get("healthCheck") for c in (td.container_definitions or []))


def _cloudmap_names(rt):
    """[(hosts name, sd service id)] for the service's serviceRegistries."""
    out = []
    svc = rt.service
    if not svc.service_registries:
        return out
    try:
        from moto.servicediscovery.models import servicediscovery_backends
        sd = servicediscovery_backends[svc._account_id][svc.region_name]
    except Exception:  # noqa: BLE001
        return out
    for reg in svc.service_registries:
        arn = reg.get("registryArn") or reg.get("RegistryArn")
        for s in list(sd.services.values()):
            if s.arn == arn:
                ns = sd.namespaces.get(s.namespace_id)
                if ns is not None:
                    out.append((f"{s.name}.{ns.name}", s.id))
    return out


def _dereg_delay(service, tg_arn):
    try:
        from moto.elbv2.models import elbv2_backends
        tg = elbv2_backends[service._account_id][service.region_name].target_groups.get(tg_arn)
        return float(tg.attributes.get("deregistration_delay.timeout_seconds", 300)) if tg else 0.0
    except Exception:  # noqa: BLE001
        return 0.0


def _run(arn):
    try:
        return _tasks_mod().run_of(arn)
    except Exception:  # noqa: BLE001 - not known (yet)
        return None


# ---------------------------------------------------------------- the tick

def _tick():
    with core.LOCK:
        rts = list(_services.values())
    for rt in rts:
        try:
            _tick_service(rt)
        except Exception as e:  # noqa: BLE001 - one service's trouble must not stop the scheduler
            import traceback
            text = traceback.format_exc()
            if text != getattr(rt, "last_error", None):   # once per distinct error, not every tick
                rt.last_error = text
                core.log(f"ecs service {rt.service.name}: scheduler error {e!r}\n{text}")


def _tick_service(rt):
    svc = rt.service
    # 1. target health, without LOCK
    with core.LOCK:
        regs = [(rec, list(rec.registered)) for rec in rt.recs.values() if rec.registered and not rec.gone]
    if regs:
        elb = _elb_mod()
        for rec, lst in regs:
            for tg, ip, port in lst:
                try:
                    rec.lb_state[tg] = elb.health(tg, ip, port)[0]
                except Exception:  # noqa: BLE001
                    rec.lb_state[tg] = "unavailable"
    # 2. reconcile, with LOCK
    with core.LOCK:
        actions = _reconcile(rt)
    # 3. act, without LOCK
    for act in actions:
        try:
            act()
        except Exception as e:  # noqa: BLE001
            core.log(f"ecs service {svc.name}: {e!r}")


def _reconcile(rt):
    svc = rt.service
    backend = rt.backend
    actions = []
    now = time.time()
    max_pct, min_pct, cb_on, cb_rollback = _dep_conf(svc)
    grace = float(getattr(svc, "health_check_grace_period_seconds", None) or 0)
    deleting = svc.status != "ACTIVE"
    desired = 0 if deleting else int(svc.desired_count or 0)
    primary = _primary(svc)
    deps = {d["id"]: d for d in svc.deployments}

    # refresh task states
    for rec in list(rt.recs.values()):
        if rec.gone:
            continue
        run = _run(rec.arn)
        status = (getattr(run, "last_status", None) if run is not None else None) or rec.task.last_status
        rec.status = status
        if run is not None and getattr(run, "private_ip", None):
            rec.ip = run.private_ip
        if status == "STOPPED":
            rec.gone = True
            rec.steady = False
            if not rec.stopping and not rec.ever_steady:
                _count_failure(rt, rec, deps)
            if not rec.stopping:
                actions.append(_cleanup_action(rt, rec))
            del rt.recs[rec.arn]
            continue
        if status == "RUNNING" and rec.running_at is None:
            rec.running_at = now
            if not rec.stopping:
                actions.append(_register_action(rt, rec))
        # steady: RUNNING, healthy containers (if checked), healthy targets (if behind a target group)
        ok = status == "RUNNING" and not rec.stopping
        hs = getattr(run, "health_status", None) if run is not None else None
        if ok and rec.has_hc and hs != "HEALTHY":
            ok = False
        if ok and svc.load_balancers:
            want = {lb.get("targetGroupArn") for lb in svc.load_balancers if lb.get("targetGroupArn")}
            if not rec.registered or any(rec.lb_state.get(tg) != "healthy" for tg in want):
                ok = False
        if ok:
            rec.healthy_since = rec.healthy_since or now
            ok = now - rec.healthy_since >= STEADY_AFTER
        else:
            rec.healthy_since = None
        rec.steady = ok
        if ok and not rec.ever_steady:
            rec.ever_steady = True
            rt.consecutive_failures = 0
            rt.announced_throttle = False
            if rt.dep_eval.get(rec.deployment_id, True):
                rt.dep_eval[rec.deployment_id] = False   # ECS: a running task resets failedTasks and ends evaluation
                if rec.deployment_id in deps:
                    deps[rec.deployment_id]["failedTasks"] = 0
        # health kills after the grace period
        if status == "RUNNING" and not rec.stopping and rec.running_at is not None \
                and now - rec.running_at >= grace:
            bad_tg = next((tg for tg, st in rec.lb_state.items() if st == "unhealthy"), None)
            if bad_tg:
                add_event(svc, f"(service {svc.name}) (task {rec.id}) failed ELB health checks in "
                               f"(target-group {bad_tg})")
                _failed_health(rt, rec, deps)
                actions.append(_stop_action(rt, [rec], f"Task failed ELB health checks in (target-group {bad_tg})"))
            elif rec.has_hc and hs == "UNHEALTHY":
                add_event(svc, f"(service {svc.name}) (task {rec.id}) failed container health checks.")
                _failed_health(rt, rec, deps)
                actions.append(_stop_action(rt, [rec], "Task failed container health checks"))

    # the circuit breaker on the primary deployment
    primary = _primary(svc)
    if primary is not None and cb_on and primary["rolloutState"] == "IN_PROGRESS" \
            and rt.dep_eval.get(primary["id"], True) and primary["failedTasks"] >= breaker_threshold(desired):
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        primary["updatedAt"] = _now()
        add_event(svc, f"(service {svc.name}) (deployment {primary['id']}) deployment failed: tasks failed to start.")
        core.log(f"ecs service {svc.name}: deployment {primary['id']} failed (circuit breaker)")
        if cb_rollback:
            target = rt.last_completed
            if target is not None and target[1] != primary["taskDefinition"]:
                svc.task_definition = target[1]
                new = new_deployment(svc, target[1], reason=f"ECS deployment circuit breaker: rolling back to "
                                                            f"deploymentId {target[0]}.")
                add_event(svc, f"(service {svc.name}) rolling back to deployment {target[0]}.")
                rt.dep_eval[new["id"]] = True
                deps[new["id"]] = new
                primary = new
            else:
                rt.stalled.add(primary["id"])

    # desired counts, launches, stops
    live = [r for r in rt.recs.values() if not r.gone and not r.stopping]
    if primary is not None:
        primary["desiredCount"] = desired
        p_live = [r for r in live if r.deployment_id == primary["id"]]
        old_live = [r for r in live if r.deployment_id != primary["id"]]
        max_total = max(desired, math.floor(desired * max_pct / 100)) if desired else 0
        min_healthy = math.ceil(desired * min_pct / 100)
        all_active = [r for r in rt.recs.values() if not r.gone]
        want = desired - len(p_live)
        room = max_total - len(all_active)
        # Task scale-in protection: a scale-in or a deployment never stops a protected task (a deleted
        # service's tasks all stop).
        held = (lambda r: False) if deleting else (lambda r: ecs_protection.is_protected(r.task))
        blocked = {}     # deployment id -> protected tasks it could not stop
        # scale in the primary (pending/unhealthy ones first, newest first)
        if want < 0:
            extra = sorted((r for r in p_live if not held(r)), key=lambda r: (r.steady, -r.started))[:-want]
            actions.append(_stop_action(rt, extra, f"Scaling activity initiated by (deployment {primary['id']})"))
            for r in extra:
                r.stopping = True
            if len(extra) < -want:
                blocked[primary["id"]] = sum(1 for r in p_live if held(r))
        # stop old deployments' tasks: unhealthy ones freely, healthy ones down to minimumHealthyPercent
        healthy_total = sum(1 for r in live if r.steady)
        to_stop = [r for r in old_live if not r.steady and not held(r)]
        spare = healthy_total - min_healthy
        for r in sorted((r for r in old_live if r.steady and not held(r)), key=lambda r: r.started):
            if spare <= 0:
                break
            to_stop.append(r)
            spare -= 1
        for r in old_live:
            if held(r):
                blocked[r.deployment_id] = blocked.get(r.deployment_id, 0) + 1
        if to_stop:
            by_dep = {}
            for r in to_stop:
                by_dep.setdefault(r.deployment_id, []).append(r)
                r.stopping = True
            for dep_id, group in by_dep.items():
                actions.append(_stop_action(rt, group, f"Scaling activity initiated by (deployment {dep_id})"))
            room += 0  # stopping tasks still take room until they are gone
        _announce_blocked(rt, primary["id"], blocked)
        n = min(want, room)
        if n > 0 and primary["id"] not in rt.stalled and now >= rt.next_launch_at and svc.task_definition \
                and not core.shutting_down():
            _launch(rt, primary, n)

    # counts from the tasks' real states
    present = [r for r in rt.recs.values() if not r.gone]
    svc.running_count = sum(1 for r in present if r.status == "RUNNING")
    svc.pending_count = sum(1 for r in present if r.status in ("PROVISIONING", "PENDING", "ACTIVATING"))
    for d in svc.deployments:
        mine = [r for r in present if r.deployment_id == d["id"]]
        d["runningCount"] = sum(1 for r in mine if r.status == "RUNNING")
        d["pendingCount"] = sum(1 for r in mine if r.status in ("PROVISIONING", "PENDING", "ACTIVATING"))
        if d["status"] != "PRIMARY":
            d["desiredCount"] = len([r for r in mine if not r.stopping])

    # completion and steady state
    if primary is not None:
        p_steady = sum(1 for r in present if r.deployment_id == primary["id"] and r.steady)
        others = [r for r in present if r.deployment_id != primary["id"]]
        p_present = [r for r in present if r.deployment_id == primary["id"]]
        done = p_steady == desired and not others and len(p_present) == desired
        if done and primary["rolloutState"] == "IN_PROGRESS":
            primary["rolloutState"] = "COMPLETED"
            primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
            primary["updatedAt"] = _now()
            add_event(svc, f"(service {svc.name}) (deployment {primary['id']}) deployment completed.")
        if done and primary["rolloutState"] == "COMPLETED":
            rt.last_completed = (primary["id"], primary["taskDefinition"])
        # deployments without tasks left are gone (INACTIVE)
        if done:
            svc.deployments[:] = [d for d in svc.deployments if d["status"] == "PRIMARY"]
        else:
            # a FAILED deployment stays listed until the rollback that replaces it completes
            svc.deployments[:] = [d for d in svc.deployments if d["status"] == "PRIMARY"
                                  or d.get("rolloutState") == "FAILED"
                                  or any(r.deployment_id == d["id"] for r in present)]
        if done and not rt.steady and not deleting:
            add_event(svc, f"(service {svc.name}) has reached a steady state.")
        rt.steady = done
    if deleting and not rt.recs:
        svc.status = "INACTIVE"
        for d in svc.deployments:
            d["runningCount"] = d["pendingCount"] = 0
        _services.pop(id(svc), None)
    return actions


def _announce_blocked(rt, primary_id, blocked):
    """ECS's event when protected tasks keep a task set from scaling in: once per (task set, count)."""
    svc = rt.service
    for dep_id, n in blocked.items():
        if rt.blocked.get(dep_id) == n:
            continue
        if dep_id == primary_id:
            add_event(svc, f"(service {svc.name}, taskSet {dep_id}) was unable to scale in due to "
                           f"(reason {n} tasks under protection)")
        else:
            add_event(svc, f"(service {svc.name}) was unable to reach steady state because (taskSet {dep_id}) "
                           f"was unable to scale in due to (reason {n} tasks under protection)")
    rt.blocked = blocked


def _count_failure(rt, rec, deps):
    d = deps.get(rec.deployment_id)
    if d is not None and rt.dep_eval.get(rec.deployment_id, True) and d["rolloutState"] == "IN_PROGRESS":
        d["failedTasks"] = d.get("failedTasks", 0) + 1
    rt.consecutive_failures += 1
    n = rt.consecutive_failures
    if n >= THROTTLE_AFTER:
        rt.next_launch_at = time.time() + min(THROTTLE_MAX, 2.0 ** (n - THROTTLE_AFTER))
        if not rt.announced_throttle:
            rt.announced_throttle = True
            add_event(rt.service, f"(service {rt.service.name}) is unable to consistently start tasks successfully. "
                                  "For more information, see the Troubleshooting section of the Amazon ECS "
                                  "Developer Guide.")


def _failed_health(rt, rec, deps):
    rec.stopping = True
    rec.steady = False
    if not rec.ever_steady:
        _count_failure(rt, rec, deps)


def _launch(rt, dep, n):
    svc = rt.service
    td = dep["taskDefinition"]
    tags = list(svc.tags or []) if getattr(svc, "propagate_tags", "NONE") == "SERVICE" else None
    try:
        tasks = _tasks_mod().launch(rt.backend, svc.cluster_name, td, started_by=dep["id"],
                                    group=f"service:{svc.name}",
                                    network_configuration=svc.network_configuration or None,
                                    count=n, tags=tags)
    except Exception as e:  # noqa: BLE001 - ECS-shaped: an event, a failure, the throttle
        msg = getattr(e, "message", None) or str(e)
        add_event(svc, f"(service {svc.name}) was unable to place a task. Reason: {msg}.")
        core.log(f"ecs service {svc.name}: launch failed: {msg}")
        dep["failedTasks"] = dep.get("failedTasks", 0) + (1 if rt.dep_eval.get(dep["id"], True) else 0)
        rt.consecutive_failures += 1
        rt.next_launch_at = time.time() + min(THROTTLE_MAX, 2.0 ** max(0, rt.consecutive_failures - THROTTLE_AFTER))
        return
    has_hc = _has_health_checks(rt.backend, td)
    for t in tasks:
        rt.recs[t.task_arn] = TaskRec(t, dep["id"], has_hc)
    if tasks:
        ids = " ".join(f"(task {t.id})" for t in tasks)
        add_event(svc, f"(service {svc.name}) has started {len(tasks)} tasks: {ids}.")


# ---------------------------------------------------------------- actions (run without LOCK)

def _register_action(rt, rec):
    svc = rt.service
    lbs = [(lb.get("targetGroupArn"), int(lb.get("containerPort") or 0)) for lb in (svc.load_balancers or [])
           if lb.get("targetGroupArn")]
    names = _cloudmap_names(rt)
    td_family = rec.task.task_definition_arn.split("/")[-1].split(":")[0]

    def act():
        ip = rec.ip
        if not ip:
            run = _run(rec.arn)
            ip = getattr(run, "private_ip", None)
        if not ip:
            core.log(f"ecs service {svc.name}: task {rec.id} is RUNNING without an address")
            return
        with rec.mu:
            if rec.gone or rec.stopping:
                return
            _register_locked(rec, ip)
        wake()

    def _register_locked(rec, ip):
        for name, sd_id in names:
            net.HOSTS.add(name, ip)
            rec.cloudmap.append((name, ip, sd_id))
            with core.LOCK:
                try:
                    from moto.servicediscovery.models import servicediscovery_backends
                    sd = servicediscovery_backends[svc._account_id][svc.region_name]
                    sd.register_instance(sd_id, rec.id, str(uuid.uuid4()), {
                        "AWS_INSTANCE_IPV4": ip, "AWS_INIT_HEALTH_STATUS": "HEALTHY",
                        "ECS_CLUSTER_NAME": svc.cluster_name, "ECS_SERVICE_NAME": svc.name,
                        "ECS_TASK_DEFINITION_FAMILY": td_family, "REGION": svc.region_name})
                except Exception as e:  # noqa: BLE001
                    core.log(f"cloud map registration of {rec.id} in {name} failed: {e!r}")
        if lbs:
            elb = _elb_mod()
            for tg, port in lbs:
                elb.register(tg, ip, port)
                rec.registered.append((tg, ip, port))
                rec.lb_state[tg] = "initial"
                with core.LOCK:
                    add_event(svc, f"(service {svc.name}) registered 1 targets in (target-group {tg})")
    return act


def _unregister(rt, rec, events=True):
    """Cloud Map names and targets off; returns the longest deregistration delay."""
    with rec.mu:
        return _unregister_locked(rt, rec, events)


def _unregister_locked(rt, rec, events):
    svc = rt.service
    for name, ip, sd_id in rec.cloudmap:
        net.HOSTS.remove(name, ip)
        with core.LOCK:
            try:
                from moto.servicediscovery.models import servicediscovery_backends
                servicediscovery_backends[svc._account_id][svc.region_name].deregister_instance(sd_id, rec.id)
            except Exception:  # noqa: BLE001 - already gone
                pass
    rec.cloudmap = []
    delay = 0.0
    regs, rec.registered = rec.registered, []
    if regs:
        elb = _elb_mod()
        for tg, ip, port in regs:
            try:
                elb.deregister(tg, ip, port)
            except Exception as e:  # noqa: BLE001
                core.log(f"deregistering {ip}:{port} from {tg} failed: {e!r}")
            with core.LOCK:
                delay = max(delay, _dereg_delay(svc, tg))
                if events:
                    add_event(svc, f"(service {svc.name}) deregistered 1 targets in (target-group {tg})")
    return delay, regs


def _cleanup_action(rt, rec):
    def act():
        _unregister(rt, rec)
    return act


def _stop_action(rt, recs, reason):
    svc = rt.service
    for r in recs:
        r.stopping = True
        r.steady = False

    def work():
        drains = []
        with_lb = [r for r in recs if r.registered]
        if with_lb:
            with core.LOCK:
                add_event(svc, f"(service {svc.name}) has begun draining connections on {len(with_lb)} tasks.")
        for r in recs:
            delay, regs = _unregister(rt, r)
            if regs:
                drains.append((r, delay, regs))
        # wait for draining (the target group's deregistration delay, or until the ELB says it is done)
        if drains:
            elb = _elb_mod()
            deadline = time.time() + max(d for _, d, _ in drains)
            while time.time() < deadline and not core.shutting_down():
                busy = False
                for _, _, regs in drains:
                    for tg, ip, port in regs:
                        try:
                            if elb.health(tg, ip, port)[0] == "draining":
                                busy = True
                        except Exception:  # noqa: BLE001
                            pass
                if not busy:
                    break
                time.sleep(0.25)
        tasks = _tasks_mod()
        for r in recs:
            try:
                tasks.stop(r.arn, reason, STOP_CODE)
            except TypeError:
                tasks.stop(r.arn, reason)
            except Exception as e:  # noqa: BLE001
                core.log(f"stopping task {r.id} failed: {e!r}")
        with core.LOCK:
            ids = " ".join(f"(task {r.id})" for r in recs)
            add_event(svc, f"(service {svc.name}) has stopped {len(recs)} running tasks: {ids}.")
        wake()

    def act():
        if recs:
            threading.Thread(target=work, name=f"ecs-stop-{svc.name}", daemon=True).start()
    return act


# ---------------------------------------------------------------- state for CloudFormation

def runtime_of(service):
    return _services.get(id(service))


def service_state(service, deployment_id=None):
    """(state, reason) of deployment_id (or the primary): IN_PROGRESS / COMPLETED (and steady) / FAILED.
    Call with LOCK held."""
    dep = None
    for d in service.deployments:
        if (deployment_id and d["id"] == deployment_id) or (not deployment_id and d["status"] == "PRIMARY"):
            dep = d
    rt = runtime_of(service)
    if dep is None:
        # the deployment is gone: replaced by a rollback (failed) or superseded
        return "FAILED", "deployment replaced"
    if dep["rolloutState"] == "FAILED":
        return "FAILED", dep.get("rolloutStateReason", "")
    if dep["rolloutState"] == "COMPLETED" and dep["status"] == "PRIMARY" and (rt is None or rt.steady):
        return "COMPLETED", dep.get("rolloutStateReason", "")
    return "IN_PROGRESS", dep.get("rolloutStateReason", "")


def primary_id(service):
    d = _primary(service)
    return d["id"] if d else None


def drained(service):
    rt = runtime_of(service)
    return rt is None or not rt.recs


# ---------------------------------------------------------------- the scheduler

def _loop():
    while not _stop.is_set() and not core.shutting_down():
        _wake.wait(TICK)
        _wake.clear()
        if _services:
            _tick()


def _ensure_thread():
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_loop, name="ecs-service-scheduler", daemon=True)
        _thread.start()


def _register(backend, service):
    service.running_count = 0
    service.pending_count = 0
    if not getattr(service, "deployment_configuration", None):
        service.deployment_configuration = {"deploymentCircuitBreaker": {"enable": False, "rollback": False},
                                            "maximumPercent": 200, "minimumHealthyPercent": 100}
    service.events = []
    service.deployments[:] = []
    if service.deployment_controller.get("type", "ECS") == "ECS":
        new_deployment(service, service.task_definition)
    rt = SvcRT(backend, service)
    _services[id(service)] = rt
    _ensure_thread()
    wake()
    return rt


def apply():
    from moto.ecs import models as ecs
    from moto.ecs import responses as ecs_responses
    from moto_ext.check import require
    require(ecs.EC2ContainerServiceBackend, "create_service", "update_service", "delete_service")
    require(ecs_responses.EC2ContainerServiceResponse, "create_service")
    B = ecs.EC2ContainerServiceBackend

    orig_create = B.create_service

    @functools.wraps(orig_create)
    def create_service(self, *a, **kw):
        svc = orig_create(self, *a, **kw)
        if svc.task_definition:
            svc.task_definition = self.describe_task_definition(svc.task_definition).arn
        _register(self, svc)
        return svc
    B.create_service = create_service

    orig_create_resp = ecs_responses.EC2ContainerServiceResponse.create_service

    def create_service_resp(self_resp):
        result = orig_create_resp(self_resp)
        svc = self_resp.ecs_backend._get_service(self_resp._get_param("cluster", "default"),
                                                 self_resp._get_param("serviceName"))
        dc = self_resp._get_param("deploymentConfiguration")
        if dc:
            base = {"deploymentCircuitBreaker": {"enable": False, "rollback": False},
                    "maximumPercent": 200, "minimumHealthyPercent": 100}
            base.update(dc)
            svc.deployment_configuration = base
        grace = self_resp._get_param("healthCheckGracePeriodSeconds")
        if grace is not None:
            svc.health_check_grace_period_seconds = int(grace)
        if self_resp._get_param("enableExecuteCommand") is not None:
            svc.enable_execute_command = bool(self_resp._get_param("enableExecuteCommand"))
        return result
    ecs_responses.EC2ContainerServiceResponse.create_service = create_service_resp

    orig_update = B.update_service

    @functools.wraps(orig_update)
    def update_service(self, props):
        props = dict(props)
        svc = self._get_service(props.get("cluster", "default"), props["service"].split("/")[-1])
        rt = runtime_of(svc)
        before_td, before_desired = svc.task_definition, svc.desired_count
        running, pending = svc.running_count, svc.pending_count
        td_str = props.get("task_definition")
        # moto's own forceNewDeployment renames the current deployment, which then loses its tasks here
        force = str(props.pop("force_new_deployment", False)).lower() == "true"
        dc = props.get("deployment_configuration")
        if dc:
            merged = dict(getattr(svc, "deployment_configuration", None) or {})
            merged.update(dc)
            props["deployment_configuration"] = merged
        result = orig_update(self, props)
        if rt is None:
            return result
        svc.running_count, svc.pending_count = running, pending
        if td_str:
            svc.task_definition = self.describe_task_definition(td_str).arn
        if svc.task_definition != before_td or force:
            d = new_deployment(svc, svc.task_definition)
            rt.dep_eval[d["id"]] = True
            rt.steady = False
        if svc.desired_count != before_desired:
            rt.steady = False     # not steady again until the scheduler has the new count running
        wake()
        return result
    B.update_service = update_service

    orig_delete = B.delete_service

    @functools.wraps(orig_delete)
    def delete_service(self, cluster_name, service_name, force):
        svc = orig_delete(self, cluster_name, service_name, force)
        rt = runtime_of(svc)
        if rt is not None:
            svc.desired_count = 0
            svc.status = "DRAINING" if rt.recs else "INACTIVE"
            if not rt.recs:
                _services.pop(id(svc), None)
            for d in svc.deployments:
                d["desiredCount"] = 0
            wake()
        return svc
    B.delete_service = delete_service

    def subscriber(event, task_arn):
        wake()
    try:
        _tasks_mod().subscribe(subscriber)
    except Exception as e:  # noqa: BLE001 - ecs_tasks not written yet: ticks still poll
        core.log(f"ecs services: ecs_tasks.subscribe unavailable ({e!r}); polling")

    core.on_shutdown(_stop.set)
