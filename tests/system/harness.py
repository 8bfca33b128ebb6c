"""Starts the real daemons on temporary sockets and talks to them with plain
Python sockets: an independent client, not the code under test."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

GEOIPD = os.environ.get("GEOIPD", "build/bin/geoipd")
# The daemons refuse to run as root without a user to drop to unless told;
# the tests run as root (CI) or not (a developer): say so only when needed.
ROOT_ARGS = ["--allow-root"] if os.geteuid() == 0 else []
GEOIPCTL = os.environ.get("GEOIPCTL", "build/bin/geoipctl")
TESTDATA = os.environ.get("SIGNPOST_TESTDATA", "build/testdata")
SCRIPTS = os.environ.get("SIGNPOST_SCRIPTS", "scripts")


def read_expected():
    """expected.tsv -> {variant: {address: (prefix, country, continent, asn)}}"""
    out = {"a": {}, "b": {}}
    with open(os.path.join(TESTDATA, "expected.tsv")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            addr, variant, prefix, country, continent, asn = line.rstrip("\n").split("\t")
            out[variant][addr] = (prefix, country or None, continent or None, int(asn) or None)
    return out


def facts(answer):
    return (answer["prefix"], answer["country"], answer["continent"], answer["asn"])


class Geoipd:
    def __init__(self, dbs, extra=(), workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="geoipd-test-")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "geoipd.sock")
        self.log = open(os.path.join(self.dir, "geoipd.log"), "w+")
        args = [GEOIPD, "--socket", self.sock] + ROOT_ARGS
        for db in dbs:
            args += ["--db", db]
        self.proc = subprocess.Popen(args + list(extra), stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("geoipd exited: " + self.logtext())
            try:
                self.connect().close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("geoipd did not start: " + self.logtext())

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def connect(self, timeout=10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.sock)
        return s

    def ask(self, lines, conn=None):
        """Sends every line pipelined, returns one parsed JSON object per line."""
        own = conn is None
        s = conn or self.connect()
        s.sendall("".join(l + "\n" for l in lines).encode())
        answers = read_lines(s, len(lines))
        if own:
            s.close()
        return [json.loads(a) for a in answers]

    def stats(self):
        return self.ask(["stats"])[0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def read_lines(s, n):
    buf = b""
    lines = []
    while len(lines) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed after %d of %d lines" % (len(lines), n))
        buf += chunk
        *done, buf = buf.split(b"\n")
        lines += [d.decode() for d in done]
    assert not buf, "more bytes than answers: %r" % buf[:80]
    return lines


def db(name):
    return os.path.join(TESTDATA, name)


def main():
    unittest.main(verbosity=2)
