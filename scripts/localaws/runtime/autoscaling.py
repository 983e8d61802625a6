"""Application Auto Scaling acting on ECS services: moto stores scalable targets and policies; this loop
evaluates every `ecs:service:DesiredCount` target's TargetTrackingScaling policies and sets the service's
desiredCount (through ECS UpdateService, so ecs_services runs or stops the tasks, honouring task
protection), and records the scaling activities DescribeScalingActivities returns (moto has no such call).

Every LOCAL_AWS_AUTOSCALING_PERIOD seconds (default 15), per target:
  metric     CustomizedMetricSpecification: the Statistic over the CloudWatch datapoints (PutMetricData) of
             that Namespace/MetricName/exact Dimensions (and Unit, if given) of the last
             LOCAL_AWS_AUTOSCALING_METRIC_WINDOW seconds (default 60); none -> no data -> no action.
             ECSServiceAverageCPUUtilization / MemoryUtilization: the average over the service's RUNNING
             tasks of cpu.stat usage_usec growth per task CPU units, and RSS per task memory (cgroups, /proc).
             ALBRequestCountPerTarget, metric math (Metrics): no data.
  proposal   ceil(capacity * metric / TargetValue); capacity = desiredCount, or during a ScaleOutCooldown the
             capacity before that scale-out (AWS counts the capacity being added). At desiredCount 0 a
             metric > 0 proposes max(1, ceil(metric / TargetValue)): the metric must then be a total, such
             as the work waiting, since a per-task average has no tasks to come from.
  scale out  when any policy proposes more (the largest wins), up to MaxCapacity;
  scale in   when every policy with data proposes less (the largest wins), down to MinCapacity, none has
             DisableScaleIn, ScaleInCooldown has passed since the last activity of either direction, and
             no ECS deployment is in progress (AWS turns scale-in off during deployments).
SuspendedState DynamicScalingIn/OutSuspended are honoured. Step scaling, scheduled actions and predictive
scaling do nothing here.
"""
import datetime
import json
import math
import os
import threading
import time
import uuid

from . import core

DIMENSION = "ecs:service:DesiredCount"
DEFAULT_COOLDOWN = 300     # ECS target tracking's ScaleOut/ScaleInCooldown when the policy gives none
MAX_ACTIVITIES = 1000      # per region, newest kept

_activities = {}           # (account, region) -> [activity], newest first
_state = {}                # (account, region, resource id) -> _Target
_cpu_seen = {}             # task arn -> (monotonic time, usage_usec)
_noted = set()             # messages logged once
_stop = threading.Event()


def period():
    return float(os.environ.get("LOCAL_AWS_AUTOSCALING_PERIOD", "15"))


def window():
    return float(os.environ.get("LOCAL_AWS_AUTOSCALING_METRIC_WINDOW", "60"))


class _Target:
    def __init__(self):
        self.last_out = None       # time of the last scale-out
        self.out_base = None       # capacity before it
        self.last_activity = None  # time of the last scaling activity (either direction)


def _note(msg):
    if msg not in _noted:
        _noted.add(msg)
        core.log(f"autoscaling: {msg}")


# ---------------------------------------------------------------------------------------- metrics

def _utc(ts):
    if isinstance(ts, str):
        ts = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if isinstance(ts, (int, float)):
        ts = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return ts if ts.tzinfo else ts.replace(tzinfo=datetime.timezone.utc)


def _custom_metric(account, region, spec):
    """The Statistic of the spec's datapoints in the window, or None. LOCK held."""
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends
    if spec.get("Metrics"):
        _note("metric math (CustomizedMetricSpecification.Metrics) is not evaluated: no data")
        return None
    cw = cloudwatch_backends[account][region]
    want_dims = sorted((d["Name"], d["Value"]) for d in spec.get("Dimensions") or [])
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=window())
    points = []            # (sum, count, min, max)
    for m in cw.get_all_metrics():
        if m.namespace != spec.get("Namespace") or m.name != spec.get("MetricName"):
            continue
        if sorted((d.name, d.value) for d in m.dimensions) != want_dims:
            continue
        if spec.get("Unit") and m.unit and m.unit != spec["Unit"]:
            continue
        try:
            if _utc(m.timestamp) < since:
                continue
        except (TypeError, ValueError):
            continue
        if isinstance(m, MetricDatum):
            points.append((m.value, 1.0, m.value, m.value))
        elif isinstance(m, MetricAggregatedDatum):
            points.append((m.sum, m.sample_count, m.min, m.max))
    if not points:
        return None
    stat = spec.get("Statistic") or "Average"
    total, count = sum(p[0] for p in points), sum(p[1] for p in points)
    if stat == "Sum":
        return total
    if stat == "SampleCount":
        return count
    if stat == "Minimum":
        return min(p[2] for p in points)
    if stat == "Maximum":
        return max(p[3] for p in points)
    return total / count if count else None


