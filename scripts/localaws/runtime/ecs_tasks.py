"""ECS tasks as process groups: RunTask/StartTask/StopTask start and stop real processes; DescribeTasks and
ListTasks report what really happened. See DESIGN.md "ECS tasks".

A task (TaskRun) is one cgroup (`task-<id>`) with one child cgroup per container. Its life cycle, on its
own thread:
  PROVISIONING  private IP allocated in the awsvpc subnet (net.allocate_in_subnet), ENI attached;
  PENDING       images resolved and prepared (images.resolve / Image.prepare: "pull"), secrets read from
                Secrets Manager / SSM (through the execution role's policies), volumes resolved (EFS through
                efs.host_path, bind volumes as per-task directories), awslogs streams created, then
                containers started in dependsOn order (START/COMPLETE/SUCCESS/HEALTHY);
  RUNNING       once every container has started (or has already exited, e.g. a COMPLETE'd init);
  DEACTIVATING/STOPPING  when an essential container exits or StopTask/stop() asks: SIGTERM to every
                running container, SIGKILL after its stopTimeout (default 30 s);
  DEPROVISIONING  ENI released, credentials revoked, cgroups killed, sandbox removed;
  STOPPED       with stopCode/stoppedReason as ECS words them.
Each container runs through sandbox.py (private mount + UTS namespace, its own /etc/hosts and host name, the
bind shim so 0.0.0.0 / 127.0.0.1 / :: / ::1 mean the task's loopback twin).

API for other parts: launch, stop, run_of, subscribe (see DESIGN.md).
"""
import datetime
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import traceback
import uuid

from . import awslogs, core, creds, net, sandbox

EVENTS = ("RUNNING", "HEALTHY", "UNHEALTHY", "STOPPED")
DEFAULT_STOP_TIMEOUT = 30
_runs = {}                  # task arn -> TaskRun
_runs_lock = threading.Lock()
_subscribers = []
_start_task_net = threading.local()
_token_lock = threading.Lock()
_LiveTask = None


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def subscribe(fn):
    """fn(event, task_arn) for event in RUNNING/HEALTHY/UNHEALTHY/STOPPED; called without core.LOCK."""
    _subscribers.append(fn)
    return fn


def _emit(event, arn):
    for fn in list(_subscribers):
        try:
            fn(event, arn)
        except Exception as e:  # noqa: BLE001 - a subscriber's bug never stops a task
            core.log(f"ecs task event {event} subscriber {fn}: {e}")


def run_of(task_arn):
    """The TaskRun of a task (by ARN or id), or None."""
    with _runs_lock:
        run = _runs.get(task_arn)
        if run is None:
            tid = task_arn.split("/")[-1]
            run = next((r for a, r in _runs.items() if a.endswith("/" + tid)), None)
        return run


def runs():
    with _runs_lock:
        return list(_runs.values())


# ----------------------------------------------------------------------------------- models

class LiveContainer:
    """What DescribeTasks shows for one container (attribute names as the serializer picks them)."""

    def __init__(self, task_arn, cdef, private_ip, attachment_id):
        self.container_arn = f"{task_arn.replace(':task/', ':container/')}/{uuid.uuid4()}"
        self.task_arn = task_arn
        self.name = cdef.get("name")
        self.image = cdef.get("image")
        self.runtime_id = None
        self.last_status = "PENDING"
        self.exit_code = None
        self.reason = None
        self.health_status = "UNKNOWN"     # as ECS reports a container without a health check too
        self.network_bindings = [
            {"bindIP": private_ip, "containerPort": pm.get("containerPort"),
             "hostPort": pm.get("hostPort") or pm.get("containerPort"), "protocol": pm.get("protocol", "tcp")}
            for pm in cdef.get("portMappings") or [] if pm.get("containerPort")]
        self.network_interfaces = [{"attachmentId": attachment_id, "privateIpv4Address": private_ip}] \
            if attachment_id else []
        self.cpu = str(cdef["cpu"]) if cdef.get("cpu") is not None else "0"
        self.memory = str(cdef["memory"]) if cdef.get("memory") is not None else None
        self.memory_reservation = str(cdef["memoryReservation"]) if cdef.get("memoryReservation") else None
        self.managed_agents = []


def _live_task_class():
    global _LiveTask
    if _LiveTask is not None:
        return _LiveTask
    from moto.ecs import models as ecs

    class LiveTask(ecs.Task):
        """A moto Task whose state is the truth of its processes (no ManagedState auto-advance)."""

        @property
        def last_status(self):
            return self.__dict__.get("_live_status", "PROVISIONING")

        @last_status.setter
        def last_status(self, value):
            self.__dict__["_live_status"] = value

        def advance(self):
            pass

    _LiveTask = LiveTask
    return LiveTask


class SetupError(Exception):
    """The task cannot start: (stop code, stoppedReason, container name or None, container reason)."""

    def __init__(self, reason, container=None, container_reason=None, stop_code="TaskFailedToStart"):
        super().__init__(reason)
        self.reason, self.container, self.container_reason, self.stop_code = \
            reason, container, container_reason, stop_code


class CRun:
    """One container of a running task."""

    def __init__(self, tr, cdef, model):
        self.tr, self.cdef, self.model = tr, cdef, model
        self.name = cdef["name"]
        self.essential = cdef.get("essential", True) is not False
        self.image = None
        self.proc = None
        self.state = "PENDING"        # PENDING -> RUNNING -> STOPPED (or STOPPED without start)
        self.exit_code = None
        self.health = "UNKNOWN" if cdef.get("healthCheck") else None
        self.cg = None
        self.env = None
        self.mounts = []
        self.log_stream = None
        self.pump = None
        self.stop_timeout = int(cdef.get("stopTimeout") or DEFAULT_STOP_TIMEOUT)
        self.output = []              # last lines (for diagnostics and tests without awslogs)
        self.start_error = None       # CannotStartContainerError text when its process could not start
        self.own = []                 # its writable home dirs: chowned to its user, if it runs as one

    @property
    def started(self):
        return self.state in ("RUNNING", "STOPPED") and self.proc is not None

    @property
    def exited(self):
        return self.state == "STOPPED"


