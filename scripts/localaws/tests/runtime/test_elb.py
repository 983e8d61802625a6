"""The load balancer is real: an ALB created through the API listens on its own loopback address (its DNS
name in the hosts file), forwards to registered targets by its listener rules, checks their health on the
target group's schedule, answers 502/503/504 as an ALB does, admits clients by its security groups, drains
deregistered targets, and stops listening when it is deleted."""
import http.client
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CLIENT_IP = "203.0.113.10"      # what this test's loopback client counts as (LOCAL_AWS_CLIENT_IP)
VPC_CIDR = "10.213.0.0/16"      # unusual, so targets' twins (127.213.x.y) collide with nobody


@pytest.fixture(scope="module")
def aws(request):
    old = os.environ.get("LOCAL_AWS_CLIENT_IP")
    os.environ["LOCAL_AWS_CLIENT_IP"] = CLIENT_IP
    try:
        return request.getfixturevalue("run_aws")
    finally:
        if old is None:
            os.environ.pop("LOCAL_AWS_CLIENT_IP", None)
        else:
            os.environ["LOCAL_AWS_CLIENT_IP"] = old


class Backend:
    """A target: an HTTP server on a loopback twin; /health answers `self.health`; /slow sleeps 3 s; every
    other path answers JSON with who answered and the headers it got."""

    def __init__(self, private_ip, port, name):
        self.private_ip, self.port, self.name, self.health = private_ip, port, name, 200
        self.health_hits = 0
        me = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/health":
                    me.health_hits += 1
                    self._send(me.health, b"ok" if me.health < 400 else b"bad")
                    return
                if self.path == "/slow":
                    time.sleep(3)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._send(200, json.dumps({"backend": me.name, "path": self.path, "body_len": len(body),
                                            "headers": dict(self.headers.items())}).encode(), "application/json")
            do_POST = do_GET

            def _send(self, code, body, ctype="text/plain"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        twin = "127." + ".".join(private_ip.split(".")[1:])
        self.server = ThreadingHTTPServer((twin, port), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def stack(aws):
    ec2, elb = aws.client("ec2"), aws.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
    s1 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.213.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    s2 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.213.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]

    def sg(name, cidr):
        gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": cidr}]}])
        return gid
    allow = sg("allow-list", "203.0.113.0/24")        # the IP allow-list that contains the client
    other = sg("other-list", "198.51.100.0/24")       # one that does not
    lb = elb.create_load_balancer(Name="web", Subnets=[s1, s2], SecurityGroups=[allow], Scheme="internet-facing",
                                  Type="application")["LoadBalancers"][0]

    def tg(name, path="/health", **kw):
        arn = elb.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
                                      HealthCheckPath=path, HealthCheckIntervalSeconds=5,
                                      HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                                      UnhealthyThresholdCount=2, Matcher={"HttpCode": "200-399"},
                                      **kw)["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "4"}])
        return arn
    ui = tg("ui")
    listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": ui}])["Listeners"][0]
    a = Backend("10.213.1.200", 8080, "a")
    b = Backend("10.213.2.201", 8080, "b")
    yield {"vpc": vpc, "subnets": [s1, s2], "allow": allow, "other": other, "lb": lb, "ui": ui, "tg": tg,
           "listener": listener["ListenerArn"], "a": a, "b": b}
    a.close()
    b.close()


def resolve(aws, name):
    """The name's address from the hosts file (what /etc/hosts says inside the demo's namespace)."""
    for line in open(aws["LOCAL_AWS_HOSTS_FILE"]):
        parts = line.split()
        if len(parts) >= 2 and name.lower() in parts[1:]:
            assert parts[0].startswith("127."), f"{name} resolves to {parts[0]}: not a loopback address"
            return parts[0]
    return None


def get(aws, stack, path, method="GET", body=None, headers=None, port=80, dns=None):
    dns = dns or stack["lb"]["DNSName"]
    conn = http.client.HTTPConnection(resolve(aws, dns), port, timeout=15)
    try:
        conn.request(method, path, body=body, headers={"Host": dns, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def health_of(aws, tg, ip=None):
    out = aws.client("elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    if ip is None:
        return out
    return [d["TargetHealth"] for d in out if d["Target"]["Id"] == ip]


def wait_state(aws, tg, ip, state, timeout=20):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        h = health_of(aws, tg, ip)
        cur = h[0]["State"] if h else "gone"
        if not seen or seen[-1] != cur:
            seen.append(cur)
        if cur == state:
            return h[0] if h else None, seen
        time.sleep(0.3)
    raise AssertionError(f"{ip} in {tg} never became {state}; states seen: {seen}")


def test_alb_has_its_own_address_and_dns_name(aws, stack):
    addr = resolve(aws, stack["lb"]["DNSName"])
    assert addr and addr.startswith("127.213.1."), addr
    with socket.create_connection((addr, 80), timeout=3):
        pass


def test_target_goes_initial_then_healthy(aws, stack):
    elb = aws.client("elbv2")
    elb.register_targets(TargetGroupArn=stack["ui"], Targets=[{"Id": "10.213.1.200", "Port": 8080}])
    first = health_of(aws, stack["ui"], "10.213.1.200")[0]
    assert first["State"] == "initial"
    assert first["Reason"] in ("Elb.RegistrationInProgress", "Elb.InitialHealthChecking")
    t0 = time.time()
    healthy, seen = wait_state(aws, stack["ui"], "10.213.1.200", "healthy", timeout=15)
    assert "Reason" not in healthy and seen[0] == "initial"
    assert time.time() - t0 >= 2, "healthy before two checks 5 s apart could have passed"
    assert stack["a"].health_hits >= 2


def test_request_through_the_alb_reaches_the_target_with_forwarded_headers(aws, stack):
    code, headers, body = get(aws, stack, "/hello?x=1", headers={"X-Forwarded-For": "192.0.2.1"})
    assert code == 200, body
    got = json.loads(body)
    assert got["backend"] == "a" and got["path"] == "/hello?x=1"
    h = {k.lower(): v for k, v in got["headers"].items()}
    assert h["host"] == stack["lb"]["DNSName"]
    assert h["x-forwarded-for"] == f"192.0.2.1, {CLIENT_IP}"
    assert h["x-forwarded-proto"] == "http" and h["x-forwarded-port"] == "80"
    assert h["x-amzn-trace-id"].startswith("Root=1-")
    # a body is streamed through, and the client connection stays open for the next request
    dns = stack["lb"]["DNSName"]
    conn = http.client.HTTPConnection(resolve(aws, dns), 80, timeout=10)
    conn.request("POST", "/upload", body=b"x" * 200000, headers={"Host": dns})
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["body_len"] == 200000
    conn.request("GET", "/again", headers={"Host": dns})
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["path"] == "/again"
    conn.close()


def test_listener_rules_route_by_path_and_answer_fixed_and_redirect(aws, stack):
    elb = aws.client("elbv2")
    flower = stack["tg"]("flower")
    elb.register_targets(TargetGroupArn=flower, Targets=[{"Id": "10.213.2.201"}])
    elb.create_rule(ListenerArn=stack["listener"], Priority=10,
                    Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/flower/*"]}}],
                    Actions=[{"Type": "forward", "TargetGroupArn": flower}])
    elb.create_rule(ListenerArn=stack["listener"], Priority=5,
                    Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Teapot",
                                                                              "Values": ["y*"]}}],
                    Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
                        "StatusCode": "418", "ContentType": "text/plain", "MessageBody": "short and stout"}}])
    elb.create_rule(ListenerArn=stack["listener"], Priority=20,
                    Conditions=[{"Field": "path-pattern", "Values": ["/old"]}],
                    Actions=[{"Type": "redirect", "RedirectConfig": {
                        "Protocol": "HTTPS", "Port": "443", "Path": "/new", "StatusCode": "HTTP_302"}}])
    code, _, body = get(aws, stack, "/flower/workers")
    assert code == 200 and json.loads(body)["backend"] == "b"
    code, _, body = get(aws, stack, "/flowerpot")
    assert code == 200 and json.loads(body)["backend"] == "a"
    code, headers, body = get(aws, stack, "/flower/workers", headers={"X-Teapot": "yes"})
    assert (code, body, headers["Content-Type"]) == (418, b"short and stout", "text/plain")
    code, headers, _ = get(aws, stack, "/old?q=1")
    assert code == 302 and headers["Location"] == f"https://{stack['lb']['DNSName']}/new?q=1"
    # host-header and a weighted forward (all weight on flower)
    elb.create_rule(ListenerArn=stack["listener"], Priority=40,
                    Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["flower.*"]}}],
                    Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                        {"TargetGroupArn": stack["ui"], "Weight": 0}, {"TargetGroupArn": flower, "Weight": 5}]}}])
    for _ in range(4):
        code, _, body = get(aws, stack, "/any", headers={"Host": "Flower.example.com"})
        assert code == 200 and json.loads(body)["backend"] == "b"
    stack["flower"] = flower


def test_failing_health_check_marks_target_unhealthy_with_the_code(aws, stack):
    stack["a"].health = 500
    try:
        th, seen = wait_state(aws, stack["ui"], "10.213.1.200", "unhealthy", timeout=20)
        assert seen[0] == "healthy"
        assert th["Reason"] == "Target.ResponseCodeMismatch"
        assert th["Description"] == "Health checks failed with these codes: [500]"
        # the only target is unhealthy: the ALB fails open and still sends it traffic
        code, _, body = get(aws, stack, "/still")
        assert code == 200 and json.loads(body)["backend"] == "a"
    finally:
        stack["a"].health = 200


def test_alb_errors_no_targets_503_refused_502_slow_504(aws, stack):
    elb = aws.client("elbv2")
    empty, down = stack["tg"]("empty"), stack["tg"]("down")
    elb.register_targets(TargetGroupArn=down, Targets=[{"Id": "10.213.1.202", "Port": 8080}])  # nothing listens
    for prio, path, tg in ((30, "/empty/*", empty), (31, "/down/*", down)):
        elb.create_rule(ListenerArn=stack["listener"], Priority=prio,
                        Conditions=[{"Field": "path-pattern", "Values": [path]}],
                        Actions=[{"Type": "forward", "TargetGroupArn": tg}])
    code, headers, body = get(aws, stack, "/empty/x")
    assert code == 503 and b"<title>503 Service Temporarily Unavailable</title>" in body
    assert headers["Server"] == "awselb/2.0"
    code, _, body = get(aws, stack, "/down/x")
    assert code == 502 and b"<center><h1>502 Bad Gateway</h1></center>" in body
    lb = stack["lb"]["LoadBalancerArn"]
    elb.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "1"}])
    try:
        code, _, body = get(aws, stack, "/slow")
        assert code == 504 and b"504 Gateway Time-out" in body
    finally:
        elb.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=[
            {"Key": "idle_timeout.timeout_seconds", "Value": "60"}])
    th, _ = wait_state(aws, down, "10.213.1.202", "unhealthy", timeout=15)
    assert th["Reason"] == "Target.FailedHealthChecks"


def test_health_check_timeout_and_api_stays_responsive(aws, stack):
    """A check that hangs (the target sleeps 3 s, the timeout is 2 s) makes the target unhealthy with
    Target.Timeout, and the API answers at once meanwhile: no check holds moto's lock."""
    elb = aws.client("elbv2")
    sleepy = stack["tg"]("sleepy", path="/slow")
    elb.create_rule(ListenerArn=stack["listener"], Priority=50,
                    Conditions=[{"Field": "path-pattern", "Values": ["/sleepy/*"]}],
                    Actions=[{"Type": "forward", "TargetGroupArn": sleepy}])
    elb.register_targets(TargetGroupArn=sleepy, Targets=[{"Id": "10.213.1.200", "Port": 8080}])
    time.sleep(1)
    slowest = 0
    for _ in range(5):
        t0 = time.time()
        health_of(aws, sleepy)
        slowest = max(slowest, time.time() - t0)
        time.sleep(0.2)
    assert slowest < 1.0, f"DescribeTargetHealth took {slowest:.2f} s while a health check was hanging"
    th, _ = wait_state(aws, sleepy, "10.213.1.200", "unhealthy", timeout=15)
    assert (th["Reason"], th["Description"]) == ("Target.Timeout", "Request timed out")


def test_security_group_that_excludes_the_client_drops_it(aws, stack):
    elb = aws.client("elbv2")
    lb = stack["lb"]["LoadBalancerArn"]
    elb.set_security_groups(LoadBalancerArn=lb, SecurityGroups=[stack["other"]])
    try:
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, ConnectionAbortedError)):
            get(aws, stack, "/hello")
    finally:
        elb.set_security_groups(LoadBalancerArn=lb, SecurityGroups=[stack["allow"]])
    assert get(aws, stack, "/hello")[0] == 200


def test_https_listener_with_a_self_signed_certificate(aws, stack):
    import ssl
    ec2, elb, acm = aws.client("ec2"), aws.client("elbv2"), aws.client("acm")
    ec2.authorize_security_group_ingress(GroupId=stack["allow"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}])
    cert = acm.request_certificate(DomainName="web.example.com")["CertificateArn"]
    listener = elb.create_listener(LoadBalancerArn=stack["lb"]["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                                   Certificates=[{"CertificateArn": cert}],
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": stack["ui"]}])
    dns = stack["lb"]["DNSName"]
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    conn = http.client.HTTPSConnection(resolve(aws, dns), 443, timeout=10, context=ctx)
    try:
        conn.request("GET", "/secure", headers={"Host": dns})
        r = conn.getresponse()
        got = json.loads(r.read())
        assert r.status == 200 and got["backend"] == "a"
        h = {k.lower(): v for k, v in got["headers"].items()}
        assert (h["x-forwarded-proto"], h["x-forwarded-port"]) == ("https", "443")
        assert dns in conn.sock.getpeercert(binary_form=True).decode("latin-1")
    finally:
        conn.close()
    elb.delete_listener(ListenerArn=listener["Listeners"][0]["ListenerArn"])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((resolve(aws, dns), 443), timeout=3)


def test_target_group_without_load_balancer_is_unused(aws, stack):
    elb = aws.client("elbv2")
    lonely = stack["tg"]("lonely")
    elb.register_targets(TargetGroupArn=lonely, Targets=[{"Id": "10.213.1.200", "Port": 8080}])
    th, _ = wait_state(aws, lonely, "10.213.1.200", "unused", timeout=5)
    assert th["Reason"] == "Target.NotInUse"
    assert th["Description"] == "Target group is not configured to receive traffic from the load balancer"
    asked = elb.describe_target_health(TargetGroupArn=lonely, Targets=[{"Id": "10.213.9.9", "Port": 80}])
    assert asked["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"] == "Target.NotRegistered"


def test_deregistered_target_drains_then_is_gone(aws, stack):
    elb = aws.client("elbv2")
    elb.deregister_targets(TargetGroupArn=stack["flower"], Targets=[{"Id": "10.213.2.201", "Port": 8080}])
    th = health_of(aws, stack["flower"], "10.213.2.201")[0]
    assert (th["State"], th["Reason"]) == ("draining", "Target.DeregistrationInProgress")
    t0 = time.time()
    code, _, _ = get(aws, stack, "/flower/x")
    assert code == 503      # a draining target gets no new requests
    wait_state(aws, stack["flower"], "10.213.2.201", "gone", timeout=10)
    assert time.time() - t0 >= 2.5, "gone before its 4 s deregistration delay"


def test_cloudformation_load_balancer_listens_and_registers_targets(aws, stack):
    cfn = aws.client("cloudformation")
    template = {"Resources": {
        "Lb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
               "Properties": {"Type": "application", "Scheme": "internet-facing", "Subnets": stack["subnets"],
                              "SecurityGroups": [stack["allow"]],
                              "LoadBalancerAttributes": [{"Key": "routing.http.drop_invalid_header_fields.enabled",
                                                          "Value": "true"}]}},
        "Tg": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
               "Properties": {"TargetType": "ip", "Protocol": "HTTP", "Port": 8080, "VpcId": stack["vpc"],
                              "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 5,
                              "HealthyThresholdCount": 2, "Matcher": {"HttpCode": "200"},
                              "Targets": [{"Id": "10.213.1.200", "Port": 8080}],
                              "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds",
                                                         "Value": "30"}]}},
        "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener",
                     "Properties": {"LoadBalancerArn": {"Ref": "Lb"}, "Port": 80, "Protocol": "HTTP",
                                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Tg"}}]}}},
        "Outputs": {"Dns": {"Value": {"Fn::GetAtt": ["Lb", "DNSName"]}}, "Tg": {"Value": {"Ref": "Tg"}}}}
    cfn.create_stack(StackName="elb-cfn", TemplateBody=json.dumps(template))
    deadline = time.time() + 30
    while (st := cfn.describe_stacks(StackName="elb-cfn")["Stacks"][0])["StackStatus"].endswith("IN_PROGRESS"):
        assert time.time() < deadline
        time.sleep(0.5)
    assert st["StackStatus"] == "CREATE_COMPLETE", st
    out = {o["OutputKey"]: o["OutputValue"] for o in st["Outputs"]}
    attrs = aws.client("elbv2").describe_target_group_attributes(TargetGroupArn=out["Tg"])["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "30"} in attrs
    wait_state(aws, out["Tg"], "10.213.1.200", "healthy", timeout=15)
    code, _, body = get(aws, stack, "/via-cfn", dns=out["Dns"], headers={"X_Bad": "1", "X-Good": "1"})
    assert code == 200 and json.loads(body)["backend"] == "a"
    sent = {k.lower() for k in json.loads(body)["headers"]}
    assert "x-good" in sent and "x_bad" not in sent     # routing.http.drop_invalid_header_fields.enabled
    addr = resolve(aws, out["Dns"])
    cfn.delete_stack(StackName="elb-cfn")
    deadline = time.time() + 30
    while resolve(aws, out["Dns"]) is not None:
        assert time.time() < deadline, "the stack's load balancer name outlived the stack"
        time.sleep(0.3)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((addr, 80), timeout=3)


def test_deleting_listener_then_load_balancer_closes_the_port(aws, stack):
    elb = aws.client("elbv2")
    addr = resolve(aws, stack["lb"]["DNSName"])
    elb.delete_listener(ListenerArn=stack["listener"])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((addr, 80), timeout=3)
    elb.delete_load_balancer(LoadBalancerArn=stack["lb"]["LoadBalancerArn"])
    assert resolve(aws, stack["lb"]["DNSName"]) is None
    th = health_of(aws, stack["ui"], "10.213.1.200")
    deadline = time.time() + 5
    while th[0]["State"] != "unused" and time.time() < deadline:
        time.sleep(0.3)
        th = health_of(aws, stack["ui"], "10.213.1.200")
    assert (th[0]["State"], th[0]["Reason"]) == ("unused", "Target.NotInUse")
