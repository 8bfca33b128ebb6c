"""Health checks against real local HTTP servers: states follow rise/fall,
redirect answers move off a failed node within fall x interval + timeout and
back within rise x interval; a server that accepts and hangs fails at its
timeout; a flapping server does not flap the node."""
import http.server
import re
import socket
import threading
import time
import unittest

import dns.message
import dns.query

from dnsd_harness import Dnsd

INTERVAL, TIMEOUT, RISE, FALL = 0.2, 0.4, 2, 2


class Node:
    """An HTTP health endpoint on its own loopback address, whose answer we set."""

    def __init__(self, host, mode="ok"):
        self.mode = mode
        self.count = 0
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                node.count += 1
                mode = node.mode
                if mode == "flap":
                    mode = "ok" if node.count % 2 else "fail"
                if mode == "hang":
                    time.sleep(5)
                    return
                if mode == "slow":  # headers at once, then a byte a second
                    self.send_response(200)
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    try:
                        for _ in range(5):
                            self.wfile.write(b"h")
                            self.wfile.flush()
                            time.sleep(1)
                    except OSError:
                        pass  # the checker hung up at its deadline, as it should
                    return
                self.send_response(200 if mode == "ok" else 500 if mode == "error" else 503)
                self.end_headers()
                self.wfile.write(b"healthy\n" if mode == "ok" else b"sick\n")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Health(unittest.TestCase):
    def setUp(self):
        self.a = Node("127.0.0.11")
        self.b = Node("127.0.0.12")
        refused = socket.socket()
        refused.bind(("127.0.0.13", 0))
        self.refused_port = refused.getsockname()[1]
        refused.close()  # nothing listens there now
        self.hang = Node("127.0.0.14", mode="hang")
        self.flap = Node("127.0.0.15", mode="flap")
        self.slow = Node("127.0.0.16", mode="slow")
        # A TLS server that accepts and never sends its ServerHello.
        self.stall = socket.socket()
        self.stall.bind(("127.0.0.17", 0))
        self.stall.listen(16)
        self.stall_port = self.stall.getsockname()[1]
        self.stalled = []

        def accept_forever(sock=self.stall, held=self.stalled):
            while True:
                try:
                    c, _ = sock.accept()
                except OSError:
                    return
                held.append(c)
        threading.Thread(target=accept_forever, daemon=True).start()
        tail = """
[health]
type = "http"
interval_ms = %d
timeout_ms = %d
connect_timeout_ms = 200
rise = %d
fall = %d
body = "healthy"
[[nodes]]
name = "a"
ipv4 = ["127.0.0.11"]
check = { port = %d }
[[nodes]]
name = "b"
ipv4 = ["127.0.0.12"]
check = { port = %d }
[[nodes]]
name = "refused"
ipv4 = ["127.0.0.13"]
check = { port = %d }
[[nodes]]
name = "hang"
ipv4 = ["127.0.0.14"]
check = { port = %d }
[[nodes]]
name = "flap"
ipv4 = ["127.0.0.15"]
check = { port = %d }
[[nodes]]
name = "slow"
ipv4 = ["127.0.0.16"]
check = { port = %d }
[[nodes]]
name = "tlsstall"
ipv4 = ["127.0.0.17"]
check = { type = "https", port = %d, tls_verify = false }
[maps.m]
default = ["a:2", "b:1"]
[[redirects]]
name = "video.example.test"
map = "m"
ttl = 5
""" % (INTERVAL * 1000, TIMEOUT * 1000, RISE, FALL, self.a.port, self.b.port, self.refused_port,
       self.hang.port, self.flap.port, self.slow.port, self.stall_port)
        self.d = Dnsd(tail=tail)
        # Either outcome is correct: every address answered, or the bound passed.
        self.wait_for(lambda: re.search(r"warm-up (complete|timed out)", self.d.logtext()), 5)

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()
        for n in (self.a, self.b, self.hang, self.flap, self.slow):
            n.close()
        self.stall.close()
        for c in self.stalled:
            c.close()

    def wait_for(self, pred, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return time.time()
            time.sleep(0.02)
        self.fail("condition not met within %.1fs: %s" % (timeout, self.d.logtext()[-1500:]))

    def answer(self):
        r = dns.query.udp(dns.message.make_query("video.example.test", "A"), "127.0.0.1",
                          port=self.d.port, timeout=2)
        return [rd.to_text() for rrset in r.answer for rd in rrset]

    def status(self, node):
        for line in self.d.ctl_cmd("status").stdout.splitlines():
            if line.startswith(node + " "):
                return line
        return ""

    def test_failure_reasons(self):
        self.wait_for(lambda: " down " in self.status("refused"), 3)
        self.assertIn("Couldn't connect", self.status("refused"))
        self.wait_for(lambda: " down " in self.status("hang"), 3)
        self.assertRegex(self.status("hang"), r"timeout after [34]\d\d ms")  # at its deadline
        # A body trickling a byte a second fails at the total timeout; a TLS
        # handshake that never completes is part of connecting, so it fails at
        # the connect timeout (200 ms). Neither pins the checker.
        self.wait_for(lambda: " down " in self.status("slow"), 3)
        self.assertRegex(self.status("slow"), r"timeout after [34]\d\d ms")
        self.wait_for(lambda: " down " in self.status("tlsstall"), 3)
        self.assertRegex(self.status("tlsstall"), r"timeout after [12]\d\d ms")
        self.assertIn(" up ", self.status("a"))

    def test_move_off_failed_node_and_back(self):
        self.assertEqual(self.answer(), ["127.0.0.11"])
        t0 = time.time()
        self.a.mode = "fail"
        t1 = self.wait_for(lambda: self.answer() == ["127.0.0.12"], 5)
        moved = t1 - t0
        # Not before `fall` failures, and within fall x interval + timeout (+ margin).
        self.assertGreater(moved, (FALL - 1) * INTERVAL * 0.9 - 0.05)
        self.assertLess(moved, FALL * INTERVAL * 1.1 + TIMEOUT + 0.5)
        self.assertIn("HTTP 503", self.status("a"))
        t0 = time.time()
        self.a.mode = "ok"
        t1 = self.wait_for(lambda: self.answer() == ["127.0.0.11"], 5)
        self.assertLess(t1 - t0, RISE * INTERVAL * 1.1 + 0.5)
        log = self.d.logtext()
        # Exactly `fall` failures took it down and `rise` successes brought it back.
        self.assertIn("node a 127.0.0.11 is down (HTTP 503; %d consecutive failures)" % FALL, log)
        self.assertIn("node a 127.0.0.11 is up (%d consecutive successes)" % RISE, log)

    def test_body_substring_and_flapping(self):
        time.sleep(INTERVAL * 8)
        # Alternating success/failure never reaches rise=2 or fall=2 in a row:
        # the node keeps its first state, with no transitions logged.
        transitions = [l for l in self.d.logtext().splitlines() if "node flap " in l]
        self.assertLessEqual(len(transitions), 1, transitions)
        self.b.mode = "fail"  # 503 with body "sick": fails on status first
        self.wait_for(lambda: " down " in self.status("b"), 3)
        self.assertIn("HTTP 503", self.status("b"))
        self.b.mode = "ok"
        self.wait_for(lambda: " up " in self.status("b"), 3)
        self.b.mode = "error"
        self.wait_for(lambda: " down " in self.status("b"), 3)
        self.assertIn("HTTP 500", self.status("b"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