class TaskRun:
    def __init__(self, backend, task, td, private_ip, overrides):
        self.backend, self.task, self.td = backend, task, td
        self.arn = task.task_arn
        self.id = task.id
        self.account, self.region = backend.account_id, backend.region_name
        self.private_ip = private_ip
        self.address = net.loopback_of(private_ip)
        self.hostname = net.hostname_of(private_ip, self.region)
        self.overrides = overrides or {}
        self.cond = threading.Condition()
        self.stop_request = None      # (stop code, reason)
        self.cg = None
        self.dir = None
        self.hosts_file = None
        self.eni_id = None
        self.containers = []
        self.health_status = "UNKNOWN"
        self.thread = None
        self.done = threading.Event()

    # -- what other parts read
    @property
    def last_status(self):
        return self.task.last_status

    @property
    def desired_status(self):
        return self.task.desired_status

    @property
    def stopped_reason(self):
        return self.task.stopped_reason

    @property
    def stop_code(self):
        return getattr(self.task, "stop_code", None)

    def container(self, name):
        return next((c for c in self.containers if c.name == name), None)

    def ports(self):
        """[(container name, container port)] the task listens on (its portMappings)."""
        return [(c.name, pm["containerPort"]) for c in self.containers
                for pm in c.cdef.get("portMappings") or [] if pm.get("containerPort")]

    def pids(self):
        return core.cgroup_pids(self.cg) + [p for c in self.containers if c.cg for p in core.cgroup_pids(c.cg)] \
            if self.cg else []

    def __repr__(self):
        return f"<TaskRun {self.id} {self.last_status} {self.address}>"

    # -- state changes (LOCK held briefly)
    def set_status(self, status, **times):
        with core.LOCK:
            self.task.last_status = status
            for k, v in times.items():
                setattr(self.task, k, v)
            self.task.version = getattr(self.task, "version", 1) + 1

    def notify(self):
        with self.cond:
            self.cond.notify_all()

    def request_stop(self, stop_code, reason):
        with self.cond:
            first = self.stop_request is None
            if first:
                self.stop_request = (stop_code, reason)
            self.cond.notify_all()
        if first:
            with core.LOCK:
                self.task.desired_status = "STOPPED"
                self.task.stopped_reason = reason
                self.task.stop_code = stop_code
                if not getattr(self.task, "stopping_at", None) and self.task.last_status == "RUNNING":
                    self.task.stopping_at = _now()
        return first


# ----------------------------------------------------------------------------------- launch

def _td_of(backend, task_definition_arn):
    return backend.describe_task_definition(task_definition_arn)


def _cluster_of(backend, cluster):
    if hasattr(cluster, "arn") and hasattr(cluster, "name"):
        return cluster
    return backend._get_cluster(cluster or "default")


