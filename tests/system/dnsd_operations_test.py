"""dnsd operations: atomic reloads (SIGHUP and control socket) that keep the
old zone on error and say file:line; TCP limits against clients that hold
connections; config errors with file:line; Prometheus metrics."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import unittest
import urllib.request

import dns.message
import dns.query
import dns.rcode

from dnsd_harness import DATA, DNSD, Dnsd

T = 2.0


def a_records(port, name):
    r = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=T)
    return r.rcode(), sorted(rd.to_text() for rrset in r.answer for rd in rrset)


class Reload(unittest.TestCase):
    def setUp(self):
        self.zone = None
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop()
            self.d.cleanup()

    def start(self):
        import tempfile
        self.zdir = tempfile.mkdtemp(prefix="dnsd-zone-")
        self.zone = os.path.join(self.zdir, "example.test.zone")
        shutil.copyfile(os.path.join(DATA, "test.zone"), self.zone)
        self.d = Dnsd(zones={"example.test": self.zone})

    def replace_zone(self, old, new):
        text = open(self.zone).read().replace(old, new)
        tmp = self.zone + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.zone)

    def test_sighup_reload_serves_new_zone(self):
        self.start()
        self.assertEqual(a_records(self.d.port, "www.example.test"), (dns.rcode.NOERROR, ["192.0.2.80"]))
        self.replace_zone("192.0.2.80", "192.0.2.81")
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and a_records(self.d.port, "www.example.test")[1] != ["192.0.2.81"]:
            time.sleep(0.02)
        self.assertEqual(a_records(self.d.port, "www.example.test"), (dns.rcode.NOERROR, ["192.0.2.81"]))

    def test_control_reload_and_broken_zone_keeps_old(self):
        self.start()
        self.replace_zone("www         IN A    192.0.2.80", "www         IN A    192.0.2.300")
        r = self.d.ctl_cmd("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn(self.zone + ":12:", r.stdout)  # file:line of the bad record
        self.assertIn("192.0.2.300", r.stdout)  # and the value as written
        self.assertEqual(a_records(self.d.port, "www.example.test"), (dns.rcode.NOERROR, ["192.0.2.80"]))
        self.assertIn("reload refused", self.d.logtext())
        # CNAME and other data at one name: refused with the line, old zone serves.
        self.replace_zone("www         IN A    192.0.2.300", "www         IN A    192.0.2.80\nwww IN CNAME mail")
        r = self.d.ctl_cmd("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("CNAME and other data", r.stdout)
        self.replace_zone("www IN CNAME mail", "new IN A 192.0.2.82")
        r = self.d.ctl_cmd("reload")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn('"generation":2', r.stdout)
        self.assertEqual(a_records(self.d.port, "new.example.test"), (dns.rcode.NOERROR, ["192.0.2.82"]))
        z = self.d.ctl_cmd("zones")
        self.assertIn("example.test.", z.stdout)

    def test_reload_names_settings_that_wait_for_a_restart(self):
        self.start()
        with open(self.d.config) as f:
            text = f.read().replace("threads = 2", "threads = 3\nudp_rcvbuf = 65536")
        with open(self.d.config + ".tmp", "w") as f:
            f.write(text)
        os.replace(self.d.config + ".tmp", self.d.config)
        self.replace_zone("192.0.2.80", "192.0.2.81")
        self.assertEqual(self.d.ctl_cmd("reload").returncode, 0)
        self.assertEqual(a_records(self.d.port, "www.example.test"), (dns.rcode.NOERROR, ["192.0.2.81"]))
        log = self.d.logtext()
        self.assertIn("[server] threads changed: it takes effect when dnsd restarts", log)
        self.assertIn("[server] udp_rcvbuf changed", log)
        self.assertNotIn("[server] listen changed", log)

    def test_reload_under_query_load_loses_nothing(self):
        self.start()
        import threading
        stop = threading.Event()
        bad = []
        count = [0]

        def client():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1.0)
            i = 0
            while not stop.is_set():
                i += 1
                m = dns.message.make_query("www.example.test", "A", id=i & 0xFFFF)
                s.sendto(m.to_wire(), ("127.0.0.1", self.d.port))
                try:
                    r = dns.message.from_wire(s.recv(4096))
                    if r.rcode() != dns.rcode.NOERROR or len(r.answer) != 1:
                        bad.append(r.to_text())
                    count[0] += 1
                except socket.timeout:
                    bad.append("timeout")
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for i in range(20):
            self.assertEqual(self.d.ctl_cmd("reload").returncode, 0)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(bad, [])
        self.assertGreater(count[0], 0)


class Limits(unittest.TestCase):
    def test_tcp_idle_timeout_and_per_client_cap(self):
        d = Dnsd(server_extra="tcp_idle_timeout_ms = 300\ntcp_max_per_client = 4\ntcp_max_connections = 8")
        try:
            held = [socket.create_connection(("127.0.0.1", d.port), timeout=T) for _ in range(4)]
            time.sleep(0.1)
            extra = socket.create_connection(("127.0.0.1", d.port), timeout=T)
            self.assertEqual(extra.recv(10), b"")  # over the per-client cap: closed at once
            # A slow client trickling one query byte by byte is idle too.
            q = dns.message.make_query("www.example.test", "A").to_wire()
            msg = struct.pack("!H", len(q)) + q
            held[0].sendall(msg[:3])
            time.sleep(0.8)
            for s in held:
                s.settimeout(2)
                self.assertEqual(s.recv(10), b"", "idle connection should be closed")
            # The server is fine afterwards.
            r = dns.query.tcp(dns.message.make_query("www.example.test", "A"), "127.0.0.1",
                              port=d.port, timeout=T)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            stats = d.ctl_cmd("stats").stdout
            self.assertIn('"tcp_refused":1', stats)
            self.assertRegex(stats, r'"tcp_idle_closed":[45]')
        finally:
            d.stop()
            d.cleanup()

    def test_metrics_endpoint(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        d = Dnsd(server_extra='metrics_listen = "127.0.0.1:%d"' % port)
        try:
            a_records(d.port, "www.example.test")
            a_records(d.port, "nope.example.test")
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=T).read().decode()
            self.assertIn("# TYPE signpost_dnsd_udp_queries_total counter", text)
            self.assertRegex(text, r"signpost_dnsd_nxdomain_total [1-9]")
            self.assertIn("signpost_dnsd_config_generation 1", text)
        finally:
            d.stop()
            d.cleanup()

    def burst(self, d, n):
        """n queries sent while dnsd is stopped (SIGSTOP): only its receive
        buffers hold them. Returns (udp_queries, udp_receive_drops) after."""
        import json
        d.proc.send_signal(signal.SIGSTOP)
        try:
            # Stopping is asynchronous: wait until every thread is stopped.
            task = "/proc/%d/task" % d.proc.pid
            deadline = time.time() + 10
            while time.time() < deadline:
                states = []
                for t in os.listdir(task):
                    try:
                        with open(os.path.join(task, t, "stat")) as f:
                            states.append(f.read().rsplit(")", 1)[1].split()[0])
                    except FileNotFoundError:
                        pass
                if states and all(st == "T" for st in states):
                    break
                time.sleep(0.01)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            q = dns.message.make_query("www.example.test", "A").to_wire()
            for _ in range(n):
                s.sendto(q, ("127.0.0.1", d.port))
            s.close()
        finally:
            d.proc.send_signal(signal.SIGCONT)
        deadline = time.time() + 10
        while True:
            stats = json.loads(d.ctl_cmd("stats").stdout)
            got = (stats["udp_queries"], stats["udp_receive_drops"])
            if sum(got) >= n or time.time() > deadline:
                return got
            time.sleep(0.05)

    def test_receive_buffer_holds_a_burst_and_drops_are_counted(self):
        # The default udp_rcvbuf (4 MiB) holds 3,000 queries that arrive while no
        # worker reads; the kernel's default (208 KiB) holds a few hundred.
        d = Dnsd(threads=1)
        try:
            self.assertEqual(self.burst(d, 3000), (3000, 0))
        finally:
            d.stop()
            d.cleanup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        d = Dnsd(threads=1, server_extra='udp_rcvbuf = 4096\nmetrics_listen = "127.0.0.1:%d"' % port)
        try:
            answered, dropped = self.burst(d, 500)
            self.assertEqual(answered + dropped, 500)
            self.assertGreater(dropped, 400)  # a 4 KiB buffer holds a handful
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=T).read().decode()
            self.assertIn("signpost_dnsd_udp_receive_drops_total %d\n" % dropped, text)
        finally:
            d.stop()
            d.cleanup()


class ConfigErrors(unittest.TestCase):
    def run_config(self, text, name="bad.toml"):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([DNSD, "--config", path, "--check-config"], capture_output=True,
                               text=True, timeout=10)
            return r, path

    def test_errors_name_file_and_line(self):
        zone = os.path.join(DATA, "test.zone")
        cases = [
            ('[server]\nthreads = "many"\n', ":2:", "threads"),
            ('[server]\nlisten = ["127.0.0.1"]\n', ":2:", "127.0.0.1"),
            ('[server]\nbogus = 1\n', ":2:", "bogus"),
            ('[server]\nudp_rcvbuf = 100\n', ":2:", "udp_rcvbuf: 100 is below 4096"),
            ('[server]\nudp_rcvbuf = -1\n', ":2:", "udp_rcvbuf"),
            ('[server]\nnsid = "%s"\n' % ("x" * 129), ":2:", "nsid: 129 octets; at most 128"),
            ('[server]\ncookie_secret = "e5e973e5"\n', ":2:", "cookie_secret: expected 32 hexadecimal"),
            ('[server]\ncookies = "yes"\n', ":2:", 'cookies = "yes": expected true or false'),
            ('[rrl]\nresponses_per_second = 10\nslip = 11\n', ":3:", "slip = 11: expected an integer 0..10"),
            ('[rrl]\nrate = 10\n', ":2:", "unknown key 'rate' in [rrl]"),
            ('[server]\nlisten = [\n', ":", ""),
            ('[server]\n', "", "no zones"),
            ('[[zones]]\nname = "example.test"\nfile = "/nonexistent.zone"\n', "/nonexistent.zone", "cannot open"),
            ('[[zones]]\nname = "a.test"\nfile = "%s"\n' % zone, zone, "outside the zone"),
        ]
        for text, where, what in cases:
            r, path = self.run_config(text)
            self.assertEqual(r.returncode, 1, text)
            msg = r.stderr
            if where.startswith(":"):
                self.assertIn(path + where, msg, text)
            elif where:
                self.assertIn(where, msg, text)
            self.assertIn(what, msg, text)

    def test_good_config_checks(self):
        r, _ = self.run_config('[[zones]]\nname = "example.test"\nfile = "%s"\n' % os.path.join(DATA, "test.zone"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