def _usage(tasks):
    """{arn: (cpu usage_usec, rss bytes)} of the tasks' cgroups, read without LOCK."""
    out = {}
    for arn, cg, pids, _, _ in tasks:
        usec, rss = None, 0
        try:
            with open(os.path.join(cg, "cpu.stat")) as f:
                for line in f:
                    if line.startswith("usage_usec "):
                        usec = int(line.split()[1])
        except (OSError, ValueError):
            pass
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            rss += int(line.split()[1]) * 1024
            except (OSError, ValueError):
                pass
        out[arn] = (usec, rss)
    return out


def _predefined_metric(kind, tasks, usage):
    now = time.monotonic()
    values = []
    for arn, _, _, cpu_units, mem_mib in tasks:
        usec, rss = usage.get(arn, (None, 0))
        if kind == "ECSServiceAverageCPUUtilization":
            seen = _cpu_seen.get(arn)
            if usec is not None:
                _cpu_seen[arn] = (now, usec)
            if seen and usec is not None and now > seen[0]:
                values.append(100.0 * (usec - seen[1]) / ((now - seen[0]) * 1e6 * (cpu_units / 1024.0)))
        elif kind == "ECSServiceAverageMemoryUtilization" and mem_mib:
            values.append(100.0 * rss / (mem_mib * 1024 * 1024))
    return sum(values) / len(values) if values else None


# ---------------------------------------------------------------------------------------- evaluation

def _backends():
    from moto.applicationautoscaling.models import applicationautoscaling_backends
    for account, per_region in list(dict.items(applicationautoscaling_backends)):
        for region, backend in list(dict.items(per_region)):
            yield account, region, backend


def _collect():
    """What to evaluate (LOCK held): per ECS target with target-tracking policies, its service and, when a
    predefined metric needs them, its running tasks."""
    from . import ecs_services, ecs_tasks
    work = []
    for account, region, backend in _backends():
        for target in list(backend.targets.get(DIMENSION, {}).values()):
            if target.service_namespace != "ecs":
                continue
            policies = [p for p in backend.policies.values()
                        if p.service_namespace == "ecs" and p.resource_id == target.resource_id
                        and p.scalable_dimension == DIMENSION and p.policy_type == "TargetTrackingScaling"]
            if not policies:
                continue
            try:
                _, cluster, name = target.resource_id.split("/")
                svc = backend.ecs_backend._get_service(cluster, name)
            except Exception:  # noqa: BLE001 - the service is gone: nothing to scale
                continue
            if svc.status != "ACTIVE":
                continue
            tasks = []
            if any((p.target_tracking_scaling_policy_configuration or {}).get("PredefinedMetricSpecification")
                   for p in policies):
                rt = ecs_services.runtime_of(svc)
                for rec in (list(rt.recs.values()) if rt else []):
                    run = ecs_tasks.run_of(rec.arn)
                    if run is None or rec.status != "RUNNING" or rec.stopping or not run.cg:
                        continue
                    tasks.append((rec.arn, run.cg, run.pids(), float(run.td.cpu or 1024),
                                  float(run.td.memory or 0)))
            work.append({"account": account, "region": region, "backend": backend, "target": target,
                         "policies": policies, "svc": svc, "cluster": cluster, "tasks": tasks})
    return work


def _ceil(x):
    return int(math.ceil(x - 1e-9))


def _proposal(capacity, metric, target_value):
    if capacity <= 0:
        return max(1, _ceil(metric / target_value)) if metric > 0 else 0
    return _ceil(capacity * metric / target_value)


def _alarm(policy, high):
    want = "AlarmHigh" if high else "AlarmLow"
    for a in getattr(policy, "alarms", None) or []:
        if want in a.name:
            return a.name
    return f"TargetTracking-{policy.resource_id}-{want}-{policy._guid}"


def _deploying(svc):
    deps = svc.deployments or []
    return len(deps) > 1 or any(d.get("rolloutState") == "IN_PROGRESS" for d in deps)