def launch(backend, cluster, task_definition_arn, *, started_by=None, group=None, network_configuration=None,
           count=1, overrides=None, tags=None, launch_type=None, platform_version=None,
           container_instance_arn=None):
    """Creates `count` tasks (moto Task objects, lastStatus PROVISIONING) and starts each on its own thread.
    Raises moto's ECS exceptions for bad input (unknown cluster/task definition, awsvpc without network
    configuration). Takes core.LOCK itself (re-entrant: callers may hold it)."""
    from moto.ecs.exceptions import InvalidParameterException
    LiveTask = _live_task_class()
    out = []
    with core.LOCK:
        cl = _cluster_of(backend, cluster)
        td = _td_of(backend, task_definition_arn)
        if group is None:
            group = f"family:{td.family}"
        if td.network_mode == "awsvpc":
            if not network_configuration or not (network_configuration.get("awsvpcConfiguration") or {}).get("subnets"):
                raise InvalidParameterException(
                    "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
            network_configuration["awsvpcConfiguration"].setdefault("securityGroups", [])
        if launch_type is None:
            launch_type = "FARGATE" if "FARGATE" in (td.requires_compatibilities or []) else "EC2"
        reqs = None   # Fargate: no container instance to account resources on
        backend.tasks.setdefault(cl.name, {})
        for _ in range(int(count or 1)):
            owner = f"ecs-task:{uuid.uuid4()}"
            if td.network_mode == "awsvpc":
                subnet = _pick_subnet(network_configuration["awsvpcConfiguration"]["subnets"])
                for _try in range(20):
                    ip = net.allocate_in_subnet(subnet, backend.account_id, backend.region_name, owner)
                    if not _ip_taken_in_moto(backend, subnet, ip):
                        break
                    # taken by something moto placed itself (an EC2 instance, an ENI): leave it reserved
            else:
                ip = net.allocate("10.255.0.0/16", owner)
            # moto's own awsvpc branch makes an ENI with a random address (and fails on moto 5.2.1): the task
            # is made without it and gets its ENI here, with the address from the runtime's plan.
            mode = td.network_mode
            td.network_mode = "bridge" if mode == "awsvpc" else mode
            try:
                task = LiveTask(cl, td, container_instance_arn, reqs, backend=backend, group=group,
                                overrides=overrides or {}, started_by=started_by or "", tags=tags or [],
                                launch_type=launch_type, networking_configuration=None,
                                platform_version=platform_version or ("1.4.0" if launch_type == "FARGATE" else None))
                if mode == "awsvpc":
                    task.network_configuration = network_configuration
                    _attach_eni(task, backend, network_configuration, subnet, ip)
            except Exception:
                net.release(ip)
                raise
            finally:
                td.network_mode = mode
            tr = TaskRun(backend, task, td, ip, overrides)
            _init_model(tr, td, network_configuration)
            backend.tasks[cl.name][task.task_arn] = task
            with _runs_lock:
                _runs[task.task_arn] = tr
            out.append(task)
    for task in out:
        tr = run_of(task.task_arn)
        tr.thread = threading.Thread(target=_lifecycle, args=(tr,), name=f"ecs-task {tr.id}", daemon=True)
        tr.thread.start()
    return out


_subnet_turn = {}


def _ip_taken_in_moto(backend, subnet_id, ip):
    from moto.ec2.models import ec2_backends
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    try:
        if ip in getattr(ec2.get_subnet(subnet_id), "_subnet_ips", {}):
            return True
    except Exception:  # noqa: BLE001
        return False
    return any(getattr(e, "private_ip_address", None) == ip for e in getattr(ec2, "enis", {}).values())


def _pick_subnet(subnets):
    """ECS spreads a service's tasks over the subnets (AZs) it may use: take them in turn."""
    key = tuple(subnets)
    i = _subnet_turn.get(key, 0)
    _subnet_turn[key] = i + 1
    return subnets[i % len(subnets)]


def _attach_eni(task, backend, network_configuration, subnet, ip):
    from moto.ec2.models import ec2_backends
    conf = network_configuration["awsvpcConfiguration"]
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    att_id = str(uuid.uuid4())
    eni = ec2.create_network_interface(subnet=ec2.get_subnet(subnet), private_ip_address=ip,
                                       group_ids=conf.get("securityGroups") or [],
                                       description=f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:"
                                                   f"attachment/{att_id}")
    eni.status = "in-use"
    eni.device_index = 1
    task.subnet_id = subnet
    task.attachments.append({
        "id": att_id, "type": "ElasticNetworkInterface", "status": "PRECREATED",
        "details": [{"name": "subnetId", "value": subnet}, {"name": "networkInterfaceId", "value": eni.id},
                    {"name": "macAddress", "value": eni.mac_address},
                    {"name": "privateDnsName", "value": net.hostname_of(ip, backend.region_name)},
                    {"name": "privateIPv4Address", "value": ip}]})


def _init_model(tr, td, network_configuration):
    """The task's DescribeTasks fields at creation (LOCK held)."""
    t = tr.task
    att_id = None
    for att in t.attachments:
        if att.get("type") == "ElasticNetworkInterface":
            att_id = att["id"]
            att["status"] = "PRECREATED"
            for d in att["details"]:
                if d["name"] == "networkInterfaceId":
                    tr.eni_id = d["value"]
                if d["name"] == "privateDnsName":
                    d["value"] = tr.hostname
    t.last_status = "PROVISIONING"
    t.desired_status = "RUNNING"
    t.created_at = _now()
    t.stopped_reason = None
    t.stop_code = None
    t.health_status = "UNKNOWN"
    t.connectivity = None
    t.cpu = td.cpu
    t.memory = td.memory
    t.version = 1
    t.enable_execute_command = False
    t.attributes = [{"name": "ecs.cpu-architecture", "value": "x86_64"}]
    t.ephemeral_storage = {"sizeInGiB": 20}
    t.platform_family = "Linux" if t.launch_type == "FARGATE" else None
    if network_configuration and tr.eni_id:
        from moto.ec2.models import ec2_backends
        try:
            subnet = ec2_backends[tr.account][tr.region].get_subnet(t.subnet_id)
            t.availability_zone = subnet.availability_zone
        except Exception:  # noqa: BLE001
            t.availability_zone = f"{tr.region}a"
    else:
        t.availability_zone = f"{tr.region}a"
    overrides_by_name = {o.get("name"): o for o in (tr.overrides.get("containerOverrides") or [])}
    models = []
    for cdef in td.container_definitions:
        m = LiveContainer(t.task_arn, cdef, tr.private_ip, att_id)
        models.append(m)
        c = CRun(tr, cdef, m)
        c.override = overrides_by_name.get(cdef.get("name")) or {}
        tr.containers.append(c)
    t.containers = models


# ----------------------------------------------------------------------------------- life cycle

def _lifecycle(tr):
    try:
        _provision(tr)
        _prepare(tr)
        _run_containers(tr)
    except SetupError as e:
        core.log(f"task {tr.id}: cannot start: {e.reason}")
        if e.container:
            c = tr.container(e.container)
            if c:
                with core.LOCK:
                    c.model.reason = e.container_reason or e.reason
        tr.request_stop(e.stop_code, e.reason)
    except Exception as e:  # noqa: BLE001 - never a traceback to the client: an ECS-shaped stop
        core.log(f"task {tr.id}: internal error: {traceback.format_exc()}")
        tr.request_stop("TaskFailedToStart", f"ResourceInitializationError: {e}")
    finally:
        try:
            _teardown(tr)
        except Exception:  # noqa: BLE001
            core.log(f"task {tr.id}: teardown error: {traceback.format_exc()}")
        tr.done.set()
        _emit("STOPPED", tr.arn)


def _stopping(tr):
    with tr.cond:
        return tr.stop_request is not None


def _provision(tr):
    with core.LOCK:
        for att in tr.task.attachments:
            if att.get("type") == "ElasticNetworkInterface":
                att["status"] = "ATTACHED"
    tr.cg = core.new_cgroup(f"task-{tr.id}")
    tr.dir = core.path("tasks", tr.id, "x")[:-2]
    os.makedirs(tr.dir, exist_ok=True)
    os.chmod(tr.dir, 0o755)
    tr.hosts_file = net.HOSTS.sandbox_file(os.path.join(tr.dir, "hosts"), tr.private_ip, tr.hostname)
    net.HOSTS.add(tr.hostname, tr.private_ip)     # the VPC's DNS resolves every ENI's private DNS name
    tr.set_status("PENDING", connectivity="CONNECTED", connectivity_at=_now())


def _prepare(tr):
    from . import images
    td = tr.td
    # "pull": every image resolved and prepared
    tr.set_status("PENDING", pull_started_at=_now())
    for c in tr.containers:
        if _stopping(tr):
            return
        try:
            c.image = images.resolve(c.cdef.get("image"))
            c.image.prepare()
        except images.ImageError as e:
            reason = e.reason if str(e.reason).startswith("CannotPullContainerError") \
                else f"CannotPullContainerError: {e.reason}"
            raise SetupError(reason, c.name, reason) from None
    tr.set_status("PENDING", pull_stopped_at=_now())
    # secrets and environment files (the execution role's view), then the environment of each container
    for c in tr.containers:
        c.env = _environment(tr, c)
    # volumes
    vols = _volumes(tr)
    for c in tr.containers:
        c.mounts = _mounts(tr, c, vols)
    # logs
    for c in tr.containers:
        lc = c.cdef.get("logConfiguration") or {}
        if lc.get("logDriver") == "awslogs":
            try:
                c.log_stream = awslogs.open_stream(tr.account, tr.region, lc.get("options") or {}, c.name, tr.id)
            except awslogs.LogSetupError as e:
                raise SetupError(str(e), c.name) from None


def _split_secret_ref(value_from):
    """(kind, id, json_key, version_stage, version_id) for a secrets valueFrom."""
    if value_from.startswith("arn:"):
        parts = value_from.split(":")
        service = parts[2] if len(parts) > 2 else ""
        if service == "secretsmanager" and len(parts) >= 7:
            sid = ":".join(parts[:7])
            rest = parts[7:] + ["", "", ""]
            return "asm", sid, rest[0] or None, rest[1] or None, rest[2] or None
        if service == "ssm":
            return "ssm", value_from, None, None, None
        return "asm", value_from, None, None, None
    return "ssm", value_from, None, None, None


_ASM = ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        "failed: unable to retrieve secret from asm: service call has been retried 1 time(s): ")
_SSM = ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        "failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): ")


