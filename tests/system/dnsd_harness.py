"""Starts the real dnsd on an ephemeral loopback port with a temporary config."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

DNSD = os.environ.get("DNSD", "build/bin/dnsd")
ROOT_ARGS = ["--allow-root"] if os.geteuid() == 0 else []  # (as in harness.py)
DNSDCTL = os.environ.get("DNSDCTL", "build/bin/dnsdctl")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class Dnsd:
    def __init__(self, zones=None, server_extra="", threads=2, tail="",
                 listen=("127.0.0.1:0", "[::1]:0"), zone_extra=""):
        self.dir = tempfile.mkdtemp(prefix="dnsd-test-")
        self.zones = zones or {"example.test": os.path.join(DATA, "test.zone")}
        self.ctl = os.path.join(self.dir, "ctl.sock")
        self.server_extra = server_extra
        self.threads = threads
        self.tail = tail
        self.listen = listen
        self.zone_extra = zone_extra  # more keys for every [[zones]] table
        self.write_config()
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "dnsd.log"), "a+")
        self.log_start = os.path.getsize(self.log.name)
        self.proc = subprocess.Popen([DNSD, "--config", self.config] + ROOT_ARGS, stdout=self.log,
                                     stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            m = re.search(r"listening on (?:127\.0\.0\.1|0\.0\.0\.0):(\d+)", self.logtext())
            if m and "serving with" in self.logtext():
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError("dnsd exited: " + self.logtext())
            time.sleep(0.02)
        raise RuntimeError("dnsd did not start: " + self.logtext())

    def write_config(self, zones=None):
        zones = zones or self.zones
        self.config = os.path.join(self.dir, "dnsd.toml")
        with open(self.config, "w") as f:
            f.write('[server]\nlisten = [%s]\nthreads = %d\n'
                    % (", ".join('"%s"' % a for a in self.listen), self.threads))
            f.write('control_socket = "%s"\n%s\n' % (self.ctl, self.server_extra))
            for name, path in zones.items():
                f.write('[[zones]]\nname = "%s"\nfile = "%s"\n%s\n' % (name, path, self.zone_extra))
            f.write(self.tail)

    def logtext(self):
        """What the running process has logged (a restart starts afresh)."""
        self.log.flush()
        with open(self.log.name) as f:
            f.seek(self.log_start)
            return f.read()

    def restart(self):
        self.stop()
        self.start()

    def ctl_cmd(self, *args):
        return subprocess.run([DNSDCTL, "-s", self.ctl] + list(args), capture_output=True, text=True,
                              timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
