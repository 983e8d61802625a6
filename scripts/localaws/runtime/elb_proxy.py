"""The ALB's data plane: one listening socket per listener (HTTP, or HTTPS with a self-signed certificate),
a thread per client connection, HTTP/1.1 with keep-alive to the client, bodies streamed both ways.

What to do with a request is not decided here: `elb.py` admits connections (security groups) and routes
requests (listener rules, target groups, healthy targets). This module only speaks HTTP:
- to the target: a fresh connection per request from the ALB's own (loopback) address, the request as the
  client sent it (Host header untouched) with hop-by-hop headers removed and X-Forwarded-For/-Proto/-Port
  and X-Amzn-Trace-Id added as an ALB adds them;
- to the client: the target's response streamed back (re-chunked when the target did not give a length),
  or one of the ALB's own responses (502/503/504 with its HTML bodies, fixed-response, redirect).
"""
import http.client
import os
import random
import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler

from . import core

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
              "expect", "content-length"}
_VALID_NAME = re.compile(r"^[A-Za-z0-9-]+$")

REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Time-out", 413: "Request Entity Too Large", 414: "Request-URI Too Large",
           460: "", 463: "", 500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
           503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def alb_error_body(code: int) -> bytes:
    """The HTML an ALB answers with when it produces an error itself (502, 503, 504, 400, ...)."""
    title = f"{code} {REASONS.get(code, http.client.responses.get(code, ''))}".strip()
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            f"</body>\r\n</html>\r\n").encode()


def trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{random.getrandbits(96):024x}"