def _secret_value(tr, value_from):
    """The string ECS would inject for one secrets entry (LOCK held by the caller)."""
    kind, sid, key, stage, version = _split_secret_ref(value_from)
    role = getattr(tr.td, "execution_role_arn", None)
    rid = uuid.uuid4()
    if kind == "asm":
        from moto.secretsmanager.models import secretsmanager_backends
        region = sid.split(":")[3] if sid.startswith("arn:") else tr.region
        account = sid.split(":")[4] if sid.startswith("arn:") else tr.account
        be = secretsmanager_backends[account][region]
        if role:
            ok, _ = creds.can_read_secret(role, tr.account, tr.region, sid)
            if not ok:
                raise SetupError(
                    f"{_ASM}failed to fetch secret {sid} from secrets manager: AccessDeniedException: User: "
                    f"arn:aws:sts::{tr.account}:assumed-role/{role.split('/')[-1]}/{tr.id} is not authorized to "
                    f"perform: secretsmanager:GetSecretValue on resource: {sid} because no identity-based policy "
                    f"allows the secretsmanager:GetSecretValue action\n\tstatus code: 400, request id: {rid}")
        try:
            got = be.get_secret_value(sid, version, stage)
        except Exception:  # noqa: BLE001 - not found / deleted / no such version
            raise SetupError(f"{_ASM}failed to fetch secret {sid} from secrets manager: ResourceNotFoundException: "
                             f"Secrets Manager can't find the specified secret.\n\tstatus code: 400, request id: {rid}") \
                from None
        value = got.get("SecretString")
        if value is None and got.get("SecretBinary") is not None:
            b = got["SecretBinary"]
            value = b.decode() if isinstance(b, bytes) else str(b)
        if key:
            try:
                doc = json.loads(value or "")
                v = doc[key]
            except (ValueError, KeyError, TypeError):
                raise SetupError(f"{_ASM}retrieved secret from Secrets Manager did not contain json key {key}") \
                    from None
            value = v if isinstance(v, str) else json.dumps(v)
        return value or ""
    from moto.ssm.models import ssm_backends
    name = sid
    region = tr.region
    if sid.startswith("arn:"):
        region = sid.split(":")[3]
        name = sid.split(":parameter", 1)[1]
    be = ssm_backends[tr.account][region]
    p = be.get_parameter(name)
    if p is None:
        if not sid.startswith("arn:"):
            # Lenient (ECS wants an ARN for Secrets Manager): a secret's name, NAME or NAME:json-key::
            from moto.secretsmanager.models import secretsmanager_backends
            sm_name, _, rest = sid.partition(":")
            sec = next((x for x in secretsmanager_backends[tr.account][tr.region].secrets.values()
                        if getattr(x, "name", None) == sm_name), None)
            if sec is not None:
                return _secret_value(tr, sec.arn + (":" + rest if rest else ""))
        raise SetupError(f"{_SSM}invalid parameters: {name}")
    if role:
        par_arn = f"arn:aws:ssm:{region}:{tr.account}:parameter/{name.lstrip('/')}"
        ok, _ = creds.can_read_secret(role, tr.account, tr.region, par_arn, "ssm:GetParameters")
        if not ok:
            raise SetupError(f"{_SSM}AccessDeniedException: User: arn:aws:sts::{tr.account}:assumed-role/"
                             f"{role.split('/')[-1]}/{tr.id} is not authorized to perform: ssm:GetParameters on "
                             f"resource: {par_arn} because no identity-based policy allows the ssm:GetParameters "
                             f"action\n\tstatus code: 400, request id: {rid}")
    return p.value


def _env_file(tr, ef):
    """KEY=VALUE lines of an environmentFiles entry (S3 object ARN)."""
    from moto.s3.models import s3_backends
    arn = ef.get("value", "")
    rest = arn.split(":::", 1)[-1]
    bucket, _, key = rest.partition("/")
    try:
        obj = s3_backends[tr.account]["aws"].get_object(bucket, key)
        data = obj.value.decode()
    except Exception:  # noqa: BLE001
        raise SetupError("ResourceInitializationError: failed to download env files: file download command: "
                         f"non empty error stream: service call has been retried 5 time(s): NoSuchKey: {arn}") \
            from None
    out = {}
    for line in data.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out[k] = v
    return out


def _environment(tr, c):
    img = c.image
    env = {"PATH": sandbox_default_path()}
    env.update({k: str(v) for k, v in (img.env or {}).items()})
    env.setdefault("HOME", "/root")
    env["HOSTNAME"] = tr.hostname
    # What ECS (Fargate) itself sets in every container.
    env.update({"AWS_REGION": tr.region, "AWS_DEFAULT_REGION": tr.region, "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"})
    uri = creds.register_metadata(tr.arn, lambda: _metadata(tr, c))
    env.update({"ECS_CONTAINER_METADATA_URI_V4": uri, "ECS_CONTAINER_METADATA_URI": uri.replace("/v4/", "/v3/"),
                "ECS_AGENT_URI": creds.agent_uri(uri)})
    # The one addition: where AWS is (SDKs honour AWS_ENDPOINT_URL).
    if core.endpoint():
        env["AWS_ENDPOINT_URL"] = core.endpoint()
    env.update(creds.register(tr.arn, getattr(tr.td, "task_role_arn", None) or None, tr.account, tr.region, tr.id)
               if getattr(tr, "_creds_env", None) is None else tr._creds_env)
    tr._creds_env = {k: env[k] for k in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN")
                     if k in env}
    with core.LOCK:
        for ef in (c.cdef.get("environmentFiles") or []) + (c.override.get("environmentFiles") or []):
            env.update(_env_file(tr, ef))
    for e in c.cdef.get("environment") or []:
        env[e["name"]] = "" if e.get("value") is None else str(e.get("value"))
    for e in c.override.get("environment") or []:
        env[e["name"]] = "" if e.get("value") is None else str(e.get("value"))
    with core.LOCK:
        for s in c.cdef.get("secrets") or []:
            try:
                env[s["name"]] = _secret_value(tr, s["valueFrom"])
            except SetupError as e:
                e.container = c.name
                raise
    shim = sandbox.shim_path()
    env["LD_PRELOAD"] = f"{shim} {env['LD_PRELOAD']}" if env.get("LD_PRELOAD") else shim
    env["FAIRFLOW_TASK_ADDR"] = tr.address
    env["FAIRFLOW_TASK_PRIVATE_ADDR"] = tr.private_ip
    env["FAIRFLOW_HOST_PORTS"] = ",".join(str(p) for p in _host_ports())
    return env


