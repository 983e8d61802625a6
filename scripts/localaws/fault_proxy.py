"""A fault-injecting HTTP proxy for AWS API calls, for retry and idempotency tests.

It forwards every request unchanged (Host header included, so SigV4 signatures stay valid) to an
upstream endpoint (normally scripts/local-aws), logs what it saw, and answers chosen operations with
a fault instead. Rules and the log are read and changed at run time through a control API on the
same port (see scripts/localaws/README.md):

    POST   /_fault/rules     {"operation":"GetCallerIdentity","kind":"throttle","count":2}
    GET    /_fault/rules     the rules, with the count each has left
    DELETE /_fault/rules     remove every rule
    GET    /_fault/requests  the request log (JSON list); ?since=N skips the first N entries
    DELETE /_fault/requests  clear the log

Run as a script it prints FAULT_PROXY_ENDPOINT, FAULT_PROXY_PID, then READY, and serves until
SIGTERM. scripts/local-aws --fault-proxy runs the same proxy inside the launcher.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("throttle", "503", "500", "drop", "delay")
READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Head", "Filter", "Lookup", "Search", "Validate", "Estimate")
TOKEN_KEYS = ("ClientRequestToken", "ClientToken", "IdempotencyToken")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length", "expect"}
# Services that speak the EC2 protocol (query-like request, <Response><Errors> error shape).
EC2_SERVICES = {"ec2"}
# Services whose errors are XML without the query ErrorResponse wrapper (rest-xml).
REST_XML_SERVICES = {"s3", "route53", "cloudfront"}
_CRED_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


class Rule:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a rule is a JSON object")
        self.operation = spec.get("operation") or "*"
        self.service = spec.get("service")
        self.kind = str(spec.get("kind", ""))
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        count = spec.get("count", 1)
        if count is None or int(count) < 0:
            self.remaining = None  # unlimited
        else:
            self.remaining = int(count)
        self.delay = float(spec.get("delay_seconds", 0) or 0)
        if self.kind == "delay" and self.delay <= 0:
            raise ValueError("a delay rule needs delay_seconds > 0")
        self.status = spec.get("status")
        self.id = spec.get("id") or uuid.uuid4().hex[:8]
        self.hits = 0

    def matches(self, info):
        if self.remaining == 0:
            return False
        if self.service and self.service != info["service"]:
            return False
        return self.operation == "*" or self.operation == info["operation"]

    def to_json(self):
        return {"id": self.id, "operation": self.operation, "service": self.service, "kind": self.kind,
                "count_left": self.remaining, "delay_seconds": self.delay, "hits": self.hits}


class FaultState:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.log = []

    def add_rules(self, specs):
        rules = [Rule(s) for s in specs]
        with self.lock:
            self.rules.extend(rules)
        return rules

    def take(self, info):
        """The first rule that matches, with its count decremented; None when none does."""
        with self.lock:
            for rule in self.rules:
                if rule.matches(info):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.hits += 1
                    return rule
        return None

    def record(self, entry):
        with self.lock:
            entry["seq"] = len(self.log)
            self.log.append(entry)


def _first(values):
    return values[0] if values else None


def _find_token(obj, depth=0):
    if depth > 4:
        return None
    if isinstance(obj, dict):
        for k in TOKEN_KEYS:
            v = obj.get(k)
            if isinstance(v, str):
                return v
        for v in obj.values():
            t = _find_token(v, depth + 1)
            if t:
                return t
    elif isinstance(obj, list):
        for v in obj:
            t = _find_token(v, depth + 1)
            if t:
                return t
    return None


def classify(method, raw_path, headers, body):
    """What the request is: operation, service, protocol, token, mutating."""
    parsed = urllib.parse.urlsplit(raw_path)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    ctype = (headers.get("Content-Type") or "").lower()
    form = {}
    if "application/x-www-form-urlencoded" in ctype and body:
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            form = {}
    service = None
    m = _CRED_RE.search(headers.get("Authorization") or "")
    if m:
        service = m.group(4)
    elif "X-Amz-Credential" in query:
        parts = _first(query["X-Amz-Credential"]).split("/")
        if len(parts) >= 4:
            service = parts[3]
    target = headers.get("X-Amz-Target")
    action = _first(form.get("Action")) or _first(query.get("Action"))
    token = None
    if target:
        protocol = "json"
        operation = target.rsplit(".", 1)[-1]
    elif action:
        protocol = "ec2" if service in EC2_SERVICES else "query"
        operation = action
    else:
        protocol = "rest-xml" if service in REST_XML_SERVICES else "rest-json"
        operation = f"{method} {parsed.path}"
    if protocol == "json" or (protocol.startswith("rest") and body and body.lstrip()[:1] in (b"{", b"[")):
        try:
            token = _find_token(json.loads(body.decode("utf-8")))
        except (ValueError, UnicodeDecodeError):
            token = None
    if token is None:
        for k in TOKEN_KEYS:
            v = _first(form.get(k)) or _first(query.get(k))
            if v:
                token = v
                break
    if protocol.startswith("rest"):
        mutating = method.upper() not in ("GET", "HEAD")
    else:
        mutating = not operation.startswith(READ_ONLY_PREFIXES)
    return {"operation": operation, "service": service, "protocol": protocol, "method": method,
            "path": parsed.path, "client_request_token": token, "mutating": mutating,
            "json_content_type": ctype if ctype.startswith("application/x-amz-json") else None}


def fault_response(kind, info, status_override=None):
    """(status, headers, body) of the protocol-appropriate error for a fault kind."""
    rid = str(uuid.uuid4())
    protocol = info["protocol"]
    if kind == "throttle":
        codes = {"json": ("ThrottlingException", 400), "query": ("Throttling", 400),
                 "ec2": ("RequestLimitExceeded", 503), "rest-json": ("ThrottlingException", 429),
                 "rest-xml": ("SlowDown", 503)}
        message = "Rate exceeded"
    elif kind == "503":
        codes = {p: ("ServiceUnavailable", 503) for p in ("query", "ec2", "rest-xml")}
        codes.update({"json": ("ServiceUnavailableException", 503), "rest-json": ("ServiceUnavailableException", 503)})
        message = "Service is unavailable (injected by fault-proxy)"
    else:  # "500"
        codes = {p: ("InternalFailure", 500) for p in ("json", "rest-json", "query")}
        codes.update({"ec2": ("InternalError", 500), "rest-xml": ("InternalError", 500)})
        message = "Internal failure (injected by fault-proxy)"
    code, status = codes[protocol]
    if status_override:
        status = int(status_override)
    headers = {"x-amzn-RequestId": rid}
    if protocol in ("json", "rest-json"):
        headers["Content-Type"] = info.get("json_content_type") or "application/json"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "ec2":
        headers["Content-Type"] = "text/xml"
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>").encode()
    elif protocol == "rest-xml":
        headers["Content-Type"] = "application/xml"
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>{rid}</RequestId></Error>").encode()
    else:
        headers["Content-Type"] = "text/xml"
        body = (f'<ErrorResponse xmlns="https://aws.amazon.com/"><Error><Type>'
                f'{"Sender" if status < 500 else "Receiver"}</Type><Code>{code}</Code><Message>{message}</Message>'
                f"</Error><RequestId>{rid}</RequestId></ErrorResponse>").encode()
    return status, headers, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fairflow-fault-proxy"

    def log_message(self, fmt, *args):  # keep stdout clean for the KEY=VALUE contract
        if self.server.verbose:
            sys.stderr.write("fault-proxy: " + (fmt % args) + "\n")

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj):
        self._send(status, {"Content-Type": "application/json"}, json.dumps(obj, indent=1).encode())

    def _control(self, body):
        state = self.server.state
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path.rstrip("/")
        if path == "/_fault/rules":
            if self.command == "GET":
                with state.lock:
                    return self._json(200, [r.to_json() for r in state.rules])
            if self.command == "POST":
                try:
                    spec = json.loads(body.decode("utf-8") or "null")
                    rules = state.add_rules(spec if isinstance(spec, list) else [spec])
                except (ValueError, TypeError) as e:
                    return self._json(400, {"error": f"bad fault rule: {e}"})
                return self._json(200, [r.to_json() for r in rules])
            if self.command == "DELETE":
                with state.lock:
                    state.rules.clear()
                return self._json(200, [])
        if path == "/_fault/requests":
            if self.command == "GET":
                since = int(_first(urllib.parse.parse_qs(parsed.query).get("since")) or 0)
                with state.lock:
                    return self._json(200, state.log[since:])
            if self.command == "DELETE":
                with state.lock:
                    state.log.clear()
                return self._json(200, [])
        return self._json(404, {"error": f"unknown control endpoint {self.command} {parsed.path}"})

    def _handle(self):
        body = self._read_body()
        if self.path.startswith("/_fault/"):
            return self._control(body)
        info = classify(self.command, self.path, self.headers, body)
        entry = {k: info[k] for k in ("operation", "service", "method", "path", "client_request_token", "mutating")}
        entry.update({"time": time.time(), "fault": None, "status": None})
        rule = self.server.state.take(info)
        if rule is not None:
            entry["fault"] = rule.kind
            if rule.kind == "delay":
                time.sleep(rule.delay)
            elif rule.kind == "drop":
                self.server.state.record(entry)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            else:
                status, headers, rbody = fault_response(rule.kind, info, rule.status)
                entry["status"] = status
                self.server.state.record(entry)
                return self._send(status, headers, rbody)
        status, headers, rbody = self._forward(body)
        entry["status"] = status
        self.server.state.record(entry)
        self._send(status, headers, rbody)

    def _forward(self, body):
        up = self.server.upstream
        try:
            conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=300)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    conn.putheader(k, v)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            rbody = resp.read()
            headers = {}
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server"):
                    headers[k] = v
            conn.close()
            return resp.status, headers, rbody
        except OSError as e:
            msg = f"fault-proxy: upstream {up.geturl()} failed: {e}"
            return 502, {"Content-Type": "text/plain"}, msg.encode()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream, port=0, verbose=False):
        super().__init__(("127.0.0.1", port), Handler)
        self.upstream = urllib.parse.urlsplit(upstream)
        self.state = FaultState()
        self.verbose = verbose

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


def start(upstream, port=0, verbose=False):
    """Start a proxy in a daemon thread; returns the server (its .endpoint, .shutdown())."""
    proxy = FaultProxy(upstream, port, verbose)
    threading.Thread(target=proxy.serve_forever, name="fault-proxy", daemon=True).start()
    return proxy


def main(argv=None):
    ap = argparse.ArgumentParser(description="fault-injecting proxy in front of an AWS endpoint")
    ap.add_argument("--upstream", default=os.environ.get("LOCAL_AWS_ENDPOINT"),
                    help="endpoint to forward to (default: $LOCAL_AWS_ENDPOINT)")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = ap.parse_args(argv)
    if not args.upstream:
        print("fault-proxy: no upstream: none given — pass --upstream http://127.0.0.1:PORT "
              "or set LOCAL_AWS_ENDPOINT", file=sys.stderr)
        return 2
    try:
        proxy = FaultProxy(args.upstream, args.port, args.verbose)
    except OSError as e:
        print(f"fault-proxy: cannot listen on 127.0.0.1:{args.port}: {e} — choose another --port or omit it",
              file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=proxy.shutdown).start())
    print(f"FAULT_PROXY_ENDPOINT={proxy.endpoint}")
    print(f"FAULT_PROXY_PID={os.getpid()}")
    print("READY", flush=True)
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
