"""Signature checking fixes: verify SigV4 over the bytes that were actually sent.

moto computes the payload hash from `body or data`, and for a request with neither a body nor a query
string `data` is the request's *headers* (BaseResponse.setup_class falls back to them). So every
signed rest-json GET/DELETE without a query (EFS DescribeFileSystems, DeleteFileSystem, ...) failed
with SignatureDoesNotMatch. AWS signs the raw body: use it, and the form fields only for a
form-encoded body (which werkzeug moves out of the raw body). The path and query are re-encoded the
way SigV4 does, whatever the server's URL handling decoded before the check (S3 signs its path as
sent, strictly encoded).
"""
from urllib.parse import quote, unquote

from .check import require


def _canonical_path(path, s3=False):
    base, sep, query = path.partition("?")
    if s3:
        base = quote(unquote(base), safe="/~")
    if not sep or not query:
        return base
    pairs = []
    for pair in query.split("&"):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        pairs.append((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~")))
    return base + "?" + "&".join(f"{k}={v}" for k, v in pairs)


def apply():
    from moto.iam import access_control as ac
    require(ac, "IAMRequestBase", "S3IAMRequest")
    require(ac.IAMRequestBase, "_create_aws_request", "_create_headers_for_aws_request", "_get_string_between")
    from botocore.awsrequest import AWSRequest

    def _create_aws_request(self):
        signed = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        headers = self._create_headers_for_aws_request(signed, self._headers)
        body = self._body
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not body and "x-www-form-urlencoded" in (self._headers.get("Content-Type") or "") \
                and self._method.upper() not in ("GET", "HEAD", "DELETE"):
            body = self._data  # no raw bytes kept (not served through the WSGI wrapper below)
        request = AWSRequest(method=self._method,
                             url=_canonical_path(self._path, s3=isinstance(self, ac.S3IAMRequest)),
                             data=body or b"", headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
        return request

    ac.IAMRequestBase._create_aws_request = _create_aws_request

    # werkzeug parses a form body into request.form and leaves no raw bytes; moto then re-encodes the
    # fields (spaces as "+"), which differs from what a client signed (spaces as %20). Keep the bytes.
    import io

    from moto.core.responses import BaseResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    require(BaseResponse, "setup_class")
    require(DomainDispatcherApplication, "__call__")
    dispatch = DomainDispatcherApplication.__call__

    def __call__(self, environ, start_response):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > 0 and "x-www-form-urlencoded" in (environ.get("CONTENT_TYPE") or ""):
            raw = environ["wsgi.input"].read(length)
            environ["fairflow.raw_body"] = raw
            environ["wsgi.input"] = io.BytesIO(raw)
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = __call__
    setup = BaseResponse.setup_class

    def setup_class(self, request, full_url, headers, *args, **kwargs):
        result = setup(self, request, full_url, headers, *args, **kwargs)
        raw = getattr(request, "environ", {}).get("fairflow.raw_body") if hasattr(request, "environ") else None
        if raw:
            self.raw_body = raw
        return result

    BaseResponse.setup_class = setup_class

    # Secrets Manager: moto evaluates every call against resource "*", so a policy scoped to the secret's
    # ARN (the template's task execution role and bastion role) never allows anything. Name the secret.
    from moto.secretsmanager import responses as SR
    import json as _json

    def _determine_resource(self):
        try:
            sid = _json.loads(self.body or "{}").get("SecretId")
            if sid:
                return self.backend.describe_secret(sid).arn
        except Exception:  # noqa: BLE001 - an unknown secret is the call's own error to report
            pass
        return "*"

    SR.SecretsManagerResponse._determine_resource = _determine_resource

    # S3 bucket policies: moto ignores a statement's Condition, so the template's DenyInsecureTransport
    # ({"Bool": {"aws:SecureTransport": "false"}}) denied every object call, TLS or not. The local endpoint
    # stands in for AWS's HTTPS endpoint: its requests count as secure transport. Conditions on other
    # keys are left to moto as before.
    from moto.s3 import models as s3models
    require(s3models.FakeBucket, "get_permission")

    def get_permission(self, action, resource):
        from moto.iam.access_control import IAMPolicy, PermissionResult
        if self.policy is None:
            return PermissionResult.NEUTRAL
        doc = _json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = doc.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = []
        for st in statements:
            holds = _eval(st["Condition"], {"aws:securetransport": "true"}) if st.get("Condition") else True
            if holds is False:
                continue
            if holds is True and st.get("Condition"):
                st = {k: v for k, v in st.items() if k != "Condition"}
            kept.append(st)
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(_json.dumps({**doc, "Statement": kept})).is_action_permitted(action, resource)

    s3models.FakeBucket.get_permission = get_permission

    # Identity policies with a Condition: moto evaluates the condition with no request context and then
    # answers DENIED (for an Allow as for a Deny), so the template's RunTask (ArnEquals ecs:cluster) could never
    # be allowed. Evaluate the condition keys the stack's policies use against the request's context; a
    # statement whose condition does not hold does not apply (NEUTRAL). Other keys: moto's behaviour.
    # ECS calls also name their resource (moto checked every ECS call against "*").
    import threading as _threading

    from moto.core.responses import BaseResponse as _BR
    from moto.ecs import responses as ECSR
    from moto.iam import access_control as _ac
    require(_ac.IAMPolicyStatement, "is_action_permitted")
    require(_BR, "call_action")
    _ctx = _threading.local()

    orig_call_action = _BR.call_action

    def call_action(self):
        _ctx.values = {"aws:securetransport": "true"}
        return orig_call_action(self)
    _BR.call_action = call_action

    def _eval(condition, values=None):
        """True/False for a Condition over keys in values (the request's context by default); None when it
        names a key or operator not evaluated here (moto's own behaviour then applies)."""
        if values is None:
            values = getattr(_ctx, "values", {"aws:securetransport": "true"})
        verdict = True
        for op, pairs in condition.items():
            base = op.replace("IfExists", "")
            for key, want in (pairs or {}).items():
                have = values.get(key.lower())
                if have is None:
                    return None
                wants = [str(w) for w in (want if isinstance(want, list) else [want])]
                if base in ("StringEquals", "ArnEquals"):
                    ok = have in wants
                elif base == "StringEqualsIgnoreCase":
                    ok = have.lower() in [w.lower() for w in wants]
                elif base in ("StringLike", "ArnLike"):
                    import fnmatch
                    ok = any(fnmatch.fnmatchcase(have, w) for w in wants)
                elif base == "Bool":
                    ok = have.lower() in [w.lower() for w in wants]
                else:
                    return None
                verdict = verdict and ok
        return verdict

    orig_permitted = _ac.IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        cond = self._statement.get("Condition")
        if not cond or incoming_condition_values is not None:
            return orig_permitted(self, action, resource, principal, incoming_condition_values)
        holds = _eval(cond)
        if holds is None:
            return orig_permitted(self, action, resource, principal, incoming_condition_values)
        if not holds:
            return _ac.PermissionResult.NEUTRAL
        bare = _ac.IAMPolicyStatement({k: v for k, v in self._statement.items() if k != "Condition"})
        return orig_permitted(bare, action, resource, principal, incoming_condition_values)
    _ac.IAMPolicyStatement.is_action_permitted = is_action_permitted

    def _ecs_determine_resource(self):
        try:
            body = _json.loads(self.body or "{}")
            backend = self.ecs_backend
            prefix = f"arn:aws:ecs:{self.region}:{self.current_account}"
            cluster = body.get("cluster") or "default"
            cluster_name = cluster.rsplit("/", 1)[-1]
            _ctx.values["ecs:cluster"] = f"{prefix}:cluster/{cluster_name}"
            action = self._get_action() if hasattr(self, "_get_action") else ""
            td = body.get("taskDefinition")
            if td and action in ("RunTask", "StartTask"):
                return backend.describe_task_definition(td).arn
            services = body.get("services") or []
            if services and action == "DescribeServices":
                # IAM checks one resource per call: the first service named (fairflow's calls name one).
                svc = services[0]
                return svc if svc.startswith("arn:") else f"{prefix}:service/{cluster_name}/{svc}"
            tasks = body.get("tasks") or ([body["task"]] if body.get("task") else [])
            if tasks and action in ("DescribeTasks", "StopTask"):
                t = tasks[0]
                return t if t.startswith("arn:") else f"{prefix}:task/{cluster_name}/{t}"
        except Exception:  # noqa: BLE001 - an unknown resource is the call's own error to report
            pass
        return "*"
    ECSR.EC2ContainerServiceResponse._determine_resource = _ecs_determine_resource

    # moto names the action by the request's signing name; IAM's prefix for CloudWatch is "cloudwatch", not
    # its signing name "monitoring", so cloudwatch:PutMetricData in a policy never matched.
    require(_ac.IAMRequestBase, "__init__")
    orig_iam_request_init = _ac.IAMRequestBase.__init__

    def iam_request_init(self, *args, **kwargs):
        orig_iam_request_init(self, *args, **kwargs)
        if self._action.startswith("monitoring:"):
            self._action = "cloudwatch:" + self._action.split(":", 1)[1]
    _ac.IAMRequestBase.__init__ = iam_request_init

    # CloudWatch PutMetricData has no resource-level permissions; policies narrow it with the
    # cloudwatch:namespace condition key (the stack's queue-metrics sidecar may publish only "Fairflow").
    from moto.cloudwatch import responses as CWR

    def _cloudwatch_determine_resource(self):
        try:
            namespace = self._get_param("Namespace")
            if namespace:
                _ctx.values["cloudwatch:namespace"] = namespace
        except Exception:  # noqa: BLE001 - a malformed request is the call's own error to report
            pass
        return "*"
    CWR.CloudWatchResponse._determine_resource = _cloudwatch_determine_resource

    # CloudWatch Logs calls name their log group (and stream), as IAM sees them (moto checked "*").
    from moto.logs import responses as LR

    def _logs_determine_resource(self):
        try:
            body = _json.loads(self.body or "{}")
            group = body.get("logGroupName")
            if group:
                base = f"arn:aws:logs:{self.region}:{self.current_account}:log-group:{group}"
                stream = body.get("logStreamName")
                return f"{base}:log-stream:{stream}" if stream else f"{base}:*"
        except Exception:  # noqa: BLE001
            pass
        return "*"
    LR.LogsResponse._determine_resource = _logs_determine_resource