def _iso(dt):
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def _container_metadata(tr, c):
    lc = c.cdef.get("logConfiguration") or {}
    m = {"DockerId": c.model.runtime_id, "Name": c.name, "DockerName": f"ecs-{tr.td.family}-{c.name}",
         "Image": c.cdef.get("image"), "ImageID": "sha256:" + "0" * 64, "Labels": {
             "com.amazonaws.ecs.cluster": tr.task.cluster_arn, "com.amazonaws.ecs.container-name": c.name,
             "com.amazonaws.ecs.task-arn": tr.arn, "com.amazonaws.ecs.task-definition-family": tr.td.family,
             "com.amazonaws.ecs.task-definition-version": str(tr.td.revision)},
         "DesiredStatus": "RUNNING" if tr.desired_status == "RUNNING" else "STOPPED",
         "KnownStatus": c.model.last_status, "Limits": {"CPU": int(c.cdef.get("cpu") or 0)},
         "Type": "NORMAL", "ContainerARN": c.model.container_arn,
         "Networks": [{"NetworkMode": tr.td.network_mode or "awsvpc", "IPv4Addresses": [tr.private_ip],
                       "PrivateDNSName": tr.hostname}]}
    if c.exit_code is not None:
        m["ExitCode"] = c.exit_code
    if c.health is not None:
        m["Health"] = {"status": c.health}
    if lc.get("logDriver"):
        m["LogDriver"] = lc["logDriver"]
        m["LogOptions"] = dict(lc.get("options") or {})
        if lc["logDriver"] == "awslogs" and c.log_stream is not None:
            m["LogOptions"]["awslogs-stream"] = c.log_stream.name
    return m


def _metadata(tr, c):
    with core.LOCK:
        t = tr.task
        task = {"Cluster": t.cluster_arn, "TaskARN": tr.arn, "Family": tr.td.family,
                "Revision": str(tr.td.revision), "DesiredStatus": t.desired_status, "KnownStatus": t.last_status,
                "Limits": {"CPU": float(tr.td.cpu or 0) / 1024, "Memory": int(tr.td.memory or 0)},
                "PullStartedAt": _iso(getattr(t, "pull_started_at", None)),
                "PullStoppedAt": _iso(getattr(t, "pull_stopped_at", None)),
                "AvailabilityZone": t.availability_zone, "LaunchType": t.launch_type or "FARGATE",
                "Containers": [_container_metadata(tr, x) for x in tr.containers]}
        return _container_metadata(tr, c), {k: v for k, v in task.items() if v is not None}


def _host_ports():
    """Ports on 127.0.0.1 that stay the host's inside a task (the shim sends other 127.0.0.1 dials to the
    task's own address): the local AWS endpoint and the credentials endpoint."""
    from urllib.parse import urlparse
    out = []
    if core.endpoint():
        port = urlparse(core.endpoint()).port
        if port:
            out.append(port)
    if creds.port():
        out.append(creds.port())
    return out


