"""Zone transfers with real secondaries on loopback: NSD, BIND and Knot (when
installed) transfer the zone from dnsd (AXFR; BIND and Knot ask IXFR first and
get the whole zone), answer its static data exactly as dnsd does and the
redirect names with their fallback addresses, and serve the new serial within
seconds of a zone file renamed into place (dnsd's NOTIFY). Clients outside
allow_transfer, and transfers over UDP, are refused. A 100,000-record zone
transfers whole (timed against NSD serving the same zone); a reader that stops
reading, or disconnects mid-transfer, costs dnsd nothing else."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype

from dnsd_harness import DATA, Dnsd
from dnsd_resolvers_test import NAMED, free_port, wait_port

T = 3
KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
NODES = """
[[nodes]]
name = "fra1"
ipv4 = ["192.0.2.10"]
ipv6 = ["2001:db8:f::10"]
[[nodes]]
name = "nyc1"
ipv4 = ["198.51.100.10"]
[maps.world]
default = ["nyc1", "fra1"]
[[redirects]]
name = "video.example.test"
map = "world"
fallback = ["fra1:3", "nyc1:1"]
fallback_ttl = 7
[[redirects]]
name = "hidden.example.test"
map = "world"
export = "omit"
"""
# Names and types compared between dnsd and each secondary.
STATIC = [("www.example.test", "A"), ("www.example.test", "AAAA"), ("mail.example.test", "A"),
          ("alias.example.test", "CNAME"), ("big.example.test", "TXT"), ("example.test", "MX"),
          ("example.test", "TXT"), ("example.test", "NS"), ("exists.wild.example.test", "A"),
          ("a.b.ent.example.test", "A"), ("ns1.example.test", "AAAA")]


def rdatas(port, name, rdtype):
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)  # big.example.test fits
    q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=T)
    return r.rcode(), sorted((rr.ttl, rd.to_text()) for rr in r.answer for rd in rr
                             if rr.rdtype == dns.rdatatype.from_text(rdtype))


def soa_serial(port):
    try:
        r = dns.query.udp(dns.message.make_query("example.test", "SOA"), "127.0.0.1", port=port,
                          timeout=0.5)
    except Exception:
        return None
    for rr in r.answer:
        if rr.rdtype == dns.rdatatype.SOA:
            return rr[0].serial
    return None


def zone_text(serial, extra=""):
    with open(os.path.join(DATA, "test.zone")) as f:
        text = f.read()
    text = re.sub(r"(IN SOA\s+\S+\s+\S+\s+)\d+", r"\g<1>%d" % serial, text, count=1)
    return text + extra


class Transfer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="transfer-test-")
        cls.zone = os.path.join(cls.dir, "example.test.zone")
        with open(cls.zone, "w") as f:
            f.write(zone_text(2026120101))
        cls.ports = {"nsd": free_port(), "named": free_port()}
        if os.path.exists(KNOTD):
            cls.ports["knot"] = free_port()
        notify = ", ".join('"127.0.0.1:%d"' % p for p in cls.ports.values())
        cls.d = Dnsd(zones={"example.test": cls.zone}, tail=NODES,
                     zone_extra='allow_transfer = ["127.0.0.1/32", "::1"]\nnotify = [%s]' % notify)
        cls.procs = []
        cls.start_secondaries()

    @classmethod
    def start(cls, name, argv, conf_text):
        conf = os.path.join(cls.dir, name + ".conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        log = os.path.join(cls.dir, name + ".log")
        out = open(log, "w")
        proc = subprocess.Popen(argv + [conf], stdout=out, stderr=subprocess.STDOUT)
        cls.procs.append((proc, out))
        wait_port(cls.ports[name], proc, log)

    @classmethod
    def start_secondaries(cls):
        d, dport = cls.dir, cls.d.port
        os.makedirs(os.path.join(d, "nsd"), exist_ok=True)
        cls.start("nsd", ["nsd", "-d", "-c"], """server:
  ip-address: 127.0.0.1@%d
  server-count: 1
  username: ""
  zonesdir: "%s/nsd"
  pidfile: "%s/nsd/nsd.pid"
  database: ""
  xfrdfile: "%s/nsd/xfrd.state"
  zonelistfile: "%s/nsd/zone.list"
  verbosity: 2
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.test.zone
  request-xfr: AXFR 127.0.0.1@%d NOKEY
  allow-notify: 127.0.0.1 NOKEY
