# braidtest.py — shared helpers of the Python integration tests: start and stop a
# braid broker on a free port with its own temp data dir, a raw Kafka protocol
# client (for tests that need exact versions or malformed bytes), and TAP output.
#
# Cleanup is unconditional: every broker started here is killed and its temp dir
# removed at exit, also when the test fails, raises or is sent SIGTERM/SIGINT.
import atexit
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BRAID = os.environ.get("BRAID_BIN") or os.path.join(ROOT, "build", "braid")

_brokers = []


def free_port():
    """A port that was free a moment ago (the kernel picks it; tiny race accepted)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    """One `braid serve` process. Use as a context manager or call close()."""

    def __init__(self, *extra, port=None, start=True):
        self.tmp = tempfile.mkdtemp(prefix="braid-test-")
        self.data = os.path.join(self.tmp, "data")
        self.logpath = os.path.join(self.tmp, "braid.log")
        self.port = port or free_port()
        self.extra = [str(x) for x in extra]
        self.proc = None
        self.starts = 0
        self.stopping = False  # set while we stop or kill it on purpose
        self.reported = False
        _brokers.append(self)
        if start:
            self.start()

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=30):
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        # without --pg, any free port: the default 5433 is shared by every test running at once
        pg = [] if any(a == "--pg" or a.startswith("--pg=") for a in self.extra) else ["--pg", "127.0.0.1:0"]
        args = [BRAID, "serve", "--data", self.data, "--kafka", self.bootstrap] + pg + self.extra
        log = open(self.logpath, "ab")
        log.write(("\n==== start %d: %s\n" % (self.starts, " ".join(args))).encode())
        log.flush()
        self.stopping = False
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("braid exited with %s during start-up:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("braid did not accept connections on %s within %ss:\n%s" % (self.bootstrap, timeout, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM (clean shutdown); kill -9 if it does not exit in time. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.stopping = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self):
        """kill -9: the crash case."""
        if self.proc is not None and self.proc.poll() is None:
            self.stopping = True
            self.proc.kill()
            self.proc.wait()

    def restart(self, hard=False, timeout=30):
        """Stops (kill -9 when hard) and starts again on the same port and data dir."""
        self.kill() if hard else self.stop()
        return self.start(timeout)

    def log_tail(self, n=40):
        try:
            with open(self.logpath, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def close(self):
        try:
            self.kill()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if self in _brokers:
                _brokers.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _cleanup():
    for b in list(_brokers):
        b.close()


def _on_signal(signum, frame):
    # Turn a kill by the test runner (timeout) into a normal exit so that atexit
    # and finally blocks stop the brokers.
    raise SystemExit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


class Tap:
    """TAP-style output: `ok - name` / `not ok - name`; exit status 1 if any failed."""

    def __init__(self):
        self.failed = 0
        self.passed = 0

    def ok(self, cond, name, detail=None):
        if cond:
            self.passed += 1
            print("ok - %s" % name, flush=True)
        else:
            self.failed += 1
            print("not ok - %s" % name, flush=True)
            if detail is not None:
                for line in str(detail).splitlines()[:30]:
                    print("#   %s" % line, flush=True)
            # A broker that died on its own explains most failures: show its log once.
            for b in _brokers:
                if b.proc is not None and b.proc.poll() is not None and not b.stopping and not b.reported:
                    b.reported = True
                    print("#   braid exited unexpectedly (%s); its log ends:" % b.proc.returncode, flush=True)
                    for line in b.log_tail(30).splitlines():
                        print("#   | %s" % line, flush=True)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got %r, want %r" % (got, want))

    def run(self, name, fn, *args):
        """Runs fn; an exception is a failure reported with its message."""
        try:
            fn(*args)
            return True
        except Exception as e:  # noqa: BLE001 — any failure is reported, not raised
            import traceback
            self.ok(False, name, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
            return False

    def note(self, msg):
        print("# %s" % msg, flush=True)

    def finish(self):
        print("# %d passed, %d failed" % (self.passed, self.failed), flush=True)
        _cleanup()
        sys.exit(1 if self.failed else 0)


tap = Tap()

# ---------------------------------------------------------------------------
# A raw Kafka protocol client. Encoders mirror the protocol guide's types; the
# caller builds the body bytes and parses the response body with Reader.


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def boolean(v): return b"\x01" if v else b"\x00"


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s, flex=False):
    """STRING / NULLABLE_STRING, or COMPACT_(NULLABLE_)STRING when flex; None = null."""
    if s is None:
        return uvarint(0) if flex else i16(-1)
    if isinstance(s, str):
        s = s.encode()
    return (uvarint(len(s) + 1) if flex else i16(len(s))) + s


def array(items, flex=False):
    """items: list of already-encoded elements (bytes); None = null array."""
    if items is None:
        return uvarint(0) if flex else i32(-1)
    return (uvarint(len(items) + 1) if flex else i32(len(items))) + b"".join(items)


def tags(flex):
    return b"\x00" if flex else b""


class Reader:
    def __init__(self, data, flex=False):
        self.d = data
        self.p = 0
        self.flex = flex

    def take(self, n):
        if self.p + n > len(self.d):
            raise ValueError("response truncated at %d (+%d of %d)" % (self.p, n, len(self.d)))
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]
    def bool(self): return self.take(1) != b"\x00"
    def uuid(self): return self.take(16)

    def uvarint(self):
        shift = v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def string(self):
        n = self.uvarint() - 1 if self.flex else self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def array(self, fn):
        n = self.uvarint() - 1 if self.flex else self.i32()
        return None if n < 0 else [fn(self) for _ in range(n)]

    def tags(self):
        if self.flex:
            for _ in range(self.uvarint()):
                self.uvarint()
                self.take(self.uvarint())

    def left(self):
        return len(self.d) - self.p


class KafkaConn:
    """One TCP connection speaking framed Kafka requests."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.corr = 0

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, key, version, body, flex=False, client_id="braidtest"):
        self.corr += 1
        hdr = i16(key) + i16(version) + i32(self.corr) + string(client_id) + tags(flex)
        msg = hdr + body
        self.sock.sendall(i32(len(msg)) + msg)
        return self.corr

    def recv_frame(self):
        """Returns the frame bytes, or None when the broker closed the connection."""
        head = self._recv_exact(4)
        if head is None:
            return None
        n = struct.unpack(">i", head)[0]
        return self._recv_exact(n)

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def request(self, key, version, body, flex=False, resp_flex=None):
        """Sends and returns a Reader over the response body (header checked)."""
        corr = self.send(key, version, body, flex)
        frame = self.recv_frame()
        if frame is None:
            raise ConnectionError("broker closed the connection (api %d v%d)" % (key, version))
        r = Reader(frame, flex)
        got = r.i32()
        if got != corr:
            raise ValueError("correlation id %d, want %d" % (got, corr))
        # ApiVersions answers with response header v0 even in flexible versions.
        if (flex if resp_flex is None else resp_flex) and key != 18:
            r.tags()
        return r

    def closed(self, timeout=5):
        """True if the broker closes the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def api_versions(port):
    """ApiVersions v0 on a fresh connection: {key: (min, max)}."""
    c = KafkaConn(port)
    try:
        r = c.request(18, 0, b"")
        err = r.i16()
        if err:
            raise ValueError("ApiVersions error %d" % err)
        return {k: (lo, hi) for k, lo, hi in r.array(lambda x: (x.i16(), x.i16(), x.i16()))}
    finally:
        c.close()


def metadata_topics(port, topics=None):
    """Metadata v1 on a fresh connection: {name: (error, n_partitions)}."""
    c = KafkaConn(port)
    try:
        body = array(None if topics is None else [string(t) for t in topics])
        r = c.request(3, 1, body)
        r.array(lambda x: (x.i32(), x.string(), x.i32(), x.string()))  # brokers
        r.i32()  # controller id
        out = {}
        for _ in range(r.i32()):
            err, name, _internal = r.i16(), r.string(), r.bool()
            parts = r.array(lambda x: (x.i16(), x.i32(), x.i32(), x.array(Reader.i32), x.array(Reader.i32)))
            out[name] = (err, len(parts))
        return out
    finally:
        c.close()


def healthy(port):
    """The broker still serves a normal client: ApiVersions + Metadata round trip."""
    v = api_versions(port)
    metadata_topics(port)
    return 3 in v and 18 in v


def create_topic(port, name, partitions=1, configs=None):
    """CreateTopics v1 on a fresh connection; returns (error_code, message)."""
    c = KafkaConn(port)
    try:
        cfg = [string(k) + string(v) for k, v in (configs or {}).items()]
        body = array([string(name) + i32(partitions) + i16(-1) + array([]) + array(cfg)]) + i32(10000) + boolean(False)
        r = c.request(19, 1, body)
        res = r.array(lambda x: (x.string(), x.i16(), x.string()))
        return res[0][1], res[0][2]
    finally:
        c.close()


if __name__ == "__main__":
    # Command-line use from shell tests: braidtest.py create-topic PORT NAME PARTITIONS
    if len(sys.argv) >= 5 and sys.argv[1] == "create-topic":
        err, msg = create_topic(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        if err:
            sys.exit("create-topic %s: error %d: %s" % (sys.argv[3], err, msg))
    elif len(sys.argv) >= 2 and sys.argv[1] == "free-port":
        print(free_port())
    else:
        sys.exit("usage: braidtest.py create-topic PORT NAME PARTITIONS | free-port")
