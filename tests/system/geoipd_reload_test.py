"""A database renamed into place 20 times while clients look up continuously:
zero failed or malformed answers, each consistent with the database whose
generation answered; broken files refused while the old one keeps serving."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

from harness import SCRIPTS, Geoipd, db, facts, main, read_expected, read_lines

INSTALL = os.path.join(SCRIPTS, "install-geodb")


class Reload(unittest.TestCase):
    def setUp(self):
        self.expected = read_expected()
        self.g = None

    def tearDown(self):
        if self.g:
            self.g.stop()
            self.g.cleanup()

    def start(self, extra=()):
        import tempfile
        d = tempfile.mkdtemp(prefix="geoipd-reload-")
        self.live = os.path.join(d, "live.mmdb")
        subprocess.run([INSTALL, db("city.mmdb"), self.live], check=True)
        self.g = Geoipd([self.live, db("asn.mmdb")],
                        extra=["--debounce-ms", "20"] + list(extra), workdir=d)

    def wait_generation(self, gen, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.g.stats()["generation"] >= gen:
                return
            time.sleep(0.01)
        self.fail("generation %d not reached: %s" % (gen, self.g.logtext()[-2000:]))

    def test_twenty_renames_under_continuous_lookups(self):
        self.start()
        addrs = list(self.expected["a"])
        stop = threading.Event()
        failures = []
        counts = {"answers": 0, "a": 0, "b": 0}
        lock = threading.Lock()

        def client():
            s = self.g.connect()
            last_gen = 0
            try:
                while not stop.is_set():
                    s.sendall("".join(a + "\n" for a in addrs).encode())
                    for addr, line in zip(addrs, read_lines(s, len(addrs))):
                        try:
                            ans = json.loads(line)
                        except ValueError:
                            failures.append("malformed: %r" % line)
                            continue
                        if "error" in ans:
                            failures.append("error: %r" % line)
                            continue
                        gen = ans["generation"]
                        # Generation 1 is city.mmdb (variant a); each reload swaps.
                        variant = "a" if gen % 2 == 1 else "b"
                        if facts(ans) != self.expected[variant][addr]:
                            failures.append("gen %d %s: %r" % (gen, addr, line))
                        if gen < last_gen:
                            failures.append("generation went back: %d -> %d" % (last_gen, gen))
                        last_gen = gen
                        with lock:
                            counts["answers"] += 1
                            counts[variant] += 1
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))
            finally:
                s.close()

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        for i in range(20):
            src = db("city-b.mmdb") if i % 2 == 0 else db("city.mmdb")
            subprocess.run([INSTALL, src, self.live], check=True)
            self.wait_generation(i + 2)
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(failures[:5], [])
        st = self.g.stats()
        self.assertEqual(st["generation"], 21)
        self.assertEqual(st["reloads"], 20)
        self.assertEqual(st["reload_failures"], 0)
        self.assertGreater(counts["a"], 0)
        self.assertGreater(counts["b"], 0)
        print("reload test: %d answers (%d from a, %d from b) across 20 reloads, 0 failures"
              % (counts["answers"], counts["a"], counts["b"]))

    def metrics(self):
        return urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.mport, timeout=5).read().decode()

    def test_broken_files_are_refused_and_old_keeps_serving(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.mport = sock.getsockname()[1]
        sock.close()
        self.start(extra=["--metrics-listen", str(self.mport)])  # a port alone: loopback
        text = self.metrics()
        self.assertIn("signpost_geoipd_reload_failures_total 0\n", text)
        self.assertIn("signpost_geoipd_generation 1\n", text)
        self.assertIn("# TYPE signpost_geoipd_lookups_total counter", text)
        # Each database's build time and age, labeled by path and type.
        m = re.search(r'^signpost_geoipd_database_age_seconds\{path="%s",type="[^"]+"\} (\d+)$'
                      % re.escape(self.live), text, re.M)
        self.assertIsNotNone(m, text)
        built = re.search(r'^signpost_geoipd_database_build_timestamp_seconds\{path="%s",[^}]*\} (\d+)$'
                          % re.escape(self.live), text, re.M)
        self.assertAlmostEqual(int(m.group(1)), time.time() - int(built.group(1)), delta=5)
        self.g.ask(["10.1.2.3", "192.0.2.200"])
        self.assertRegex(self.metrics(), r"signpost_geoipd_lookups_total [2-9]")
        d = os.path.dirname(self.live)
        with open(db("city-b.mmdb"), "rb") as f:
            data = f.read()
        broken = os.path.join(d, "incoming.mmdb")
        for i, payload in enumerate([data[: len(data) // 2], b"not a database at all",
                                     b"\xff" * 64 + data[64:]]):
            with open(broken, "wb") as f:
                f.write(payload)
            os.rename(broken, self.live)  # renamed into place, as a careless cron would
            deadline = time.time() + 10
            while self.g.stats()["reload_failures"] < i + 1 and time.time() < deadline:
                time.sleep(0.01)
            st = self.g.stats()
            self.assertEqual(st["reload_failures"], i + 1)
            self.assertEqual(st["generation"], 1)
            self.assertEqual(self.g.ask(["10.1.2.3"])[0]["country"], "FR")  # still variant a
        self.assertIn("reload refused", self.g.logtext())
        self.assertIn(self.live, self.g.logtext())
        text = self.metrics()
        self.assertIn("signpost_geoipd_reload_failures_total 3\n", text)
        self.assertRegex(text, r"signpost_geoipd_last_reload_failure_timestamp_seconds [1-9]\d+\n")
        # A good file afterwards is picked up.
        subprocess.run([INSTALL, db("city-b.mmdb"), self.live], check=True)
        self.wait_generation(2)
        self.assertEqual(self.g.ask(["10.1.2.3"])[0]["country"], "ES")

    def test_sighup_reloads(self):
        self.start()
        self.g.proc.send_signal(signal.SIGHUP)
        self.wait_generation(2)
        self.assertEqual(self.g.ask(["10.1.2.3"])[0]["country"], "FR")

    def test_stat_fallback_notices_replacement(self):
        # Without inotify (NFS and some overlays), the periodic stat finds it.
        self.start(extra=["--stat-interval", "1", "--no-inotify"])
        shutil.copyfile(db("city-b.mmdb"), self.live + ".new")
        os.replace(self.live + ".new", self.live)
        self.wait_generation(2, timeout=5)
        self.assertEqual(self.g.ask(["10.1.2.3"])[0]["country"], "ES")


if __name__ == "__main__":
    main()