""" % (cls.ports["nsd"], d, d, d, d, dport))
        os.makedirs(os.path.join(d, "named"), exist_ok=True)
        cls.start("named", [NAMED, "-g", "-4", "-c"], """options {
  directory "%s/named";
  pid-file "%s/named/named.pid";
  listen-on port %d { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  dnssec-validation no;
};
zone "example.test" { type secondary; primaries port %d { 127.0.0.1; }; file "example.test.db"; };
""" % (d, d, cls.ports["named"], dport))
        if "knot" in cls.ports:
            os.makedirs(os.path.join(d, "knot"), exist_ok=True)
            cls.start("knot", [KNOTD, "-c"], """server:
    rundir: "%s/knot"
    listen: 127.0.0.1@%d
database:
    storage: "%s/knot"
log:
  - target: stderr
    any: info
remote:
  - id: primary
    address: 127.0.0.1@%d
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "%s/knot"
zone:
  - domain: example.test
    master: primary
    acl: notify_from_primary
""" % (d, cls.ports["knot"], d, dport, d))

    @classmethod
    def tearDownClass(cls):
        for proc, out in cls.procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            out.close()
        cls.d.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def wait_serial(self, serial, timeout=15):
        deadline = time.time() + timeout
        got = {}
        while time.time() < deadline:
            got = {n: soa_serial(p) for n, p in self.ports.items()}
            if all(v == serial for v in got.values()):
                return time.time()
            time.sleep(0.1)
        self.fail("secondaries at %r, not %d; dnsd log:\n%s" % (got, serial, self.d.logtext()))

    def test_1_secondaries_transfer_and_answer_like_dnsd(self):
        self.wait_serial(2026120101)
        for name, port in self.ports.items():
            for qname, rdtype in STATIC:
                self.assertEqual(rdatas(port, qname, rdtype), rdatas(self.d.port, qname, rdtype),
                                 "%s %s at %s" % (qname, rdtype, name))
            # Redirect names: every fallback address, with fallback_ttl.
            self.assertEqual(rdatas(port, "video.example.test", "A"),
                             (dns.rcode.NOERROR, [(7, "192.0.2.10"), (7, "198.51.100.10")]), name)
            self.assertEqual(rdatas(port, "video.example.test", "AAAA"),
                             (dns.rcode.NOERROR, [(7, "2001:db8:f::10")]), name)
            # export = "omit": the secondary has nothing there.
            self.assertEqual(rdatas(port, "hidden.example.test", "A")[0], dns.rcode.NXDOMAIN, name)
        self.assertRegex(self.d.logtext(), r"zone transfer of example\.test\. serial 2026120101 "
                                           r"to 127\.0\.0\.1 done: \d+ records")

    def test_2_notify_brings_the_new_serial(self):
        self.wait_serial(2026120101)
        tmp = self.zone + ".new"
        with open(tmp, "w") as f:
            f.write(zone_text(2026120102, "fresh 300 IN A 192.0.2.123\n"))
        t0 = time.time()
        os.rename(tmp, self.zone)
        t1 = self.wait_serial(2026120102)
        print("NOTIFY: every secondary at the new serial %.2f s after the rename" % (t1 - t0))
        self.assertLess(t1 - t0, 10)
        for name, port in self.ports.items():
            self.assertEqual(rdatas(port, "fresh.example.test", "A")[1], [(300, "192.0.2.123")], name)
        log = self.d.logtext()
        self.assertIn("notify: example.test. serial 2026120102 to %d secondaries" % len(self.ports), log)
        for port in self.ports.values():
            self.assertIn("serial 2026120102 acknowledged by 127.0.0.1:%d" % port, log)
        # An IXFR (what a secondary with a copy may ask) gets the whole zone, as
        # RFC 1995 allows when no history is kept.
        def transfer(kind):
            r = subprocess.run(["dig", "+onesoa", "-p", str(self.d.port), "@127.0.0.1", "example.test",
                                kind], capture_output=True, text=True, timeout=10)
            # (dig prints the closing SOA of an IXFR even with +onesoa: SOAs aside)
            return sorted(l for l in r.stdout.splitlines()
                          if l and not l.startswith(";") and "\tSOA\t" not in l)
        axfr = transfer("AXFR")
        self.assertGreater(len(axfr), 30)
        # From a serial the history does not reach: the whole zone.
        self.assertEqual(transfer("IXFR=2026110101"), axfr)
        self.assertIn("zone transfer (IXFR, sent as AXFR) of example.test. serial 2026120102",
                      self.d.logtext())
        # From the previous serial: the difference alone (RFC 1995), the one added record.
        self.assertEqual(transfer("IXFR=2026120101"),
                         ["fresh.example.test.\t300\tIN\tA\t192.0.2.123"])
        self.assertIn("zone transfer (IXFR from serial 2026120101: 5 records) of example.test. "
                      "serial 2026120102", self.d.logtext())
        # From the current serial: the SOA alone.
        self.assertEqual(transfer("IXFR=2026120102"), [])
        # BIND and Knot, which had the old copy, asked IXFR and got the difference.
        self.assertGreaterEqual(self.d.logtext().count("(IXFR from serial 2026120101: 5 records)"),
                                1 + ("knot" in self.ports))

    def test_3_refused_outside_the_list_and_over_udp(self):
        r = subprocess.run(["dig", "-b", "127.0.0.2", "-p", str(self.d.port), "@127.0.0.1",
                            "example.test", "AXFR"], capture_output=True, text=True, timeout=10)
        self.assertIn("Transfer failed", r.stdout)
        q = dns.message.make_query("example.test", "AXFR")
        r = dns.query.udp(q, "127.0.0.1", port=self.d.port, timeout=T)
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)
        # IXFR over UDP: the current SOA alone (RFC 1995: current, or ask over TCP).
        r = subprocess.run(["dig", "+notcp", "+norec", "-p", str(self.d.port), "@127.0.0.1",
                            "example.test", "IXFR=1"], capture_output=True, text=True, timeout=10)
        self.assertIn("(UDP)", r.stdout)
        self.assertEqual(len([l for l in r.stdout.splitlines() if "\tSOA\t" in l and not l.startswith(";")]), 1,
                         r.stdout)
        # Not at an apex: refused too.
        r = subprocess.run(["dig", "-p", str(self.d.port), "@127.0.0.1", "www.example.test", "AXFR"],
                           capture_output=True, text=True, timeout=10)
        self.assertIn("Transfer failed", r.stdout)
        stats = self.d.ctl_cmd("stats").stdout
        self.assertRegex(stats, r'"axfr_refused":[3-9]')
        self.assertEqual(self.d.logtext().count("refused for 127.0.0.2"), 1)

    def test_4_a_change_without_a_new_serial_is_warned(self):
        self.wait_serial(2026120102)
        for serial, extra, want in ((2026120102, "fresh 300 IN A 192.0.2.123\nother 300 IN A 192.0.2.124\n",
                                     "changed but its serial 2026120102 did not"),
                                    (2026120001, "", "serial went back from 2026120102 to 2026120001")):
            tmp = self.zone + ".new"
            with open(tmp, "w") as f:
                f.write(zone_text(serial, extra))
            os.rename(tmp, self.zone)
            deadline = time.time() + 10
            while want not in self.d.logtext() and time.time() < deadline:
                time.sleep(0.1)
            self.assertIn(want, self.d.logtext())
        # What the redirect names export is part of the zone too: a new
        # fallback TTL under the same serial is warned about.
        self.d.tail = NODES.replace("fallback_ttl = 7", "fallback_ttl = 9")
        self.d.write_config()
        self.assertEqual(self.d.ctl_cmd("reload").returncode, 0)
        self.assertIn("changed but its serial 2026120001 did not", self.d.logtext())


def nsd_conf(port, d, tail):
    """An NSD config on 127.0.0.1@port with its files in d/nsd (zonesdir d), then `tail`."""
    return """server:
  ip-address: 127.0.0.1@%d
  server-count: 1
  username: ""
  zonesdir: "%s"
  pidfile: "%s/nsd/nsd.pid"
  database: ""
  xfrdfile: "%s/nsd/xfrd.state"
  zonelistfile: "%s/nsd/zone.list"
remote-control:
  control-enable: no
""" % (port, d, d, d, d) + tail


def axfr_query(name):
    q = dns.message.make_query(name, "AXFR").to_wire()
    return struct.pack("!H", len(q)) + q


class NotifyNs(unittest.TestCase):
    """notify_ns: dnsd NOTIFYs the zone's own name servers (the in-zone
    addresses of its apex NS targets, port 53), not the SOA's MNAME, and warns
    about an NS with no address in the zone. NSD, listening on 127.84.0.1:53 as
    ns1's glue says, takes the new serial at once (its SOA refresh is a day);
    a socket on the MNAME's address hears nothing."""

    ZONE = """$ORIGIN ns.test.
$TTL 300
@ IN SOA ns0 hostmaster %d 86400 3600 1209600 300
@ IN NS ns0
@ IN NS ns1
@ IN NS ns.elsewhere.example.
ns0 IN A 127.84.0.2
ns1 IN A 127.84.0.1
www IN A 192.0.2.80
"""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="transfer-notify-ns-")
        self.zone = os.path.join(self.dir, "ns.test.zone")
        with open(self.zone, "w") as f:
            f.write(self.ZONE % 1)
        self.mname = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.mname.bind(("127.84.0.2", 53))
        self.mname.settimeout(0.2)
        os.makedirs(os.path.join(self.dir, "nsd"))
        self.d = Dnsd(zones={"ns.test": self.zone},
                      zone_extra='allow_transfer = ["127.0.0.0/8"]\nnotify_ns = true')
        conf = os.path.join(self.dir, "nsd.conf")
        with open(conf, "w") as f:
            f.write(nsd_conf(53, self.dir, """zone:
  name: ns.test
  zonefile: ns.test.copy
  request-xfr: AXFR 127.0.0.1@%d NOKEY
  allow-notify: 127.0.0.1 NOKEY
""" % self.d.port).replace("ip-address: 127.0.0.1@53", "ip-address: 127.84.0.1@53"))
        self.log = open(os.path.join(self.dir, "nsd.log"), "w")
        self.nsd = subprocess.Popen(["nsd", "-d", "-c", conf], stdout=self.log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def tearDown(self):
        os.killpg(self.nsd.pid, signal.SIGTERM)
        self.nsd.wait(10)
        self.log.close()
        self.mname.close()
        self.d.stop()
        self.d.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def nsd_log(self):
        with open(self.log.name) as f:
            return f.read()[-1500:]

    def serial_at_ns1(self):
        try:
            r = dns.query.udp(dns.message.make_query("ns.test", "SOA"), "127.84.0.1", port=53,
                              timeout=0.5)
            return r.answer[0][0].serial if r.answer else None
        except Exception:
            return None

    def wait_serial(self, want, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline and self.serial_at_ns1() != want:
            time.sleep(0.1)
        return self.serial_at_ns1()

    def test_the_zones_own_name_servers_are_notified(self):
        self.assertEqual(self.wait_serial(1), 1, self.nsd_log())
        self.assertIn("notify_ns: NS ns.elsewhere.example. has no address in the zone",
                      self.d.logtext())
        new = self.zone + ".new"
        with open(new, "w") as f:
            f.write(self.ZONE % 2)
        os.replace(new, self.zone)
        t0 = time.time()
        self.assertEqual(self.wait_serial(2), 2, self.nsd_log())
        print("ns1 (NSD on 127.84.0.1:53) serves serial 2 %.2f s after the rename" % (time.time() - t0))
        deadline = time.time() + 5
        while time.time() < deadline and "serial 2 acknowledged by 127.84.0.1:53" not in self.d.logtext():
            time.sleep(0.1)
        self.assertIn("notify: ns.test. serial 2 acknowledged by 127.84.0.1:53", self.d.logtext())
        self.assertNotIn("127.84.0.2", self.d.logtext())
        # The MNAME (ns0) is the primary itself: never told.
        with self.assertRaises(socket.timeout):
            self.mname.recv(512)



class NotifyRetry(unittest.TestCase):
    """A secondary that does not answer the first NOTIFY gets it again after
    the first backoff step (1 s), under the same message ID (RFC 1996 3.6),
    and dnsd stops once it is acknowledged."""

    def test_unanswered_notify_is_sent_again_until_acknowledged(self):
        sec = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sec.bind(("127.0.0.1", 0))
        sec.settimeout(10)
        port = sec.getsockname()[1]
        d = Dnsd(zone_extra='notify = ["127.0.0.1:%d"]' % port)
        try:
            first, _ = sec.recvfrom(512)  # at startup: not answered
            t0 = time.time()
            again, src = sec.recvfrom(512)
            waited = time.time() - t0
            q1, q2 = dns.message.from_wire(first), dns.message.from_wire(again)
            self.assertEqual(q1.opcode(), dns.opcode.NOTIFY)
            self.assertEqual(q2.opcode(), dns.opcode.NOTIFY)
            self.assertEqual(q1.id, q2.id)
            self.assertEqual(q2.question[0].rdtype, dns.rdatatype.SOA)
            self.assertGreater(waited, 0.7)
            self.assertLess(waited, 3)
            r = dns.message.make_response(q2)
            sec.sendto(r.to_wire(), src)
            deadline = time.time() + 5
            while time.time() < deadline and "acknowledged by 127.0.0.1:%d" % port not in d.logtext():
                time.sleep(0.05)
            self.assertIn("acknowledged by 127.0.0.1:%d" % port, d.logtext())
            # Acknowledged: no third one (the next backoff step would be 2 s).
            sec.settimeout(3)
            with self.assertRaises(socket.timeout):
                sec.recvfrom(512)
        finally:
            sec.close()
            d.stop()
            d.cleanup()


class BigZone(unittest.TestCase):
    N = 100000

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="transfer-big-")
        self.zone = os.path.join(self.dir, "big.test.zone")
        with open(self.zone, "w") as f:
            f.write("$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
                    "@ IN NS ns1\nns1 IN A 192.0.2.1\n")
            for i in range(self.N):
                f.write("h%d IN A 10.%d.%d.%d\n" % (i, i >> 16, (i >> 8) & 255, i & 255))
        self.d = Dnsd(zones={"big.test": self.zone}, zone_extra='allow_transfer = ["127.0.0.0/8"]',
                      server_extra="tcp_idle_timeout_ms = 2000")

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def axfr_time(self, port):
        t0 = time.time()
        r = subprocess.run(["dig", "+onesoa", "-p", str(port), "@127.0.0.1", "big.test", "AXFR"],
                           capture_output=True, text=True, timeout=60)
        return time.time() - t0, [l for l in r.stdout.splitlines() if l and not l.startswith(";")]

    def test_whole_zone_against_nsd_and_readers_that_stop(self):
        secs, lines = self.axfr_time(self.d.port)
        self.assertEqual(len(lines), self.N + 3)  # SOA (once, +onesoa), NS, ns1, the hosts
        self.assertTrue(any(l.startswith("h99999.big.test.") for l in lines))
        # NSD serving the same zone, for the figure.
        nport = free_port()
        os.makedirs(os.path.join(self.dir, "nsd"))
        conf = os.path.join(self.dir, "nsd.conf")
        with open(conf, "w") as f:
            f.write(nsd_conf(nport, self.dir, """zone:
  name: big.test
  zonefile: big.test.zone
  provide-xfr: 127.0.0.1 NOKEY
"""))
        log = open(os.path.join(self.dir, "nsd.log"), "w")
        nsd = subprocess.Popen(["nsd", "-d", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(nport, nsd, log.name)
            nsd_secs, nsd_lines = self.axfr_time(nport)
            self.assertEqual(len(nsd_lines), self.N + 3)
            print("AXFR of %d records: dnsd %.2f s, NSD %.2f s (dig, loopback; dnsd/NSD time %.2f)"
                  % (self.N + 3, secs, nsd_secs, secs / nsd_secs))
        finally:
            nsd.terminate()
            nsd.wait(10)
            log.close()
        # A reader that asks and never reads: dnsd answers everyone else at
        # once, and closes the stalled connection at its idle timeout.
        stalled = socket.create_connection(("127.0.0.1", self.d.port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(axfr_query("big.test"))
        time.sleep(0.3)
        t0 = time.time()
        self.assertEqual(rdatas(self.d.port, "h5.big.test", "A")[1], [(300, "10.0.0.5")])
        self.assertLess(time.time() - t0, 1)
        # One that disconnects mid-transfer.
        gone = socket.create_connection(("127.0.0.1", self.d.port))
        gone.sendall(axfr_query("big.test"))
        gone.recv(1000)
        gone.close()
        deadline = time.time() + 10
        while time.time() < deadline and "tcp_idle_closed\":0" in self.d.ctl_cmd("stats").stdout:
            time.sleep(0.2)
        self.assertRegex(self.d.ctl_cmd("stats").stdout, r'"tcp_idle_closed":[1-9]')
        stalled.close()
        secs, lines = self.axfr_time(self.d.port)
        self.assertEqual(len(lines), self.N + 3)

    def test_a_real_secondary_killed_mid_transfer(self):
        """NSD, as a secondary of dnsd, killed (SIGKILL) while it takes the
        100,003-record zone (the whole process group: NSD's xfrd is a child):
        dnsd keeps serving, and the next transfer gets the whole zone."""
        nport = free_port()
        sub = os.path.join(self.dir, "secondary")
        os.makedirs(os.path.join(sub, "nsd"))
        conf = os.path.join(sub, "nsd.conf")
        with open(conf, "w") as f:
            f.write(nsd_conf(nport, sub, """zone:
  name: big.test
  zonefile: big.test.copy
  request-xfr: AXFR 127.0.0.1@%d NOKEY
  allow-notify: 127.0.0.1 NOKEY
""" % self.d.port))
        log = open(os.path.join(sub, "nsd.log"), "w")
        nsd = subprocess.Popen(["nsd", "-d", "-c", conf], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
        # Killed as soon as dnsd has begun sending it the zone.
        deadline = time.time() + 20
        while time.time() < deadline and "zone transfer (AXFR) of big.test." not in self.d.logtext():
            time.sleep(0.005)
        started = "zone transfer (AXFR) of big.test." in self.d.logtext()
        os.killpg(nsd.pid, signal.SIGKILL)
        nsd.wait(10)
        log.close()
        self.assertTrue(started, self.d.logtext()[-2000:])
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(rdatas(self.d.port, "h5.big.test", "A")[1], [(300, "10.0.0.5")])
        secs, lines = self.axfr_time(self.d.port)
        self.assertEqual(len(lines), self.N + 3)

    def test_a_reload_mid_transfer_changes_nothing_for_it(self):
        """A transfer streams from the snapshot it started on: the zone file
        renamed into place (serial 2, h5 changed, h99999 gone) while a slow
        reader is a few messages in changes nothing it receives."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.d.port))
        s.sendall(axfr_query("big.test"))
        buf = bytearray()

        def message():
            while True:
                if len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                    n = struct.unpack("!H", buf[:2])[0]
                    m = dns.message.from_wire(bytes(buf[2:2 + n]), one_rr_per_rrset=True)
                    del buf[:2 + n]
                    return m
                chunk = s.recv(4096)
                self.assertTrue(chunk, "dnsd closed the transfer")
                buf.extend(chunk)

        records = []
        records += message().answer
        new = self.zone + ".new"
        with open(self.zone) as f, open(new, "w") as out:
            for line in f:
                line = line.replace("hostmaster 1 7200", "hostmaster 2 7200")
                line = line.replace("h5 IN A 10.0.0.5", "h5 IN A 10.99.99.99")
                if not line.startswith("h99999 "):
                    out.write(line)
        os.replace(new, self.zone)
        deadline = time.time() + 60  # a sanitizer build loads 100,000 records slowly
        while time.time() < deadline and rdatas(self.d.port, "h5.big.test", "A")[1] != [(300, "10.99.99.99")]:
            # A message now and then (a few hundred records), so that the
            # idle timeout (2 s) does not close the reader, and most of the
            # zone is still to come when the reload is done.
            records += message().answer
            time.sleep(0.8)
        self.assertEqual(rdatas(self.d.port, "h5.big.test", "A")[1], [(300, "10.99.99.99")])
        at_reload = len(records)
        self.assertLess(at_reload, self.N // 2)  # most of it is still to come
        while not (len(records) > 1 and records[-1].rdtype == dns.rdatatype.SOA):
            records += message().answer
        s.close()
        self.assertEqual(len(records), self.N + 4)  # SOA, NS, ns1, the hosts, SOA
        self.assertEqual([r[0].serial for r in records if r.rdtype == dns.rdatatype.SOA], [1, 1])
        by_name = {r.name.to_text(): r[0].to_text() for r in records if r.rdtype == dns.rdatatype.A}
        self.assertEqual(by_name["h5.big.test."], "10.0.0.5")
        self.assertEqual(by_name["h99999.big.test."], "10.1.134.159")
        # And the next transfer has the new zone.
        secs, lines = self.axfr_time(self.d.port)
        self.assertEqual(len(lines), self.N + 2)


class Tsig(unittest.TestCase):
    """Transfers signed with TSIG (RFC 8945): NSD and Knot with the key
    transfer, every message of a many-message transfer verifies (dig checks
    each), a wrong secret is BADSIG (from dig, and an NSD secondary with the
    wrong secret gets no zone), an unknown key BADKEY, unsigned is refused."""

    def setUp(self):
        import base64
        self.secret = base64.b64encode(os.urandom(32)).decode()
        self.dir = tempfile.mkdtemp(prefix="transfer-tsig-")
        self.zone = os.path.join(self.dir, "big.test.zone")
        with open(self.zone, "w") as f:
            f.write("$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 7200 900 1209600 300\n"
                    "@ IN NS ns1\nns1 IN A 192.0.2.1\n")
            for i in range(5000):  # a few dozen messages
                f.write("h%d IN A 10.0.%d.%d\n" % (i, i >> 8, i & 255))
        self.d = Dnsd(zones={"big.test": self.zone},
                      tail='[[keys]]\nname = "xfr.big.test."\nalgorithm = "hmac-sha256"\nsecret = "%s"\n'
                           % self.secret,
                      zone_extra='allow_transfer = ["127.0.0.1"]\ntransfer_keys = ["xfr.big.test."]')

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def dig(self, *extra):
        return subprocess.run(["dig", "+onesoa", "-p", str(self.d.port), "@127.0.0.1", "big.test", "AXFR"]
                              + list(extra), capture_output=True, text=True, timeout=30).stdout

    def test_signed_queries_get_signed_answers(self):
        """Not only transfers: any signed query (and NOTIFY) is checked against
        the [[keys]] and answered signed; dig verifies the answer's MAC."""
        key = "hmac-sha256:xfr.big.test.:" + self.secret
        for transport in ([], ["+tcp"]):
            out = subprocess.run(["dig", "-p", str(self.d.port), "@127.0.0.1", "h7.big.test", "A",
                                  "-y", key] + transport,
                                 capture_output=True, text=True, timeout=30).stdout
            self.assertIn("status: NOERROR", out)
            self.assertIn("10.0.0.7", out)
            self.assertRegex(out, r"xfr\.big\.test\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\.\s+\d+ 300 32 \S+ \d+ NOERROR 0")
            self.assertNotIn("could not be validated", out)
            self.assertNotIn("Couldn't verify", out)
        import base64
        wrong = base64.b64encode(os.urandom(32)).decode()
        out = subprocess.run(["dig", "-p", str(self.d.port), "@127.0.0.1", "h7.big.test", "A",
                              "-y", "hmac-sha256:xfr.big.test.:" + wrong],
                             capture_output=True, text=True, timeout=30).stdout
        self.assertIn("status: NOTAUTH", out)
        self.assertIn("BADSIG", out)
        self.assertNotIn("10.0.0.7", out)
        # Unsigned queries are answered as ever.
        self.assertEqual(rdatas(self.d.port, "h7.big.test", "A")[1], [(300, "10.0.0.7")])
        stats = json.loads(self.d.ctl_cmd("stats").stdout)
        self.assertGreaterEqual(stats["tsig_signed"], 2, stats)
        self.assertGreaterEqual(stats["tsig_refused"], 1, stats)

    def test_a_clock_outside_the_fudge_is_badtime(self):
        """RFC 8945 5.2.3: a request signed an hour ago (fudge 300 s) gets
        NOTAUTH with BADTIME, signed (so the client can trust it) and with the
        request's own time in it; the same request signed now is answered."""
        from unittest import mock
        import dns.tsig
        import dns.tsigkeyring
        keyring = dns.tsigkeyring.from_text({"xfr.big.test.": ("hmac-sha256", self.secret)})
        q = dns.message.make_query("h7.big.test", "A")
        q.use_tsig(keyring, "xfr.big.test.")
        an_hour_ago = time.time() - 3600
        with mock.patch("time.time", return_value=an_hour_ago):
            wire = q.to_wire()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(wire, ("127.0.0.1", self.d.port))
            answer = s.recv(65535)
        with self.assertRaises(dns.tsig.PeerBadTime):
            dns.message.from_wire(answer, keyring=keyring, request_mac=q.mac)
        # The rcode and the TSIG record, read without verifying.
        (qdcount, ancount, nscount, arcount) = struct.unpack("!4H", answer[4:12])
        self.assertEqual(struct.unpack("!H", answer[2:4])[0] & 0xF, dns.rcode.NOTAUTH)
        self.assertEqual((ancount, nscount, arcount), (0, 0, 1))
        self.assertNotIn(b"\x0a\x00\x00\x07", answer)  # no address leaked
        # Signed now, the same query is answered.
        q = dns.message.make_query("h7.big.test", "A")
        q.use_tsig(keyring, "xfr.big.test.")
        r = dns.query.udp(q, "127.0.0.1", port=self.d.port, timeout=5)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual([rr.to_text() for rr in r.answer[0]], ["10.0.0.7"])
        self.assertTrue(r.had_tsig)

    def test_signed_transfers_and_refusals(self):
        out = self.dig("-y", "hmac-sha256:xfr.big.test.:" + self.secret)
        self.assertNotIn("failed", out)
        self.assertNotIn("tsig", out.lower().replace("tsig\thmac", ""))  # no verify failure line
        m = re.search(r"XFR size: (\d+) records \(messages (\d+)", out)
        self.assertIsNotNone(m, out[-500:])
        self.assertEqual(int(m.group(1)), 5004)  # SOA, NS, ns1, 5,000 hosts, SOA
        self.assertGreater(int(m.group(2)), 3)  # each message signed and checked by dig
        import base64
        wrong = base64.b64encode(os.urandom(32)).decode()
        self.assertIn("BADSIG", self.dig("-y", "hmac-sha256:xfr.big.test.:" + wrong))
        self.assertIn("BADKEY", self.dig("-y", "hmac-sha256:other.:" + self.secret))
        self.assertIn("Transfer failed", self.dig())
        self.assertIn("zone transfer (AXFR, TSIG) of big.test.", self.d.logtext())
        # NSD and Knot as secondaries with the key, and one NSD with the right
        # key name and a wrong secret: it gets nothing.
        def signed_nsd(d, secret):
            port = free_port()
            os.makedirs(os.path.join(d, "nsd"), exist_ok=True)
            conf = os.path.join(d, "nsd.conf")
            with open(conf, "w") as f:
                f.write(nsd_conf(port, d, """key:
  name: xfr.big.test.
  algorithm: hmac-sha256
  secret: "%s"
zone:
  name: big.test
  zonefile: nsd/big.test.zone
  request-xfr: AXFR 127.0.0.1@%d xfr.big.test.
""" % (secret, self.d.port)))
            return ["nsd", "-d", "-c", conf], port

        argv, nport = signed_nsd(self.dir, self.secret)
        peers = [("nsd", argv, nport)]
        wargv, wport = signed_nsd(os.path.join(self.dir, "wrong"),
                                  base64.b64encode(os.urandom(32)).decode())

        def refusals():  # signed SOA queries (tsig_refused) and transfers (axfr_refused)
            st = json.loads(self.d.ctl_cmd("stats").stdout)
            return st["tsig_refused"] + st["axfr_refused"]

        refused_before = refusals()
        if os.path.exists(KNOTD):
            kport = free_port()
            os.makedirs(os.path.join(self.dir, "knot"))
            kconf = os.path.join(self.dir, "knot.conf")
            with open(kconf, "w") as f:
                f.write("""server:
    rundir: "%s/knot"
    listen: 127.0.0.1@%d
database:
    storage: "%s/knot"
key:
  - id: xfr.big.test.
    algorithm: hmac-sha256
    secret: %s
remote:
  - id: primary
    address: 127.0.0.1@%d
    key: xfr.big.test.
template:
  - id: default
    storage: "%s/knot"
zone:
  - domain: big.test
    master: primary
""" % (self.dir, kport, self.dir, self.secret, self.d.port, self.dir))
            peers.append(("knot", [KNOTD, "-c", kconf], kport))
        procs = []
        try:
            for name, argv, port in peers + [("nsd-wrong", wargv, wport)]:
                log = open(os.path.join(self.dir, name + ".log"), "w")
                procs.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT), log))
                wait_port(port, procs[-1][0], log.name)
            for name, argv, port in peers:
                deadline = time.time() + 15
                while time.time() < deadline and rdatas(port, "h4999.big.test", "A")[1] != [(300, "10.0.19.135")]:
                    time.sleep(0.1)
                self.assertEqual(rdatas(port, "h4999.big.test", "A")[1], [(300, "10.0.19.135")], name)
            deadline = time.time() + 10
            while time.time() < deadline and refusals() == refused_before:
                time.sleep(0.1)
            self.assertGreater(refusals(), refused_before)
            rcode, answer = rdatas(wport, "h4999.big.test", "A")
            self.assertEqual(answer, [])  # the wrong secret got no zone
            self.assertNotEqual(rcode, dns.rcode.NOERROR)
        finally:
            for p, log in procs:
                p.terminate()
                p.wait(10)
                log.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