def _decide(w, usage, now):
    """-> (new desired, policy, scale out?) or None. LOCK held."""
    target, svc = w["target"], w["svc"]
    st = _state.setdefault((w["account"], w["region"], target.resource_id), _Target())
    current = int(svc.desired_count or 0)
    lo = int(target.min_capacity if target.min_capacity is not None else 0)
    hi = int(target.max_capacity if target.max_capacity is not None else 10 ** 6)
    suspended = target.suspended_state or {}
    votes = []
    predefined = {}     # kind -> metric: each measured once per evaluation (CPU is a delta since the last)
    for p in w["policies"]:
        cfg = p.target_tracking_scaling_policy_configuration or {}
        try:
            target_value = float(cfg["TargetValue"])
        except (KeyError, TypeError, ValueError):
            continue
        if target_value <= 0:
            continue
        if cfg.get("CustomizedMetricSpecification"):
            metric = _custom_metric(w["account"], w["region"], cfg["CustomizedMetricSpecification"])
        else:
            kind = (cfg.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
            if kind not in predefined:
                predefined[kind] = _predefined_metric(kind, w["tasks"], usage)
            metric = predefined[kind]
            if kind not in ("ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"):
                _note(f"predefined metric {kind} has no data here")
        if metric is None:
            continue
        out_cd = float(cfg.get("ScaleOutCooldown", DEFAULT_COOLDOWN))
        base = st.out_base if st.last_out is not None and now < st.last_out + out_cd else current
        # (scale-out proposal, scale-in proposal, policy, configuration)
        votes.append((_proposal(base, metric, target_value), _proposal(current, metric, target_value), p, cfg))
    if not votes:
        return None
    best_out = max(votes, key=lambda v: v[0])
    if best_out[0] > current:
        new = min(best_out[0], hi)
        if new > current and not suspended.get("DynamicScalingOutSuspended"):
            return new, best_out[2], True
        return None
    if all(v[1] < current for v in votes):
        if any(v[3].get("DisableScaleIn") for v in votes) or suspended.get("DynamicScalingInSuspended"):
            return None
        in_cd = max(float(v[3].get("ScaleInCooldown", DEFAULT_COOLDOWN)) for v in votes)
        if st.last_activity is not None and now < st.last_activity + in_cd:
            return None
        if _deploying(svc):
            return None
        best_in = max(votes, key=lambda v: v[1])
        new = max(best_in[1], lo)
        if new < current:
            return new, best_in[2], False
    return None


def _act(w, new, policy, out, now):
    """Sets desiredCount through UpdateService and records the activity. LOCK held."""
    target, svc = w["target"], w["svc"]
    st = _state[(w["account"], w["region"], target.resource_id)]
    before = int(svc.desired_count or 0)
    start = datetime.datetime.now(datetime.timezone.utc)
    w["backend"].ecs_backend.update_service({"cluster": w["cluster"], "service": svc.name, "desired_count": new})
    if out:
        st.last_out, st.out_base = now, before
    st.last_activity = now
    acts = _activities.setdefault((w["account"], w["region"]), [])
    acts.insert(0, {
        "ActivityId": str(uuid.uuid4()), "ServiceNamespace": "ecs", "ResourceId": target.resource_id,
        "ScalableDimension": DIMENSION, "Description": f"Setting desired count to {new}.",
        "Cause": f"monitor alarm {_alarm(policy, out)} in state ALARM triggered policy {policy.policy_name}",
        "StartTime": start.timestamp(), "EndTime": datetime.datetime.now(datetime.timezone.utc).timestamp(),
        "StatusCode": "Successful",
        "StatusMessage": f"Successfully set desired count to {new}. Change successfully fulfilled by ecs."})
    del acts[MAX_ACTIVITIES:]
    core.log(f"autoscaling: {target.resource_id} desired count {before} -> {new} ({policy.policy_name})")


def evaluate():
    """One evaluation of every target (the loop's body; tests of the module may call it)."""
    with core.LOCK:
        work = _collect()
    usage = {}
    for w in work:
        if w["tasks"]:
            usage.update(_usage(w["tasks"]))
    for arn in set(_cpu_seen) - set(usage):
        del _cpu_seen[arn]      # tasks that stopped
    now = time.monotonic()
    with core.LOCK:
        for w in work:
            try:
                decision = _decide(w, usage, now)
                if decision:
                    _act(w, *decision, now)
            except Exception as e:  # noqa: BLE001 - one target's trouble must not stop the others
                _note(f"{w['target'].resource_id}: {e!r}")


def _loop():
    while not _stop.wait(period()) and not core.shutting_down():
        try:
            evaluate()
        except Exception as e:  # noqa: BLE001
            _note(f"evaluation failed: {e!r}")


# ---------------------------------------------------------------------------------------- moto patches

def apply():
    from moto.applicationautoscaling import responses as R
    from moto.applicationautoscaling.exceptions import AWSValidationException

    def describe_scaling_activities(self):
        """Newest first; MaxResults (1-50, default 50) and NextToken; no not-scaled activities."""
        self._validate_params()
        ns = self._get_param("ServiceNamespace")
        rid, dim = self._get_param("ResourceId"), self._get_param("ScalableDimension")
        max_results = self._get_int_param("MaxResults") or 50
        if not 1 <= max_results <= 50:
            raise AWSValidationException("1 validation error detected: Value at 'maxResults' failed to satisfy "
                                         "constraint: Member must have value less than or equal to 50")
        with core.LOCK:
            acts = [a for a in _activities.get((self.current_account, self.region), [])
                    if a["ServiceNamespace"] == ns and (not rid or a["ResourceId"] == rid)
                    and (not dim or a["ScalableDimension"] == dim)]
        start = int(self._get_param("NextToken") or 0)
        page = acts[start:start + max_results]
        out = {"ScalingActivities": page}
        if start + max_results < len(acts):
            out["NextToken"] = str(start + max_results)
        return json.dumps(out)

    R.ApplicationAutoScalingResponse.describe_scaling_activities = describe_scaling_activities
    threading.Thread(target=_loop, name="application-autoscaling", daemon=True).start()
    core.on_shutdown(_stop.set)
