"""dnsd and geoipd as services: what they tell the service manager through
NOTIFY_SOCKET (sd_notify), the real protocol over a real datagram socket as
systemd listens to it: READY=1 with a STATUS= line once serving, RELOADING=1
then READY=1 around every reload, WATCHDOG=1 when WATCHDOG_USEC asks for it;
--version on every binary; the unit files pass `systemd-analyze verify`."""
import grp
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from dnsd_harness import DATA, DNSD, DNSDCTL, Dnsd
from harness import GEOIPCTL, GEOIPD, TESTDATA, Geoipd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Notify:
    """A NOTIFY_SOCKET for the daemons started while it is active."""

    def __init__(self, watchdog_usec=None):
        self.dir = tempfile.mkdtemp(prefix="notify-")
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.saved = {k: os.environ.get(k) for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        os.environ["NOTIFY_SOCKET"] = self.path
        if watchdog_usec:
            os.environ["WATCHDOG_USEC"] = str(watchdog_usec)

    def restore_env(self):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def next(self, timeout=10):
        """The next message, as a dict (WATCHDOG=1 messages skipped unless asked)."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if "=" in line)

    def until(self, key, timeout=10):
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            m = self.next(max(0.1, deadline - time.time()))
            seen.append(m)
            if key in m:
                return m, seen
        raise AssertionError("no %s within %s s: %r" % (key, timeout, seen))

    def close(self):
        self.restore_env()
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Dnsd_(unittest.TestCase):
    def test_ready_status_reload_watchdog(self):
        n = Notify(watchdog_usec=400000)
        try:
            d = Dnsd()
            n.restore_env()  # only dnsd gets them
            try:
                m, _ = n.until("READY")
                self.assertEqual(m["READY"], "1")
                self.assertRegex(m["STATUS"], r"^1 zone\(s\), generation 1, no geo table, 0 of 0 node\(s\) up$")
                # The watchdog interval is half of WATCHDOG_USEC.
                t0 = time.time()
                n.until("WATCHDOG", timeout=2)
                n.until("WATCHDOG", timeout=2)
                self.assertLess(time.time() - t0, 1.5)
                d.proc.send_signal(signal.SIGHUP)
                m, _ = n.until("RELOADING")
                self.assertEqual(m["RELOADING"], "1")
                self.assertGreater(int(m["MONOTONIC_USEC"]), 0)
                m, _ = n.until("READY")
                self.assertIn("generation 2", m["STATUS"])
                # A reload asked through dnsdctl is announced the same way.
                self.assertEqual(d.ctl_cmd("reload").returncode, 0)
                n.until("RELOADING")
                m, _ = n.until("READY")
                self.assertIn("generation 3", m["STATUS"])
            finally:
                d.stop()
                d.cleanup()
        finally:
            n.close()


class Geoipd_(unittest.TestCase):
    def test_ready_status_reload(self):
        n = Notify()
        try:
            g = Geoipd([os.path.join(TESTDATA, "city.mmdb")])
            n.restore_env()
            try:
                m, _ = n.until("READY")
                self.assertRegex(m["STATUS"], r"^generation 1, 1 database\(s\), geo table \d+ IPv4 \+ \d+ IPv6 ranges$")
                g.proc.send_signal(signal.SIGHUP)
                n.until("RELOADING")
                m, _ = n.until("READY")
                # Unchanged files: nothing new to publish, still generation 1, and READY again.
                self.assertIn("generation", m["STATUS"])
            finally:
                g.stop()
        finally:
            n.close()


def as_nobody(argv, groups=()):
    """argv run as the user nobody, member of exactly `groups` (gids)."""
    pre = ["setpriv", "--reuid=nobody", "--regid=nogroup"]
    pre += ["--groups=" + ",".join(map(str, groups))] if groups else ["--clear-groups"]
    return subprocess.run(pre + argv, capture_output=True, text=True, timeout=30)


def world_copy(d, path):
    """A copy of binary or file `path` in directory d that any user can read and run
    (the checkout may sit in a directory only root can enter)."""
    out = os.path.join(d, os.path.basename(path))
    shutil.copy(path, out)
    os.chmod(out, 0o755)
    return out


@unittest.skipUnless(os.geteuid() == 0, "switching users needs root")
class Privileges(unittest.TestCase):
    """Who may use the sockets (mode and group), the refusal to run as root
    without a user to drop to, and the drop itself."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="privileges-")
        os.chmod(self.tmp, 0o755)
        self.users = grp.getgrnam("users").gr_gid

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_sockets_admit_their_group_only(self):
        dnsdctl = world_copy(self.tmp, DNSDCTL)
        geoipctl = world_copy(self.tmp, GEOIPCTL)
        d = Dnsd(server_extra='control_socket_mode = "0660"\ncontrol_socket_group = "users"\n')
        g = Geoipd([os.path.join(TESTDATA, "city.mmdb")],
                   extra=["--socket-mode", "0660", "--socket-group", "users"])
        try:
            os.chmod(d.dir, 0o755)
            os.chmod(g.dir, 0o755)
            for path in (d.ctl, g.sock):
                st = os.stat(path)
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o660, path)
                self.assertEqual(st.st_gid, self.users, path)
            # In the group: dnsdctl works, geoipd answers.
            r = as_nobody([dnsdctl, "-s", d.ctl, "zones"], groups=[self.users])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("example.test", r.stdout)
            r = as_nobody([geoipctl, "-s", g.sock, "81.2.69.142"], groups=[self.users])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('"country":"GB"', r.stdout.replace(" ", ""))
            # Outside it: refused at connect, with the reason.
            r = as_nobody([dnsdctl, "-s", d.ctl, "zones"])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("Permission denied", r.stderr)
            r = as_nobody([geoipctl, "-s", g.sock, "81.2.69.142"])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("Permission denied", r.stderr)
            # The owner (root here) still can.
            self.assertEqual(d.ctl_cmd("zones").returncode, 0)
        finally:
            d.stop()
            d.cleanup()
            g.stop()
            g.cleanup()

    def test_bad_mode_and_group_are_refused(self):
        conf = os.path.join(self.tmp, "dnsd.toml")
        for line, want in (('control_socket_mode = "0999"', "octal mode"),
                           ('control_socket_group = "no-such-group-x"', "unknown group 'no-such-group-x'"),
                           ('user = "no-such-user-x"', "unknown user 'no-such-user-x'"),
                           ('user = "root"', "is root"),
                           ('group = "users"', "needs user")):
            with open(conf, "w") as f:
                f.write('[server]\nlisten = ["127.0.0.1:0"]\n%s\n[[zones]]\nname = "example.test"\n'
                        'file = "%s"\n' % (line, os.path.join(DATA, "test.zone")))
            r = subprocess.run([DNSD, "--check-config", "--config", conf], capture_output=True,
                               text=True, timeout=10)
            self.assertEqual(r.returncode, 1, line)
            self.assertIn(conf + ":3:", r.stderr, line)
            self.assertIn(want, r.stderr, line)
        r = subprocess.run([GEOIPD, "--socket", os.path.join(self.tmp, "s"), "--db",
                            os.path.join(TESTDATA, "city.mmdb"), "--socket-mode", "8"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--socket-mode 8", r.stderr)

    def test_root_without_a_user_is_refused(self):
        conf = os.path.join(self.tmp, "dnsd.toml")
        with open(conf, "w") as f:
            f.write('[server]\nlisten = ["127.0.0.1:0"]\n[[zones]]\nname = "example.test"\n'
                    'file = "%s"\n' % os.path.join(DATA, "test.zone"))
        r = subprocess.run([DNSD, "--config", conf], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refusing to run as root", r.stderr)
        self.assertIn("[server] user", r.stderr)
        self.assertIn("--allow-root", r.stderr)
        r = subprocess.run([GEOIPD, "--socket", os.path.join(self.tmp, "s"), "--db",
                            os.path.join(TESTDATA, "city.mmdb")], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refusing to run as root", r.stderr)
        self.assertIn("--user", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "s")))

    def test_a_user_setting_when_not_started_as_root(self):
        # Already that user (a unit's User=): runs. Another user: a clear error.
        dnsd = world_copy(self.tmp, DNSD)
        zone = world_copy(self.tmp, os.path.join(DATA, "test.zone"))
        conf = os.path.join(self.tmp, "dnsd.toml")
        for user, ok in (("nobody", True), ("daemon", False)):
            with open(conf, "w") as f:
                f.write('[server]\nlisten = ["127.0.0.1:0"]\nuser = "%s"\n[[zones]]\n'
                        'name = "example.test"\nfile = "%s"\n' % (user, zone))
            os.chmod(conf, 0o644)
            p = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                  dnsd, "--config", conf], stderr=subprocess.PIPE, text=True)
            try:
                rc = p.wait(2)
            except subprocess.TimeoutExpired:
                rc = None
                p.terminate()
                p.wait(5)
            err = p.stderr.read()
            if ok:
                self.assertIsNone(rc, err)  # still serving after 2 s
            else:
                self.assertEqual(rc, 1, err)
                self.assertIn("not root: cannot become daemon", err)

    def test_drops_to_the_user_after_binding_port_53(self):
        zone = world_copy(self.tmp, os.path.join(DATA, "test.zone"))
        os.chmod(zone, 0o644)
        # Port 53 needs root to bind; a loopback address of its own so that no
        # resolver on this machine is in the way.
        d = Dnsd(zones={"example.test": zone}, listen=("127.0.0.1:0", "127.83.0.1:53"),
                 server_extra='user = "nobody"\ngroup = "nogroup"\n')
        try:
            os.chmod(d.dir, 0o755)
            with open("/proc/%d/status" % d.proc.pid) as f:
                status = f.read()
            self.assertRegex(status, r"\nUid:\s+65534\s+65534\s+65534\s+65534\n")
            self.assertRegex(status, r"\nGid:\s+65534\s+65534\s+65534\s+65534\n")
            self.assertRegex(status, r"\nGroups:\s+65534\s*\n")
            self.assertRegex(status, r"\nCapEff:\s+0+\n")
            self.assertIn("running as user nobody (uid 65534, gid 65534)", d.logtext())
            dig = ["dig", "+norec", "+short", "+time=2", "+tries=2", "-p", "53", "@127.83.0.1"]
            r = subprocess.run(dig + ["www.example.test", "A"], capture_output=True, text=True,
                               timeout=10)
            self.assertTrue(r.stdout.strip(), r.stdout + r.stderr)
            # Reloads read the files as that user.
            with open(zone, "a") as f:
                f.write("dropped 300 IN A 192.0.2.99\n")
            r = d.ctl_cmd("reload")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + d.logtext())
            r = subprocess.run(dig + ["dropped.example.test", "A"], capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(r.stdout.strip(), "192.0.2.99")
        finally:
            d.stop()
            d.cleanup()


class Versions(unittest.TestCase):
    def test_every_binary_has_version(self):
        for b in (DNSD, DNSDCTL, GEOIPD, GEOIPCTL):
            r = subprocess.run([b, "--version"], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"^\w+ \(signpost\) \d+\.\d+\.\d+ \(git ([0-9a-f]{12}|unknown)\)\n$")


class Logs(unittest.TestCase):
    def test_syslog_priorities_when_stderr_is_the_journal(self):
        d = tempfile.mkdtemp(prefix="journal-")
        try:
            path = os.path.join(d, "stderr")
            for journal in (True, False):
                with open(path, "w") as f:
                    st = os.fstat(f.fileno())
                    env = dict(os.environ)
                    env.pop("JOURNAL_STREAM", None)
                    if journal:
                        env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
                    else:  # another file's: not the journal
                        env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino + 1)
                    r = subprocess.run([GEOIPD, "--socket", os.path.join(d, "s"), "--db",
                                        os.path.join(d, "missing.mmdb")], stderr=f, env=env,
                                       timeout=10)
                self.assertNotEqual(r.returncode, 0)
                with open(path) as f:
                    text = f.read()
                if journal:
                    self.assertRegex(text, r"^<3>error: .*missing\.mmdb")
                else:
                    self.assertRegex(text, r"^\d{4}-\d\d-\d\dT[0-9:.]+Z geoipd\[\d+\] error: ")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_dnsd_log_level(self):
        d = tempfile.mkdtemp(prefix="loglevel-")
        try:
            zone = os.path.join(ROOT, "tests", "system", "data", "test.zone")
            for level, info_lines in (("info", True), ("warn", False)):
                conf = os.path.join(d, "dnsd.toml")
                with open(conf, "w") as f:
                    f.write('[server]\nlog_level = "%s"\n[[zones]]\nname = "example.test"\n'
                            'file = "%s"\n' % (level, zone))
                r = subprocess.run([DNSD, "--check-config", "--config", conf], capture_output=True,
                                   text=True, timeout=10)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(" info: zone example.test" in r.stderr, info_lines, r.stderr)
            with open(conf, "w") as f:
                f.write('[server]\nlog_level = "loud"\n')
            r = subprocess.run([DNSD, "--check-config", "--config", conf], capture_output=True,
                               text=True, timeout=10)
            self.assertIn(':2: log_level = "loud": expected "debug", "info", "warn" or "error"',
                          r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Units(unittest.TestCase):
    """packaging/systemd/*.service: valid for systemd, and sandboxed."""

    def units(self, d):
        out = []
        for u in ("dnsd", "geoipd", "redirectd"):
            with open(os.path.join(ROOT, "packaging", "systemd", u + ".service")) as f:
                text = f.read()
            # verify checks that ExecStart= exists: point it at the build.
            text = text.replace("/usr/bin/" + u, os.path.abspath(
                {"dnsd": DNSD, "geoipd": GEOIPD,
                 "redirectd": os.environ.get("REDIRECTD", "build/bin/redirectd")}[u]))
            path = os.path.join(d, u + ".service")
            with open(path, "w") as f:
                f.write(text)
            out.append(path)
        return out

    def test_verify_and_security(self):
        d = tempfile.mkdtemp(prefix="units-")
        try:
            units = self.units(d)
            r = subprocess.run(["systemd-analyze", "verify"] + units, capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for path, most in zip(units, (2.0, 1.0, 2.0)):
                r = subprocess.run(["systemd-analyze", "security", "--offline=true", path],
                                   capture_output=True, text=True, timeout=60)
                m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
                self.assertIsNotNone(m, r.stdout + r.stderr)
                print("%s: systemd-analyze security exposure %s" % (os.path.basename(path), m.group(1)))
                self.assertLessEqual(float(m.group(1)), most)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