def sandbox_default_path():
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _volumes(tr):
    """volume name -> host path (EFS via efs.host_path; bind volumes as per-task directories)."""
    out = {}
    for v in tr.td.volumes or []:
        name = v.get("name")
        efs_cfg = v.get("efsVolumeConfiguration")
        if efs_cfg:
            from . import efs
            auth = efs_cfg.get("authorizationConfig") or {}
            try:
                out[name] = efs.host_path(tr.account, tr.region, efs_cfg.get("fileSystemId"),
                                          efs_cfg.get("rootDirectory") or "/", auth.get("accessPointId"))
            except ValueError as e:
                raise SetupError(str(e)) from None
            except AttributeError:
                raise SetupError("ResourceInitializationError: failed to invoke EFS utils commands to set up EFS "
                                 "volumes: EFS is not available in this local AWS") from None
            continue
        host = v.get("host") or {}
        if host.get("sourcePath"):
            out[name] = host["sourcePath"]
            continue
        d = os.path.join(tr.dir, "volumes", name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        out[name] = d
    return out


def _mounts(tr, c, vols):
    """[(src, dst, ro)] for one container: image files, its writable home dirs, the task's mountPoints."""
    mounts = []
    for dst, src in (c.image.mounts or {}).items():
        mounts.append((src, dst, True))
    for i, d in enumerate(c.image.home_dirs or []):
        src = os.path.join(tr.dir, "containers", c.name, "home", d.strip("/").replace("/", "_") or f"d{i}")
        os.makedirs(src, exist_ok=True)
        c.own.append(src)
        mounts.append((src, d, False))
    mps = list(c.cdef.get("mountPoints") or [])
    for vf in c.cdef.get("volumesFrom") or []:
        other = tr.container(vf.get("sourceContainer"))
        if other:
            for mp in other.cdef.get("mountPoints") or []:
                mps.append(dict(mp, readOnly=vf.get("readOnly", mp.get("readOnly", False))))
    for mp in mps:
        src = vols.get(mp.get("sourceVolume"))
        if src is None:
            raise SetupError(f"ResourceInitializationError: mount point {mp.get('containerPath')} refers to an "
                             f"unknown volume {mp.get('sourceVolume')}", c.name)
        if not os.path.exists(src):
            os.makedirs(src, exist_ok=True)
        mounts.append((src, mp["containerPath"], bool(mp.get("readOnly"))))
    mounts.sort(key=lambda m: m[1].rstrip("/").count("/"))
    for src, dst, _ in mounts:
        core.stub(dst, os.path.isdir(src))
    return mounts


def _argv(c):
    img = c.image
    cdef, ov = c.cdef, c.override
    entry = cdef.get("entryPoint")
    command = ov.get("command") if ov.get("command") is not None else cdef.get("command")
    if entry:
        return list(entry) + list(command or [])       # Docker: an entry point resets the image's CMD
    return list(img.entrypoint or []) + list(command if command is not None else (img.command or []))


def _start(tr, c):
    """Starts one container; returns True if its process runs (False: it could not start)."""
    c.cg = core.new_cgroup(f"task-{tr.id}/{c.name}")
    cwd = c.cdef.get("workingDirectory") or c.image.workdir or "/"
    if not os.path.isdir(cwd) and not any(m[1] == cwd for m in c.mounts):
        core.stub(cwd, True)
    spec = {"mounts": [{"src": s, "dst": d, "ro": ro} for s, d, ro in c.mounts],
            "hosts_file": tr.hosts_file, "hostname": tr.hostname, "env": c.env, "argv": _argv(c),
            "cwd": cwd, "user": c.cdef.get("user") or c.image.user, "own": c.own}
    spec_path = os.path.join(tr.dir, "containers", c.name, "spec.json")
    os.makedirs(os.path.dirname(spec_path), exist_ok=True)
    fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(spec, f)
    r, w = os.pipe()
    try:
        proc = core.spawn(sandbox.argv_for(spec_path, w), c.cg, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          pass_fds=(w,), env={"PATH": sandbox_default_path()})
    finally:
        os.close(w)
    c.proc = proc
    with os.fdopen(r) as status:
        lines = status.read().splitlines()
    c.pump = awslogs.pump(c.log_stream, proc.stdout, also=lambda line, c=c: _keep(c, line))
    errors = [ln[6:] for ln in lines if ln.startswith("error ")]
    for ln in lines:
        if ln.startswith("note "):
            core.log(f"task {tr.id} container {c.name}: {ln[5:]}")
    if errors:
        proc.wait()
        reason = f"CannotStartContainerError: Error response from daemon: failed to create task for container: " \
                 f"failed to create shim task: OCI runtime create failed: runc create failed: unable to start " \
                 f"container process: {errors[0]}: unknown"
        c.start_error = reason
        _mark_exited(tr, c, None, reason)
        return False
    with core.LOCK:
        c.state = "RUNNING"
        c.model.last_status = "RUNNING"
        c.model.runtime_id = f"{tr.id}-{proc.pid}"
    threading.Thread(target=_waiter, args=(tr, c), name=f"wait {tr.id}/{c.name}", daemon=True).start()
    if c.cdef.get("healthCheck"):
        threading.Thread(target=_health_loop, args=(tr, c), name=f"health {tr.id}/{c.name}", daemon=True).start()
    return True


def _keep(c, line):
    c.output.append(line)
    if len(c.output) > 200:
        del c.output[:100]


def _mark_exited(tr, c, code, reason=None):
    with core.LOCK:
        c.state = "STOPPED"
        c.exit_code = code
        c.model.last_status = "STOPPED"
        c.model.exit_code = code
        if reason and not c.model.reason:
            c.model.reason = reason
        if c.health is not None and c.health != "UNHEALTHY" and False:
            pass
    tr.notify()


def _waiter(tr, c):
    rc = c.proc.wait()
    code = rc if rc >= 0 else 128 - rc
    # Like Docker when PID 1 of a container exits: everything else in the container goes too.
    core.kill_cgroup(c.cg)
    _mark_exited(tr, c, code)


def _dep_state(tr, c):
    """(ready, terminal error text or None) for c's dependsOn."""
    for dep in c.cdef.get("dependsOn") or []:
        d = tr.container(dep.get("containerName"))
        if d is None:
            continue
        cond = (dep.get("condition") or "START").upper()
        if cond == "START":
            if not (d.started or d.exited):
                return False, None
        elif cond == "COMPLETE":
            if not d.exited:
                return False, None
        elif cond == "SUCCESS":
            if not d.exited:
                return False, None
            if d.exit_code != 0:
                return False, _dep_error(d, c, "as dependency did not exit successfully.")
        elif cond == "HEALTHY":
            if d.health is None:
                continue
            if d.exited:
                return False, _dep_error(d, c, "as dependency did not become healthy.")
            if d.health != "HEALTHY":
                return False, None
    return True, None


def _dep_error(d, c, tail):
    ex = f" - Exit: {d.exit_code}" if d.exit_code is not None else ""
    return (f"CannotStartContainerError: dependency graph: failed to resolve container ordering dependency "
            f"[{d.name}({d.cdef.get('image')}) (STOPPED->RUNNING){ex}] for target [{c.name}({c.cdef.get('image')}) "
            f"(NONE->RUNNING)] {tail}")


def _run_containers(tr):
    running_emitted = False
    while True:
        if _stopping(tr):
            return
        progressed = False
        for c in tr.containers:
            if c.started or c.exited:
                continue
            ready, err = _dep_state(tr, c)
            if err:
                _mark_exited(tr, c, 143, err)
                progressed = True
            elif ready:
                _start(tr, c)
                progressed = True
        # essential container exited -> the task stops (one that could not even start: TaskFailedToStart)
        for c in tr.containers:
            if c.exited and c.essential:
                if c.proc is not None and c.start_error:
                    tr.request_stop("TaskFailedToStart", c.start_error)
                else:
                    tr.request_stop("EssentialContainerExited", "Essential container in task exited")
                return
        if all(c.exited for c in tr.containers):
            tr.request_stop("EssentialContainerExited", "Essential container in task exited")
            return
        if not running_emitted and all(c.started or c.exited for c in tr.containers):
            for att in tr.task.attachments:
                pass
            tr.set_status("RUNNING", started_at=_now())
            running_emitted = True
            _emit("RUNNING", tr.arn)
        if progressed:
            continue
        with tr.cond:
            if tr.stop_request is None:
                tr.cond.wait(0.5)


def _teardown(tr):
    with tr.cond:
        stop_code, reason = tr.stop_request or ("EssentialContainerExited", "Essential container in task exited")
    with core.LOCK:
        t = tr.task
        t.desired_status = "STOPPED"
        t.stop_code = stop_code
        t.stopped_reason = reason
        if not getattr(t, "stopping_at", None):
            t.stopping_at = _now()
    was_running = tr.last_status == "RUNNING"
    tr.set_status("DEACTIVATING" if was_running else "STOPPING")
    tr.set_status("STOPPING")
    # SIGTERM, SIGKILL after each container's stopTimeout; in reverse dependsOn order, as ECS: a container
    # is stopped once no running container depends on it.
    deadline = {}
    while True:
        alive = [c for c in tr.containers if c.proc is not None and c.state != "STOPPED"]
        if not alive:
            break
        names = {c.name for c in alive}
        wave = [c for c in alive if not any(c.name in {d.get("containerName") for d in x.cdef.get("dependsOn") or []}
                                            for x in alive if x is not c)] or alive
        now = time.time()
        for c in wave:
            if c.name not in deadline:
                try:
                    os.kill(c.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                deadline[c.name] = now + c.stop_timeout
            elif now >= deadline[c.name]:
                if c.cg:
                    core.kill_cgroup(c.cg)
                try:
                    c.proc.kill()
                except (ProcessLookupError, OSError):
                    pass
        _ = names
        with tr.cond:
            tr.cond.wait(0.2)
    with core.LOCK:
        for c in tr.containers:
            if c.state != "STOPPED":
                c.state = "STOPPED"
                c.model.last_status = "STOPPED"
        tr.task.execution_stopped_at = _now()
    tr.set_status("DEPROVISIONING")
    # logs: the last lines of every container
    for c in tr.containers:
        if c.pump is not None:
            c.pump.join(timeout=3)
    awslogs.flush()
    creds.unregister(tr.arn)
    if tr.cg:
        core.kill_cgroup(tr.cg)
    if tr.hosts_file:
        net.HOSTS.drop_sandbox(tr.hosts_file)
        net.HOSTS.remove(tr.hostname, tr.private_ip)
    if tr.dir:
        shutil.rmtree(tr.dir, ignore_errors=True)
    _release_eni(tr)
    tr.set_status("STOPPED", stopped_at=_now())
    core.log(f"task {tr.id} stopped: {stop_code}: {reason}")


def _release_eni(tr):
    from moto.ec2.models import ec2_backends
    with core.LOCK:
        for att in tr.task.attachments:
            if att.get("type") == "ElasticNetworkInterface":
                att["status"] = "DELETED"
        if tr.eni_id:
            try:
                ec2_backends[tr.account][tr.region].delete_network_interface(tr.eni_id)
            except Exception:  # noqa: BLE001 - already gone
                pass
    net.release(tr.private_ip)


# ----------------------------------------------------------------------------------- health checks

def _health_loop(tr, c):
    hc = c.cdef["healthCheck"]
    cmd = list(hc.get("command") or [])
    interval = max(1, int(hc.get("interval") or 30))
    timeout = max(1, int(hc.get("timeout") or 5))
    retries = max(1, int(hc.get("retries") or 3))
    start_period = int(hc.get("startPeriod") or 0)
    if not cmd or cmd[0] == "NONE":
        return
    if cmd[0] == "CMD-SHELL":
        argv = ["/bin/sh", "-c", " ".join(cmd[1:])]
    elif cmd[0] == "CMD":
        argv = cmd[1:]
    else:
        argv = ["/bin/sh", "-c", " ".join(cmd)]
    started = time.time()
    failures = 0
    ever_ok = False
    nsenter = shutil.which("nsenter") or "/usr/bin/nsenter"
    while c.state == "RUNNING" and not _stopping(tr):
        # As Docker: the first check runs one interval after the start, then every interval.
        end = time.time() + interval
        while time.time() < end and c.state == "RUNNING" and not _stopping(tr):
            time.sleep(min(0.25, max(0.0, end - time.time())))
        if c.state != "RUNNING" or _stopping(tr):
            return
        ok = _probe(tr, c, nsenter, argv, timeout)
        if c.state != "RUNNING":
            return
        if ok:
            failures = 0
            ever_ok = True
            _set_health(tr, c, "HEALTHY")
        elif ever_ok or time.time() - started >= start_period:
            # failures within the start period do not count, unless the container was healthy once
            failures += 1
            if failures >= retries:
                _set_health(tr, c, "UNHEALTHY")


def _probe(tr, c, nsenter, argv, timeout):
    pid = c.proc.pid if c.proc else None
    if not pid or c.proc.poll() is not None:
        return False
    cwd = c.cdef.get("workingDirectory") or c.image.workdir or "/"
    full = [nsenter, "-t", str(pid), "-m", "-u", f"--wd={cwd}", "--"] + argv
    try:
        p = core.spawn(full, c.cg, env=c.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):   # e.g. the container (and its cgroup) just went away
        return False
    try:
        return p.wait(timeout) == 0
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.wait()
        return False


def _set_health(tr, c, health):
    emit = None
    with core.LOCK:
        if c.health == health:
            return
        c.health = health
        c.model.health_status = health
        ess = [x for x in tr.containers if x.essential and x.health is not None]
        if not ess:
            new = "UNKNOWN"
        elif any(x.health == "UNHEALTHY" for x in ess):
            new = "UNHEALTHY"
        elif all(x.health == "HEALTHY" for x in ess):
            new = "HEALTHY"
        else:
            new = "UNKNOWN"
        if new != tr.health_status:
            tr.health_status = new
            tr.task.health_status = new
            if new in ("HEALTHY", "UNHEALTHY"):
                emit = new
    tr.notify()
    if emit:
        _emit(emit, tr.arn)


# ----------------------------------------------------------------------------------- stop

def stop(task_arn, reason=None, stop_code="UserInitiated"):
    """Asks a task to stop (non-blocking): desiredStatus STOPPED now, the processes go on the task's thread.
    Returns the moto Task (or None if unknown)."""
    tr = run_of(task_arn)
    if tr is None:
        return None
    if reason is None:
        reason = "Task stopped by user" if stop_code == "UserInitiated" else "Task stopped"
    tr.request_stop(stop_code, reason)
    return tr.task


def stop_all(timeout=10):
    """At shutdown: every task stops (containers get 3 s after SIGTERM at most)."""
    for tr in runs():
        for c in tr.containers:
            c.stop_timeout = min(c.stop_timeout, 3)
    for tr in runs():
        tr.request_stop("ServiceSchedulerInitiated", "Task stopped: the local AWS is shutting down")
    deadline = time.time() + timeout
    for tr in runs():
        tr.done.wait(max(0.1, deadline - time.time()))


# ----------------------------------------------------------------------------------- moto patches

def apply():
    from moto.ecs import models as ecs
    from moto.ecs import responses as ecs_responses
    from moto.ecs.exceptions import InvalidParameterException
    backend_cls = ecs.EC2ContainerServiceBackend
    for name in ("run_task", "start_task", "stop_task", "describe_tasks", "list_tasks"):
        if not hasattr(backend_cls, name):
            raise RuntimeError(f"local-aws: cannot extend moto: EC2ContainerServiceBackend.{name} is missing")
    def run_task(self, cluster_str, task_definition_str, count, overrides, started_by, tags, launch_type,
                 networking_configuration=None, group=None, platform_version=None):
        if launch_type and launch_type not in ["EC2", "FARGATE", "EXTERNAL"]:
            raise InvalidParameterException("launch type should be one of [EC2,FARGATE,EXTERNAL]")
        if count is not None and not 1 <= int(count) <= 10:
            raise InvalidParameterException("count must be between 1 and 10.")
        return launch(self, cluster_str, task_definition_str, started_by=started_by, group=group,
                      network_configuration=networking_configuration, count=count or 1, overrides=overrides,
                      tags=tags, launch_type=launch_type, platform_version=platform_version)

    def start_task(self, cluster_str, task_definition_str, container_instances, overrides, started_by,
                   tags=None, group=None):
        from moto.ecs.exceptions import EcsClientException
        if not container_instances:
            raise EcsClientException("Container Instances cannot be empty.")
        out = []
        for ci in container_instances:
            out += launch(self, cluster_str, task_definition_str, started_by=started_by, group=group,
                          network_configuration=getattr(_start_task_net, "value", None), count=1,
                          overrides=overrides, tags=tags, launch_type="EC2", container_instance_arn=ci)
        return out

    orig_stop = backend_cls.stop_task

    def stop_task(self, cluster_str, task_str, reason):
        cluster = self._get_cluster(cluster_str)
        tid = task_str.split("/")[-1]
        for arn, task in self.tasks.get(cluster.name, {}).items():
            if arn.endswith("/" + tid) and run_of(arn) is not None:
                stop(arn, reason or "Task stopped by user", "UserInitiated")
                return task
        return orig_stop(self, cluster_str, task_str, reason)

    orig_list = ecs_responses.EC2ContainerServiceResponse.list_tasks

    def list_tasks(self):
        from moto.core.responses import ActionResult
        cluster_str = self._get_param("cluster", "default")
        desired = self._get_param("desiredStatus") or "RUNNING"
        service_name = self._get_param("serviceName")
        tasks = self.ecs_backend.list_tasks(cluster_str, self._get_param("containerInstance"),
                                            None, self._get_param("startedBy"), None, desired)
        family = self._get_param("family")
        if family:   # by the task's own definition (moto's filter lists ACTIVE revisions only, losing deregistered ones)
            tasks = [t for t in tasks if t.task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]
        if service_name:
            svc = service_name.split("/")[-1]
            tasks = [t for t in tasks if t.group == f"service:{svc}"]
        launch_type = self._get_param("launchType")
        if launch_type:
            tasks = [t for t in tasks if (t.launch_type or "EC2") == launch_type]
        return ActionResult({"taskArns": [t.task_arn for t in tasks]})

    orig_describe = ecs_responses.EC2ContainerServiceResponse.describe_tasks

    def describe_tasks(self):
        """As moto, plus ECS's failures [{arn, reason: MISSING}] for tasks it does not know."""
        result = orig_describe(self)
        try:
            found = result.result["tasks"] if hasattr(result, "result") else None
        except Exception:  # noqa: BLE001
            found = None
        if found is None:
            return result
        have = {t.task_arn for t in found} | {t.task_arn.split("/")[-1] for t in found}
        cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
        region, account = self.region, self.current_account
        for want in self._get_param("tasks", []) or []:
            if want not in have and want.split("/")[-1] not in have:
                arn = want if want.startswith("arn:") else f"arn:aws:ecs:{region}:{account}:task/{cluster.name}/{want}"
                result.result["failures"].append({"arn": arn, "reason": "MISSING"})
        return result

    start_task_resp = ecs_responses.EC2ContainerServiceResponse.start_task

    def start_task_response(self):
        _start_task_net.value = self._get_param("networkConfiguration")
        try:
            return start_task_resp(self)
        finally:
            _start_task_net.value = None

    orig_run_resp = ecs_responses.EC2ContainerServiceResponse.run_task
    _tokens = {}   # (account, region, clientToken) -> (request, task ARNs): ECS's RunTask idempotency

    def run_task_response(self):
        """As moto, plus clientToken: a retried or resumed RunTask with the same token answers with the tasks the
        first one started (a different request under the same token is IdempotentParameterMismatch)."""
        token = self._get_param("clientToken")
        if not token:
            return orig_run_resp(self)
        key = (self.current_account, self.region, token)
        request = json.dumps({k: self._get_param(k) for k in ("cluster", "taskDefinition", "count", "overrides",
                                                              "networkConfiguration")}, sort_keys=True, default=str)
        with _token_lock:   # held across the launch: two calls with one token start one task
            return _run_once(self, key, request)

    def _run_once(self, key, request):
        from moto.core.responses import ActionResult
        seen = _tokens.get(key)
        if seen is not None:
            if seen[0] != request:
                from moto.ecs.exceptions import InvalidParameterException
                err = InvalidParameterException("The client token was already used for a different request.")
                err.error_type = "IdempotentParameterMismatchException"
                raise err
            cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
            by_arn = self.ecs_backend.tasks.get(cluster.name, {})
            return ActionResult({"tasks": [by_arn[a] for a in seen[1] if a in by_arn], "failures": []})
        result = orig_run_resp(self)
        _tokens[key] = (request, [t.task_arn for t in result.result["tasks"]])
        return result

    ecs_responses.EC2ContainerServiceResponse.run_task = run_task_response
    backend_cls.run_task = run_task
    backend_cls.start_task = start_task
    backend_cls.stop_task = stop_task
    ecs_responses.EC2ContainerServiceResponse.list_tasks = list_tasks
    ecs_responses.EC2ContainerServiceResponse.describe_tasks = describe_tasks
    ecs_responses.EC2ContainerServiceResponse.start_task = start_task_response
    _ = orig_list
    core.on_shutdown(stop_all)