class Upstream(Exception):
    """The target could not be reached (502) or did not answer in time (504)."""

    def __init__(self, code, why):
        super().__init__(why)
        self.code = code


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awselb/2.0"
    sys_version = ""

    def __init__(self, request, client_address, listener, client_ip):
        self.listener = listener
        self.client_ip = client_ip
        self.timeout = listener.idle_timeout()
        super().__init__(request, client_address, listener)

    def log_message(self, fmt, *args):  # quiet: the ALB's access log is off by default
        pass

    def handle_one_request(self):
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self.listener.serve(self)
            self.wfile.flush()
        except (TimeoutError, socket.timeout):
            self.close_connection = True
        except (ConnectionError, BrokenPipeError, ssl.SSLError, OSError):
            self.close_connection = True

    def handle_expect_100(self):
        # An ALB answers "100 Continue" itself; the target never sees Expect.
        self.send_response_only(100)
        self.end_headers()
        return True

    def send_error(self, code, message=None, explain=None):
        self.close_connection = True
        self.simple(code, "text/html", alb_error_body(code), close=True)

    # ------------------------------------------------------------ the ALB's own responses

    def simple(self, code, content_type, body: bytes, extra=None, close=False):
        reason = REASONS.get(code) or http.client.responses.get(code, "")
        lines = [f"HTTP/1.1 {code} {reason}", f"Server: awselb/2.0",
                 f"Date: {self.date_time_string()}", f"Content-Type: {content_type}",
                 f"Content-Length: {len(body)}"]
        for k, v in (extra or []):
            lines.append(f"{k}: {v}")
        if close or self.close_connection:
            self.close_connection = True
            lines.append("Connection: close")
        else:
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (b"" if self.command == "HEAD" else body))
        self.wfile.flush()

    def drain_body(self):
        """Read (and drop) the request body, so the connection can carry the next request."""
        for _ in self.body_chunks():
            pass

    def body_chunks(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("client closed in a chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:   # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            return
                data = self.rfile.read(size)
                self.rfile.readline(3)
                yield data
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            data = self.rfile.read(min(n, 65536))
            if not data:
                raise ConnectionError("client closed in a body")
            n -= len(data)
            yield data

    # ------------------------------------------------------------ forwarding

    def forward(self, address, port, source, proto, listen_port, idle, drop_invalid=False, xff_mode="append"):
        """Send this request to address:port and stream the answer back. Raises Upstream before anything
        went to the client (so the caller can answer 502/504); afterwards a failure closes the connection."""
        conn = http.client.HTTPConnection(address, port, timeout=min(10.0, idle), source_address=(source, 0))
        try:
            try:
                conn.connect()
            except (socket.timeout, TimeoutError) as e:
                raise Upstream(504, f"connect to {address}:{port} timed out") from e
            except OSError as e:
                raise Upstream(502, f"connect to {address}:{port}: {e}") from e
            conn.sock.settimeout(idle)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            xff = []
            chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
            has_length = self.headers.get("Content-Length") is not None
            upgrade = self.headers.get("Upgrade")
            for k, v in self.headers.items():
                lk = k.lower()
                if lk in HOP_BY_HOP:
                    continue
                if lk == "x-forwarded-for":
                    xff.append(v)
                    continue
                if lk in ("x-forwarded-proto", "x-forwarded-port"):
                    continue
                if drop_invalid and not _VALID_NAME.match(k):
                    continue
                conn.putheader(k, v)
            if xff_mode == "append":
                conn.putheader("X-Forwarded-For", ", ".join(xff + [self.client_ip]))
            elif xff_mode == "preserve" and xff:
                conn.putheader("X-Forwarded-For", ", ".join(xff))
            conn.putheader("X-Forwarded-Proto", proto)
            conn.putheader("X-Forwarded-Port", str(listen_port))
            if not self.headers.get("X-Amzn-Trace-Id"):
                conn.putheader("X-Amzn-Trace-Id", trace_id())
            if upgrade:
                conn.putheader("Connection", "Upgrade")
                conn.putheader("Upgrade", upgrade)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif has_length:
                conn.putheader("Content-Length", self.headers.get("Content-Length"))
            try:
                conn.endheaders()
                for data in self.body_chunks():
                    conn.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                if chunked:
                    conn.send(b"0\r\n\r\n")
                resp = conn.getresponse()
            except (socket.timeout, TimeoutError) as e:
                raise Upstream(504, f"{address}:{port} did not answer within {idle} s") from e
            except (http.client.HTTPException, OSError) as e:
                raise Upstream(502, f"{address}:{port}: {type(e).__name__}: {e}") from e
            self._relay(resp, conn, upgrade)
        finally:
            conn.close()

    def _relay(self, resp, conn, upgrade):
        status = resp.status
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        lines = [f"HTTP/1.1 {status} {resp.reason}"]
        for k, v in resp.getheaders():
            if k.lower() in HOP_BY_HOP:
                continue
            lines.append(f"{k}: {v}")
        if status == 101 and upgrade:
            lines += ["Connection: Upgrade", f"Upgrade: {resp.getheader('Upgrade', upgrade)}"]
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            self.wfile.flush()
            self._tunnel(resp, conn)
            return
        length = resp.getheader("Content-Length")
        te_chunked = "chunked" in (resp.getheader("Transfer-Encoding") or "").lower()
        if no_body:
            if length is not None:
                lines.append(f"Content-Length: {length}")
            mode = "none"
        elif length is not None and not te_chunked:
            lines.append(f"Content-Length: {length}")
            mode = "length"
        elif self.request_version == "HTTP/1.1":
            lines.append("Transfer-Encoding: chunked")
            mode = "chunked"
        else:
            self.close_connection = True
            mode = "close"
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            if mode in ("length", "close"):
                while True:
                    data = resp.read1(65536) if mode == "close" else resp.read(65536)
                    if not data:
                        break
                    self.wfile.write(data)
                    self.wfile.flush()
            elif mode == "chunked":
                while True:
                    data = resp.read1(65536)
                    if not data:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
        except (socket.timeout, TimeoutError, http.client.HTTPException, OSError):
            # Half a response went out: all an ALB can do is close the client connection.
            self.close_connection = True
        self.wfile.flush()

    def _tunnel(self, resp, conn):
        """After 101 Switching Protocols (WebSocket): bytes both ways until either side closes."""
        up = conn.sock
        up.settimeout(0.0)          # whatever the target sent after its 101 and http.client buffered
        try:
            buffered = resp.fp.read1(65536) or b""
        except (BlockingIOError, OSError, ValueError):
            buffered = b""
        if buffered:
            self.wfile.write(buffered)
            self.wfile.flush()
        self.close_connection = True
        client = self.connection

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        up.settimeout(None)
        client.settimeout(None)
        t = threading.Thread(target=pump, args=(up, client), daemon=True)
        t.start()
        pump(client, up)
        t.join(5)


class ListenerSocket:
    """One listener of one ALB: a socket on (loopback address, port) and its connections.

    `owner` provides admit(peer_ip) -> client ip or None (security groups), serve(handler) (the rules),
    idle_timeout() -> seconds. close() stops listening and cuts every open connection without waiting
    (it may be called with core.LOCK held)."""

    def __init__(self, owner, address, port, ssl_context=None):
        self.owner, self.address, self.port, self.ssl_context = owner, address, port, ssl_context
        self.closed = False
        self._conns = set()
        self._lock = threading.Lock()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            s.close()
            raise
        s.listen(256)
        self.sock = s
        threading.Thread(target=self._accept, name=f"alb-{address}:{port}", daemon=True).start()

    def idle_timeout(self):
        return self.owner.idle_timeout()

    def serve(self, handler):
        self.owner.serve(handler, self)

    def _accept(self):
        while not self.closed:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                if self.closed:
                    return
                time.sleep(0.05)
                continue
            threading.Thread(target=self._connection, args=(conn, addr), daemon=True).start()

    def _connection(self, conn, addr):
        try:
            client_ip = self.owner.admit(addr[0], self.port)
        except Exception as e:  # noqa: BLE001
            core.log(f"load balancer {self.address}:{self.port}: admission failed: {e}")
            client_ip = None
        if client_ip is None or self.closed:
            reset(conn)
            return
        with self._lock:
            self._conns.add(conn)
        try:
            if self.ssl_context is not None:
                conn.settimeout(10)
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conns.add(conn)
            Handler(conn, addr, self, client_ip)
        except (OSError, ssl.SSLError, ValueError):
            pass
        except Exception as e:  # noqa: BLE001 - never a traceback on a client connection
            core.log(f"load balancer {self.address}:{self.port}: {type(e).__name__}: {e}")
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def reset(conn):
    """Close with RST: what a client sees from a security group that drops it, made immediate."""
    import struct
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        conn.close()
    except OSError:
        pass


_certs = {}
_cert_lock = threading.Lock()


def self_signed_context(dns_name: str) -> ssl.SSLContext:
    """A server context with a self-signed certificate for dns_name (made once per name, kept under the
    runtime directory). The listener's ACM certificate is not used: ACM has no private keys to give."""
    with _cert_lock:
        if dns_name in _certs:
            return _certs[dns_name]
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name[:64])])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
                .sign(key, hashes.SHA256()))
        pem = core.path("elb", f"{dns_name}.pem")
        with open(pem, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        os.chmod(pem, 0o600)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pem)
        _certs[dns_name] = ctx
        return ctx
