"""The alert rules and the dashboard cannot drift from the code: promtool checks
the rules and runs their unit tests (packaging/prometheus/*.test.yml), the
dashboard is valid Grafana JSON, and every signpost metric either of them names
is in a real scrape of dnsd and geoipd, started here with a node under health
check (a real HTTP server) and a redirect answered."""
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

from dnsd_harness import Dnsd
from harness import Geoipd, db

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROM = os.path.join(ROOT, "packaging", "prometheus")
RULES = os.path.join(PROM, "signpost-alerts.yml")
DASHBOARD = os.path.join(ROOT, "packaging", "grafana", "signpost-dashboard.json")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def names_in(text):
    return set(re.findall(r"\b(signpost_[a-z0-9_]+)", text))


class Rules(unittest.TestCase):
    def test_promtool_checks_and_unit_tests(self):
        r = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout + r.stderr)
        r = subprocess.run(["promtool", "test", "rules", "signpost-alerts.test.yml"], cwd=PROM,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class Dashboard(unittest.TestCase):
    def test_valid_dashboard(self):
        with open(DASHBOARD) as f:
            d = json.load(f)
        self.assertEqual(d["uid"], "signpost")
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        for p in d["panels"]:
            self.assertTrue(p["targets"], p["title"])
            for t in p["targets"]:
                self.assertTrue(t["expr"].strip(), p["title"])
                # Balanced brackets, so Grafana does not reject the query.
                for o, c in ("()", "{}", "[]"):
                    self.assertEqual(t["expr"].count(o), t["expr"].count(c), t["expr"])


class MetricsExist(unittest.TestCase):
    def test_every_metric_named_is_scraped(self):
        class Ok(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok\n")

            def log_message(self, *a):
                pass
        http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
        threading.Thread(target=http_server.serve_forever, daemon=True).start()
        gport, dport = free_port(), free_port()
        g = Geoipd([db("city.mmdb"), db("asn.mmdb")], extra=["--metrics-listen", str(gport)])
        tail = """
[health]
interval_ms = 200
timeout_ms = 1000
rise = 1
[[nodes]]
name = "fra1"
ipv4 = ["127.0.0.1"]
check = { type = "http", port = %d }
[maps.world]
default = ["fra1"]
[geoip]
socket = "%s"
[[redirects]]
name = "video.example.test"
map = "world"
""" % (http_server.server_address[1], g.sock)
        d = Dnsd(tail=tail, server_extra='metrics_listen = "127.0.0.1:%d"' % dport)
        try:
            subprocess.run(["dig", "+short", "+time=2", "+tries=2", "-p", str(d.port), "@127.0.0.1",
                            "video.example.test", "A"], capture_output=True, timeout=10)
            deadline = time.time() + 10
            while time.time() < deadline:
                scraped = "".join(urllib.request.urlopen("http://127.0.0.1:%d/metrics" % p, timeout=5)
                                  .read().decode() for p in (dport, gport))
                if "signpost_node_check_up{" in scraped and "signpost_dnsd_top_asn_queries{" in scraped:
                    break
                time.sleep(0.2)
            have = set(re.findall(r"^(signpost_[a-z0-9_]+)", scraped, re.M))
            with open(RULES) as f:
                wanted = names_in(f.read())
            with open(DASHBOARD) as f:
                wanted |= names_in(f.read())
            self.assertGreater(len(wanted), 20)
            self.assertEqual(sorted(wanted - have), [], "named by the rules or the dashboard, "
                             "but not in dnsd's or geoipd's metrics")
        finally:
            d.stop()
            d.cleanup()
            g.stop()
            g.cleanup()
            http_server.shutdown()


if __name__ == "__main__":
    unittest.main(verbosity=2)
