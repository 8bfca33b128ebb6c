"""Operator control of nodes against the real dnsd: dnsdctl node NAME
up|down|drain|auto takes effect before the command returns and survives a
restart (state file); a drain moves the configured fraction of subnets off
gradually and none comes back; an external state file marks nodes or single
addresses down, a broken one is refused whole, a stale one is ignored; the
warm-up policy decides what unchecked nodes count as."""
import collections
import json
import os
import re
import socket
import threading
import time
import unittest
import urllib.request

import dns.edns
import dns.exception
import dns.message
import dns.query

from dnsd_harness import Dnsd

NODES = """
[[nodes]]
name = "a"
ipv4 = ["127.0.0.21"]
[[nodes]]
name = "b"
ipv4 = ["127.0.0.22"]
[[nodes]]
name = "c"
ipv4 = ["127.0.0.23"]
ipv6 = ["::1"]
admin = "down"
[maps.m]
default = ["a", "b", "c:50"]
[[redirects]]
name = "video.example.test"
map = "m"
ttl = 5
"""


def ecs_query(subnet, qtype="A"):
    addr, plen = subnet.split("/")
    opt = dns.edns.ECSOption(addr, int(plen))
    return dns.message.make_query("video.example.test", qtype, use_edns=0, options=[opt])


class Admin(unittest.TestCase):
    def start(self, health="", extra_nodes=""):
        self.ext = None
        self.d = Dnsd(tail="[health]\n" + health + NODES + extra_nodes)
        return self.d

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()

    def answers(self, subnet, qtype="A"):
        r = dns.query.udp(ecs_query(subnet, qtype), "127.0.0.1", port=self.d.port, timeout=2)
        return [rd.to_text() for rrset in r.answer for rd in rrset]

    def spread(self, subnets):
        return collections.Counter(self.answers(s)[0] for s in subnets)

    def node(self, *args):
        r = self.d.ctl_cmd("node", *args)
        return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr

    def wait_for(self, pred, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.05)
        self.fail("condition not met within %.1fs: %s" % (timeout, self.d.logtext()[-1500:]))

    def test_force_down_up_auto_and_restart(self):
        state = "state/admin.state"  # relative to the config's directory
        d = self.start('type = "none"\nstate_file = "%s"\n' % state)
        os.mkdir(os.path.join(d.dir, "state"))
        subnets = ["10.%d.%d.0/24" % (i // 200, i % 200) for i in range(200)]
        before = self.spread(subnets)
        self.assertEqual(set(before), {"127.0.0.21", "127.0.0.22"})  # c is down in the config

        rc, out, _ = self.node("a", "down")
        self.assertEqual(rc, 0, out)
        self.assertEqual((out["mode"], out["admin"], out["persisted"]), ("down", "forced down", True))
        # In effect when the command returns: no query may still get a.
        self.assertEqual(self.spread(subnets), collections.Counter({"127.0.0.22": 200}))
        status = d.ctl_cmd("status").stdout
        self.assertRegex(status, r"(?m)^a +127\.0\.0\.21 +forced down +none +no ")
        with open(os.path.join(d.dir, state)) as f:
            self.assertRegex(f.read(), r"(?m)^a down \d{13}$")
        self.assertEqual(os.listdir(os.path.join(d.dir, "state")), ["admin.state"])

        # The config says c is down; forced up it serves, and with a and b
        # both forced down (c's entry weight is lower) it gets everything.
        rc, out, _ = self.node("c", "up")
        self.assertEqual(out["admin"], "forced up")
        self.node("b", "down")
        self.assertEqual(set(self.spread(subnets[:20])), {"127.0.0.23"})
        self.assertEqual(self.answers("2001:db8::/48", "AAAA"), ["::1"])

        # Restart: the overrides come back from the state file.
        d.restart()
        self.assertIn("admin: node a is down (from ", d.logtext())
        self.assertEqual(set(self.spread(subnets[:20])), {"127.0.0.23"})
        rc, out, _ = self.node("a")
        self.assertEqual((rc, out["mode"]), (0, "down"))

        for n in ("a", "b", "c"):
            self.assertEqual(self.node(n, "auto")[0], 0)
        self.assertEqual(self.spread(subnets), before)  # exactly the old answers: sticky
        with open(os.path.join(d.dir, state)) as f:
            self.assertNotRegex(f.read(), r"(?m)^[abc] ")
        with open(d.log.name) as f:  # the whole log, both runs
            self.assertIn("admin: node a set to down", f.read())

    def test_overrides_hold_across_reloads_under_load(self):
        # Each reload publishes a new node set; the health view must follow at
        # once (carried over by node name), or a forced-down node would be
        # answered for the moment until the checker re-indexes.
        d = self.start('type = "none"\n')
        self.node("a", "down")
        stop = threading.Event()
        seen = collections.Counter()

        def flood():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1)
            wires = [ecs_query("10.%d.%d.0/24" % (i // 200, i % 200)).to_wire() for i in range(400)]
            i = 0
            while not stop.is_set():
                s.sendto(wires[i % len(wires)], ("127.0.0.1", d.port))
                try:
                    r = dns.message.from_wire(s.recv(4096))
                except (socket.timeout, dns.exception.DNSException):
                    continue
                for rrset in r.answer:
                    for rd in rrset:
                        seen[rd.to_text()] += 1
                i += 1
            s.close()

        threads = [threading.Thread(target=flood) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            reloads, deadline = 0, time.time() + 20
            while (reloads < 30 or sum(seen.values()) < 5000) and time.time() < deadline:
                self.assertEqual(d.ctl_cmd("reload").returncode, 0)
                reloads += 1
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreaterEqual(sum(seen.values()), 5000)
        self.assertEqual(seen["127.0.0.21"], 0, "%s over %d reloads" % (seen, reloads))

    def test_control_socket_junk(self):
        # Every request line gets one JSON line back; nothing upsets the daemon.
        d = self.start('type = "none"\n')
        lines = [b"node", b"node ", b"node a b c d", b"node \xff\xfe down", b"node a drain -1",
                 b"node a drain 99999999999", b"explain", b"explain video.example.test",
                 b"explain video.example.test not-an-address", b"explain video.example.test 10.0.0.0/99",
                 b"explain \x00\x01 10.0.0.1", b"explain www.example.test 10.0.0.1", b"status extra",
                 b"\x00" * 10, b"\xc3\x28 \xe2\x82", b"x" * 5000, b"", b"reload please"]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(d.ctl)
        s.sendall(b"\n".join(lines) + b"\n")
        buf = b""
        answers = []
        while len(answers) < len(lines) - 1:  # the empty line may get no answer
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                answers.append(json.loads(line))
            if len(answers) >= len(lines) - 1:
                s.settimeout(0.5)
                try:
                    buf += s.recv(65536)
                except socket.timeout:
                    pass
        s.close()
        self.assertGreaterEqual(len(answers), len(lines) - 1)
        for a in answers:
            self.assertIn("ok", a)
            self.assertFalse(a["ok"], a)
        errors = " | ".join(a.get("error", "") for a in answers)
        for expected in ("usage: node NAME", "only drain takes a ramp length", "request too long",
                         "is not an address or prefix", "is not a redirect name", "unknown command"):
            self.assertIn(expected, errors)
        self.assertEqual(self.node("a")[1]["mode"], "auto")  # nothing changed
        self.assertEqual(d.proc.poll(), None)
        self.assertTrue(self.answers("10.0.0.0/24"))

    def test_bad_commands_and_unwritable_state(self):
        d = self.start('type = "none"\nstate_file = "no-such-dir/admin.state"\n')
        rc, out, _ = self.node("zz", "down")
        self.assertEqual(rc, 1)
        self.assertIn('no node named "zz" (configured: a, b, c)', out["error"])
        rc, out, _ = self.node("a", "sideways")
        self.assertEqual(rc, 1)
        self.assertIn("'sideways' is not up, down, drain or auto", out["error"])
        rc, out, _ = self.node("a", "down", "5")
        self.assertEqual(rc, 1)
        self.assertIn("only drain takes a ramp length", out["error"])
        rc, out, _ = self.node("a", "drain", "soon")
        self.assertEqual(rc, 1)
        # The state file cannot be written: refused, nothing changes.
        rc, out, _ = self.node("a", "down")
        self.assertEqual(rc, 1)
        self.assertIn("not applied: cannot write the state file", out["error"])
        self.assertIn("no-such-dir", out["error"])
        self.assertEqual(self.node("a")[1]["mode"], "auto")
        self.assertIn("127.0.0.21", set(self.spread(["10.0.%d.0/24" % i for i in range(40)])))

    def test_drain_fraction_follows_the_ramp(self):
        d = self.start('type = "none"\ndrain_seconds = 60\nstate_file = "admin.state"\n')
        subnets = ["10.%d.%d.0/24" % (i // 250, i % 250) for i in range(500)]
        orig = {s: self.answers(s)[0] for s in subnets}
        on_a = [s for s in subnets if orig[s] == "127.0.0.21"]
        self.assertAlmostEqual(len(on_a) / len(subnets), 0.5, delta=0.08)
        ramp = 4.0
        rc, out, _ = self.node("a", "drain", "%d" % ramp)
        self.assertEqual((rc, out["mode"], out["drain_seconds"]), (0, "drain", 4))
        left = set()
        rounds = []
        while True:
            keep_before = self.node("a")[1]["keep"]
            now = {s: self.answers(s)[0] for s in on_a}
            keep_after = self.node("a")[1]["keep"]
            still = [s for s in on_a if now[s] == "127.0.0.21"]
            frac = len(still) / len(on_a)
            rounds.append((keep_before, frac, keep_after))
            # The ramp's value during the round lies between the two readings;
            # the share of a's subnets it keeps follows it (binomial noise).
            self.assertGreaterEqual(frac, keep_after - 0.1, rounds)
            self.assertLessEqual(frac, keep_before + 0.1, rounds)
            # Subnets that left never come back, and only a's subnets move.
            self.assertFalse(left & set(still), "a subnet came back to the draining node")
            left |= set(on_a) - set(still)
            for s in subnets[:60]:
                if orig[s] != "127.0.0.21":
                    self.assertEqual(self.answers(s)[0], orig[s])
            if keep_before == 0:
                break
            time.sleep(0.3)
        print("\ndrain over %.0f s, a's share of its %d subnets per round (keep before, share, "
              "keep after): %s" % (ramp, len(on_a), ", ".join("(%.2f %.2f %.2f)" % r for r in rounds)))
        self.assertGreaterEqual(len(rounds), 4, rounds)  # it was gradual
        self.assertEqual(frac, 0.0)
        status = d.ctl_cmd("status").stdout
        self.assertRegex(status, r"(?m)^a +127\.0\.0\.21 +drain 0% +none +no ")
        self.node("a", "auto")
        self.assertEqual({s: self.answers(s)[0] for s in subnets}, orig)

    def test_drain_resumes_after_restart(self):
        d = self.start('type = "none"\nstate_file = "admin.state"\n')
        self.node("a", "drain", "20")
        time.sleep(1.0)
        k1 = self.node("a")[1]["keep"]
        d.restart()
        out = self.node("a")[1]
        self.assertEqual(out["mode"], "drain")
        # Same ramp, not restarted: at least as far along as before.
        self.assertLessEqual(out["keep"], k1)
        self.assertGreater(out["keep"], 0.5)

    def write_external(self, text, age=None):
        tmp = self.ext + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        if age is not None:
            t = time.time() - age
            os.utime(tmp, (t, t))
        os.rename(tmp, self.ext)

    def test_external_state_file(self):
        d = self.start('type = "none"\nexternal_file = "external"\nexternal_max_age_s = 30\n')
        self.ext = os.path.join(d.dir, "external")
        subnets = ["10.0.%d.0/24" % i for i in range(60)]
        self.assertEqual(set(self.spread(subnets)), {"127.0.0.21", "127.0.0.22"})
        self.write_external("# from probe-3\na down maintenance window\nb up\nzz down\n")
        self.wait_for(lambda: set(self.spread(subnets)) == {"127.0.0.22"}, 3)
        status = d.ctl_cmd("status").stdout
        self.assertRegex(status, r"(?m)^a +127\.0\.0\.21 .* external: maintenance window$")
        self.assertIn("external: %s:4: no node named zz; line ignored" % self.ext, d.logtext())

        # A broken file is refused whole: the marks read before stay.
        self.write_external("b down\na sideways\n")
        self.wait_for(lambda: "%s:2: \"sideways\" is neither" % self.ext in d.logtext(), 3)
        self.assertEqual(set(self.spread(subnets)), {"127.0.0.22"})
        self.assertIn("refused: ", d.ctl_cmd("status").stdout)

        # One address of a node: a's IPv4 address; a returns when the line goes.
        self.write_external("a 127.0.0.21 down probe-3 sees resets\n")
        self.wait_for(lambda: "external: probe-3 sees resets" in d.ctl_cmd("status").stdout, 3)
        status = d.ctl_cmd("status").stdout
        self.assertRegex(status, r"(?m)^a +127\.0\.0\.21 +auto +none +no .*external: probe-3 sees")
        self.assertEqual(set(self.spread(subnets)), {"127.0.0.22"})
        # An operator's "up" wins over external marks (it is the override of last resort).
        self.node("a", "up")
        self.assertIn("127.0.0.21", self.spread(subnets))
        self.node("a", "auto")
        self.assertEqual(set(self.spread(subnets)), {"127.0.0.22"})
        self.write_external("a 127.0.0.21 up\n")
        self.wait_for(lambda: "127.0.0.21" in self.spread(subnets), 3)

        # c is the only IPv6 node: with its address marked down nothing is up,
        # so AAAA fails open (fallback TTL 10) instead of the redirect's TTL 5.
        self.node("c", "up")
        self.node("b", "down")
        def aaaa_ttl():
            r = dns.query.udp(ecs_query("2001:db8::/48", "AAAA"), "127.0.0.1", port=d.port,
                              timeout=2)
            self.assertEqual([rd.to_text() for rrset in r.answer for rd in rrset], ["::1"])
            return r.answer[0].ttl
        self.assertEqual(aaaa_ttl(), 5)
        self.node("c", "auto")  # config: down; nothing else has IPv6
        self.assertEqual(aaaa_ttl(), 10)
        self.node("b", "auto")

        # A file older than external_max_age_s: the monitor stopped writing; ignored.
        self.write_external("a down stale news\n", age=120)
        time.sleep(1.5)
        self.assertIn("127.0.0.21", self.spread(subnets))
        self.assertIn("its marks are ignored", d.logtext())
        self.write_external("a down fresh news\n")
        self.wait_for(lambda: "127.0.0.21" not in self.spread(subnets), 3)

    def test_warmup_policy(self):
        # a's HTTP check hangs for its whole timeout (the listener never
        # accepts; the kernel completes the handshake); b is not checked.
        hang = socket.socket()
        hang.bind(("127.0.0.21", 0))
        hang.listen(16)
        port = hang.getsockname()[1]
        nodes = """
[health]
type = "http"
port = %d
timeout_ms = 3000
connect_timeout_ms = 3000
interval_ms = 5000
warmup = "%%s"
[[nodes]]
name = "a"
ipv4 = ["127.0.0.21"]
[[nodes]]
name = "b"
ipv4 = ["127.0.0.22"]
check = { type = "none" }
[maps.m]
default = ["a", "b"]
[[redirects]]
name = "video.example.test"
map = "m"
""" % port
        subnets = ["10.0.%d.0/24" % i for i in range(40)]
        try:
            # wait: until a's first result (3 s), every admin-up node counts as up.
            # down: a is unchecked, so down at once. up: unchecked counts as up.
            for policy, expect in (("wait", {"127.0.0.21", "127.0.0.22"}),
                                   ("down", {"127.0.0.22"}),
                                   ("up", {"127.0.0.21", "127.0.0.22"})):
                self.d = Dnsd(tail=nodes % policy)
                try:
                    self.assertIn("warm-up policy %s" % policy, self.d.logtext())
                    self.assertEqual(set(self.spread(subnets)), expect, policy)
                    if policy == "wait":
                        self.assertIn("pending", self.d.ctl_cmd("status").stdout)
                        self.assertIn("warm-up in progress", self.d.ctl_cmd("status").stdout)
                finally:
                    if policy != "up":
                        self.d.stop()
                        self.d.cleanup()
        finally:
            hang.close()


class ControlPlaneNotLockedOut(unittest.TestCase):
    """The metrics port may be reachable from the network: connections to it,
    idle or trickling, must never stop an operator from using the control
    socket, and must give their slots back within seconds."""

    def test_metrics_port_held_full_and_a_node_still_drains(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        mport = probe.getsockname()[1]
        probe.close()
        d = Dnsd(tail="[health]\n" + NODES, server_extra='metrics_listen = "127.0.0.1:%d"' % mport)
        held = []
        try:
            # More idle connections than the metrics limit (64), one trickling
            # a request a byte at a time.
            for _ in range(70):
                s = socket.create_connection(("127.0.0.1", mport), timeout=2)
                held.append(s)
            held[0].sendall(b"GET /met")
            t0 = time.time()
            r = d.ctl_cmd("node", "a", "drain", "30")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["mode"], "drain")
            r = d.ctl_cmd("stats")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('"udp_queries"', r.stdout)
            self.assertLess(time.time() - t0, 5)
            # The idle and trickling ones are closed after the header deadline
            # (5 s): the port serves scrapes again while they are still held.
            deadline = time.time() + 12
            text = None
            while time.time() < deadline and text is None:
                try:
                    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                                  timeout=2).read().decode()
                except OSError:
                    time.sleep(0.5)
            self.assertIsNotNone(text, "metrics still locked out after 12 s")
            self.assertIn("signpost_dnsd_udp_queries_total", text)
            self.assertIn("metrics: 64 connections open, the most allowed: refusing new ones",
                          d.logtext())
            closed = 0
            for s in held:
                s.settimeout(0.5)
                try:
                    closed += s.recv(1) == b""
                except (socket.timeout, OSError):
                    pass
            self.assertGreaterEqual(closed, 60)  # every accepted one was closed by dnsd
        finally:
            for s in held:
                s.close()
            d.stop()
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
