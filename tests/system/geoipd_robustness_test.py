"""Bad input gets an error line and the connection carries on; many clients at
once; a client that never reads cannot hurt the others; limits hold."""
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import GEOIPD, ROOT_ARGS, Geoipd, db, main, read_lines


class Robustness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.g = Geoipd([db("city.mmdb"), db("asn.mmdb")], extra=["--max-clients", "300"])

    @classmethod
    def tearDownClass(cls):
        assert cls.g.stop() == 0
        cls.g.cleanup()

    def test_garbage_gets_errors_and_connection_carries_on(self):
        s = self.g.connect()
        junk = [b"hello", b"\x00\x01\x02\xff\xfe", b"1.2.3.4.5", b"999.1.1.1", b"lookup",
                b"2001:db8::1::2", b"1.2.3.4/24", b"\xc3\x28 invalid utf8", b"info extra"]
        s.sendall(b"".join(j + b"\n" for j in junk) + b"10.1.2.3\r\n")
        lines = read_lines(s, len(junk) + 1)
        for line in lines[:-1]:
            obj = json.loads(line)  # every line is valid JSON, whatever came in
            self.assertIn("error", obj)
        self.assertEqual(json.loads(lines[-1])["country"], "FR")
        s.close()

    def test_overlong_line_refused_once_then_recovers(self):
        s = self.g.connect()
        s.sendall(b"1" * 1_000_000)  # no newline yet: must not be buffered without end
        s.sendall(b"2" * 1000 + b"\n10.0.0.1\n")
        a, b = [json.loads(l) for l in read_lines(s, 2)]
        self.assertEqual(a["error"], "request too long")
        self.assertEqual(b["country"], "US")
        s.close()

    def test_byte_at_a_time(self):
        s = self.g.connect()
        for ch in b"10.1.2.3\n":
            s.send(bytes([ch]))
            time.sleep(0.001)
        self.assertEqual(json.loads(read_lines(s, 1)[0])["country"], "FR")
        s.close()

    def test_half_close_answers_last_line_without_newline(self):
        s = self.g.connect()
        s.sendall(b"10.0.0.1\n10.1.2.3")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        lines = data.decode().splitlines()
        self.assertEqual([json.loads(l)["country"] for l in lines], ["US", "FR"])
        s.close()

    def test_200_concurrent_clients(self):
        addrs = ["10.0.0.1", "10.1.2.3", "2001:db8:1::5", "8.8.8.8", "81.2.69.1"] * 20
        expect = [a["country"] for a in self.g.ask(addrs[:5])] * 20
        conns = [self.g.connect() for _ in range(200)]
        errors = []

        def client(s):
            try:
                for _ in range(3):
                    got = [json.loads(l)["country"] for l in self._roundtrip(s, addrs)]
                    if got != expect:
                        errors.append("wrong answers")
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(repr(e))
            finally:
                s.close()

        threads = [threading.Thread(target=client, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(self.g.stats()["connections_accepted"], 200)

    def _roundtrip(self, s, addrs):
        s.sendall("".join(a + "\n" for a in addrs).encode())
        return read_lines(s, len(addrs))

    def test_client_that_never_reads_cannot_hurt_others(self):
        hog = self.g.connect()
        hog.setblocking(False)
        payload = b"10.1.2.3\n" * 100_000
        sent = 0
        deadline = time.time() + 5
        while time.time() < deadline and sent < 20 * len(payload):
            try:
                sent += hog.send(payload)
            except BlockingIOError:
                time.sleep(0.01)
        # The hog's pipes are full and geoipd has paused reading it...
        self.assertGreaterEqual(self.g.stats()["reads_paused"], 1)
        # ...while everyone else is served promptly.
        t0 = time.time()
        for _ in range(50):
            self.assertEqual(self.g.ask(["10.0.0.1"])[0]["country"], "US")
        self.assertLess(time.time() - t0, 5)
        rss_kib = int(open("/proc/%d/status" % self.g.proc.pid).read().split("VmRSS:")[1].split()[0])
        self.assertLess(rss_kib, 200 * 1024, "memory must stay bounded by the output cap")
        hog.close()


class Limits(unittest.TestCase):
    def test_max_clients(self):
        g = Geoipd([db("city.mmdb")], extra=["--max-clients", "3"])
        try:
            held = [g.connect() for _ in range(2)]  # plus the one ask() makes below
            g.ask(["10.0.0.1"], conn=held[0])
            extra = [g.connect()]
            g.ask(["10.0.0.1"], conn=extra[0])
            refused = g.connect()
            line = read_lines(refused, 1)[0]
            self.assertEqual(json.loads(line)["error"], "too many clients")
            for s in held + extra:
                s.close()
            time.sleep(0.1)
            self.assertEqual(g.ask(["10.0.0.1"])[0]["country"], "US")
            self.assertGreaterEqual(g.stats()["connections_refused"], 1)
        finally:
            g.stop()
            g.cleanup()

    def test_startup_refuses_broken_database_naming_it(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "broken.mmdb")
            with open(db("city.mmdb"), "rb") as f:
                data = f.read()
            with open(bad, "wb") as f:
                f.write(data[: len(data) // 2])
            r = subprocess.run([GEOIPD, "--socket", os.path.join(d, "s"), "--db", bad],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn(bad, r.stderr)

    def test_config_file_and_errors_with_line(self):
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "geoipd.conf")
            with open(conf, "w") as f:
                f.write("# comment\nsocket = %s/s\ndb = %s\nthreads = lots\n" % (d, db("city.mmdb")))
            r = subprocess.run([GEOIPD, "--config", conf], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2)
            self.assertIn(conf + ":4:", r.stderr)
            self.assertIn("lots", r.stderr)
            with open(conf, "w") as f:
                f.write("socket = %s/s\ndb = %s\nthreads = 2\n" % (d, db("city.mmdb")))
            r = subprocess.run([GEOIPD, "--config", conf, "--check-config"], capture_output=True,
                               text=True, timeout=10)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("country.iso_code", r.stdout)
            with open(conf, "w") as f:
                f.write("socket = %s/s\nbogus = 1\n" % d)
            r = subprocess.run([GEOIPD, "--config", conf], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2)
            self.assertIn("bogus", r.stderr)

    def test_refuses_to_steal_a_live_socket(self):
        g = Geoipd([db("city.mmdb")])
        try:
            r = subprocess.run([GEOIPD, "--socket", g.sock, "--db", db("city.mmdb")] + ROOT_ARGS,
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn("already listening", r.stderr)
            self.assertEqual(g.ask(["10.0.0.1"])[0]["country"], "US")
        finally:
            g.stop()
            g.cleanup()


if __name__ == "__main__":
    main()
