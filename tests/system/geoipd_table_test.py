"""The compiled geo table, as another process sees it: `table` passes a sealed
memfd whose bytes parse per docs/geo-table.md (read here by an independent
Python reader) and answer as the line protocol does; `subscribe` pushes each
new generation on the same connection and nothing for a refused database;
--export-table writes the same image."""
import bisect
import fcntl
import ipaddress
import json
import mmap
import os
import random
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from harness import GEOIPCTL, GEOIPD, SCRIPTS, Geoipd, db, main, read_expected

INSTALL = os.path.join(SCRIPTS, "install-geodb")

# docs/geo-table.md, "Header".
HEADER = struct.Struct("<8sIIQQQIIIIQQQQQQQ16s")
FACT = struct.Struct("<II2s2sIIIdd")
MASK64 = (1 << 64) - 1
IPV4_ALIAS = 0x80000000  # an IPv6 range's fact index with this bit: an IPv4 alias


def table_checksum(data):
    h = 0x5349474E504F5354
    for off in range(0, len(data) - len(data) % 8, 8):
        w = 0 if off == 104 else int.from_bytes(data[off:off + 8], "little")
        x = h ^ w
        x = ((x << 29) | (x >> 35)) & MASK64
        h = ((x + off) * 0x9E3779B97F4A7C15) & MASK64
    return h ^ (h >> 32) ^ len(data)


class Table:
    """A reader written from docs/geo-table.md alone."""

    def __init__(self, data):
        self.data = data
        (magic, self.version, header_size, self.generation, self.built, total, n4, n6, nf,
         strings_size, v4s, v4f, v6s, v6f, facts, strings, self.checksum, _) = \
            HEADER.unpack_from(data, 0)
        assert magic == b"SPGEOTBL", magic
        assert self.version == 2 and header_size == 128
        assert total == len(data) and total % 8 == 0
        assert self.checksum == table_checksum(data), "checksum"
        self.n4, self.n6, self.nf = n4, n6, nf
        self.v4_starts = list(struct.unpack_from("<%dI" % n4, data, v4s))
        self.v4_facts = list(struct.unpack_from("<%dI" % n4, data, v4f))
        halves = struct.unpack_from("<%dQ" % (2 * n6), data, v6s)
        self.v6_starts = [(halves[2 * i] << 64) | halves[2 * i + 1] for i in range(n6)]
        self.v6_facts = list(struct.unpack_from("<%dI" % n6, data, v6f))
        self.facts = []
        for i in range(nf):
            flags, asn, cc, cont, org_len, org_off, radius, lat, lon = \
                FACT.unpack_from(data, facts + 40 * i)
            assert org_off + org_len <= strings_size
            org = data[strings + org_off:strings + org_off + org_len].decode()
            loc = bool(flags & 2)
            self.facts.append({
                "found": bool(flags & 1),
                "country": cc.decode() if cc != b"\0\0" else None,
                "continent": cont.decode() if cont != b"\0\0" else None,
                "asn": asn or None,
                "as_org": org or None,
                "latitude": lat if loc else None,
                "longitude": lon if loc else None,
                "accuracy_radius": (radius or None) if loc else None,
            })
        for starts, fidx in ((self.v4_starts, self.v4_facts), (self.v6_starts, self.v6_facts)):
            assert starts[0] == 0
            assert all(a < b for a, b in zip(starts, starts[1:]))
        assert all(f < nf for f in self.v4_facts)
        self.aliases = 0
        for i, f in enumerate(self.v6_facts):
            if not f & IPV4_ALIAS:
                assert f < nf
                continue
            # An IPv4 alias: exactly the prefix of length d = the low 7 bits.
            d = f & 0x7F
            assert f & ~(IPV4_ALIAS | 0x7F) == 0 and d <= 96, hex(f)
            size = 1 << (128 - d)
            end = self.v6_starts[i + 1] if i + 1 < n6 else 1 << 128
            assert self.v6_starts[i] % size == 0 and end - self.v6_starts[i] == size
            self.aliases += 1

    def lookup(self, text):
        ip = ipaddress.ip_address(text)
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped  # IPv4-mapped: the IPv4 table
        starts, fidx, bits = ((self.v4_starts, self.v4_facts, 32) if ip.version == 4
                              else (self.v6_starts, self.v6_facts, 128))
        x = int(ip)
        i = bisect.bisect_right(starts, x) - 1
        lo = starts[i]
        hi = starts[i + 1] - 1 if i + 1 < len(starts) else (1 << bits) - 1
        for length in range(bits + 1):  # the widest network around x inside [lo, hi]
            size = 1 << (bits - length)
            first = x & ~(size - 1)
            if first >= lo and first + size - 1 <= hi:
                break
        if bits == 128 and fidx[i] & IPV4_ALIAS:
            # The facts of the IPv4 address in the 32 bits after the alias's
            # d bits; the prefix is d plus that IPv4 lookup's prefix length.
            d = fidx[i] & 0x7F
            inner = self.lookup(str(ipaddress.IPv4Address((x >> (96 - d)) & 0xFFFFFFFF)))
            length = d + int(inner["prefix"].split("/")[1])
            first = x & ~((1 << (128 - length)) - 1)
            answer = inner
        else:
            answer = dict(self.facts[fidx[i]])
        answer["ip"] = str(ip)
        answer["prefix"] = str(ipaddress.ip_network((first, length)))
        answer["generation"] = self.generation
        return answer


def recv_line_with_fds(s, buf=b""):
    """Reads until a full line is buffered; returns (line, fds received, rest)."""
    fds = []
    while b"\n" not in buf:
        data, got, _flags, _addr = socket.recv_fds(s, 65536, 4)
        if not data:
            raise EOFError("connection closed")
        buf += data
        fds += got
    line, _, rest = buf.partition(b"\n")
    return json.loads(line), fds, rest


def read_fd(fd):
    size = os.fstat(fd).st_size
    with mmap.mmap(fd, size, prot=mmap.PROT_READ) as m:
        return bytes(m)


def sealed(fd):
    want = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK
    return fcntl.fcntl(fd, fcntl.F_GET_SEALS) & want == want


def comparable(answer):
    keys = ("ip", "prefix", "found", "country", "continent", "asn", "as_org", "latitude",
            "longitude", "accuracy_radius", "generation")
    out = {k: answer[k] for k in keys}
    # Compared as addresses: geoipd writes IPv4-compatible ones as ::a.b.c.d.
    out["ip"] = ipaddress.ip_address(out["ip"])
    out["prefix"] = ipaddress.ip_network(out["prefix"])
    return out


def normalized(image):
    """The image with its compile time (and so its checksum) zeroed: the only
    bytes two compiles of the same databases and generation may differ in."""
    return image[:24] + bytes(8) + image[32:104] + bytes(8) + image[112:]


class TableProtocol(unittest.TestCase):
    def setUp(self):
        d = tempfile.mkdtemp(prefix="geoipd-table-")
        self.live = os.path.join(d, "live.mmdb")
        subprocess.run([INSTALL, db("city.mmdb"), self.live], check=True)
        self.g = Geoipd([self.live, db("asn.mmdb")], extra=["--debounce-ms", "20"], workdir=d)
        self.fds = []

    def tearDown(self):
        for fd in self.fds:
            os.close(fd)
        self.g.stop()
        self.g.cleanup()

    def table_over(self, s, rest=b""):
        msg, fds, rest = recv_line_with_fds(s, rest)
        self.fds += fds
        self.assertIn("table", msg, msg)
        self.assertEqual(len(fds), 1, msg)
        self.assertTrue(sealed(fds[0]), "the memfd is not sealed")
        image = read_fd(fds[0])
        t = Table(image)
        info = msg["table"]
        self.assertEqual(info["generation"], t.generation)
        self.assertEqual(info["size"], len(image))
        self.assertEqual(info["v4_ranges"], t.n4)
        self.assertEqual(info["v6_ranges"], t.n6)
        self.assertEqual(info["facts"], t.nf)
        self.assertEqual(info["checksum"], "%016x" % t.checksum)
        return t, image, rest

    def wait_stats(self, key, value, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.g.stats()[key] >= value:
                return
            time.sleep(0.01)
        self.fail("%s never reached %d: %s" % (key, value, self.g.logtext()[-2000:]))

    def test_table_fd_parses_and_agrees_with_the_line_protocol(self):
        s = self.g.connect()
        s.sendall(b"table\n")
        t, image, _ = self.table_over(s)
        self.assertEqual(t.generation, 1)
        addrs = list(read_expected()["a"])
        rng = random.Random(5)
        addrs += [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(300)]
        addrs += ["10.%d.%d.%d" % (rng.randrange(3), rng.randrange(256), rng.randrange(256))
                  for _ in range(200)]
        addrs += ["172.%d.%d.1" % (16 + rng.randrange(8), rng.randrange(256)) for _ in range(200)]
        addrs += [str(ipaddress.IPv6Address((0x20010db8 << 96) | rng.getrandbits(80)))
                  for _ in range(200)]
        addrs += ["::ffff:10.1.2.3", "2002:a01:203::1", "::", "ffff::1", "0.0.0.0"]
        # ::/96 is an IPv4 alias in the test databases (IPv4-compatible addresses).
        self.assertGreaterEqual(t.aliases, 1)
        addrs += ["::10.1.2.3", "::81.2.69.142", "::8.8.8.8", "::1", "::1:0:0",
                  "::ffff:ffff:ffff", "::1:0:0:0"]
        addrs += [str(ipaddress.IPv6Address(rng.getrandbits(32))) for _ in range(100)]
        answers = self.g.ask(addrs, conn=s)
        for addr, ans in zip(addrs, answers):
            self.assertEqual(comparable(t.lookup(addr)), comparable(ans), addr)
        st = self.g.stats()
        self.assertEqual(st["table_generation"], 1)
        self.assertEqual(st["table_v4_ranges"], t.n4)
        self.assertEqual(st["table_requests"], 1)
        info = self.g.ask(["info"])[0]
        self.assertEqual(info["table"]["checksum"], "%016x" % t.checksum)
        s.close()

        # --export-table on the same databases: the same image (generation 1).
        out = os.path.join(self.g.dir, "export.tbl")
        r = subprocess.run([GEOIPD, "--export-table", out, "--db", self.live, "--db",
                            db("asn.mmdb")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("geo table generation 1", r.stdout)
        self.assertFalse(os.path.exists(out + ".tmp"))
        with open(out, "rb") as f:
            exported = f.read()
        Table(exported)  # its own checksum holds
        self.assertEqual(normalized(exported), normalized(image))

        # geoipctl table: receives, validates and describes the same table.
        r = subprocess.run([GEOIPCTL, "-s", self.g.sock, "table"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["checksum"], "%016x" % t.checksum)

    def test_pipelined_table_request_between_lookups(self):
        s = self.g.connect()
        s.sendall(b"8.8.8.8\ntable\n10.1.2.3\ntable\n")
        lines, fds, buf = [], [], b""
        while len(lines) < 4:
            data, got, _, _ = socket.recv_fds(s, 65536, 4)
            self.assertTrue(data)
            fds += got
            buf += data
            *done, buf = buf.split(b"\n")
            lines += [json.loads(d) for d in done]
        self.fds += fds
        self.assertEqual(len(fds), 2)
        self.assertFalse(lines[0]["found"])
        self.assertIn("table", lines[1])
        self.assertEqual(lines[2]["country"], "FR")
        self.assertIn("table", lines[3])
        s.close()

    def test_fds_survive_partial_writes_and_deep_pipelines(self):
        # Far more output than the socket buffers hold: the server writes in
        # pieces and pauses input, and each fd must still come, once, in order.
        s = self.g.connect()
        block = "".join("10.1.%d.%d\n" % (i // 256 % 256, i % 256) for i in range(20000))
        request = (block + "table\n") * 3 + block
        sender = threading.Thread(target=lambda: s.sendall(request.encode()))
        sender.start()
        time.sleep(0.3)  # let the server fill its buffers before anything is read
        lines, fds, buf = [], [], b""
        while len(lines) < 80003:
            data, got, _, _ = socket.recv_fds(s, 4096, 4)
            self.assertTrue(data)
            fds += got
            buf += data
            *done, buf = buf.split(b"\n")
            lines += done
        sender.join()
        self.fds += fds
        self.assertEqual(len(fds), 3)
        tables = [i for i, l in enumerate(lines) if l.startswith(b'{"table"')]
        self.assertEqual(tables, [20000, 40001, 60002])
        for fd in fds:
            self.assertTrue(sealed(fd))
            self.assertEqual(Table(read_fd(fd)).generation, 1)
        self.assertGreater(self.g.stats()["reads_paused"], 0)
        s.close()

    def test_subscribe_pushes_new_generations_and_nothing_for_refused_files(self):
        s = self.g.connect()
        s.sendall(b"subscribe\n")
        t1, _, rest = self.table_over(s)
        self.assertEqual(t1.generation, 1)
        self.assertEqual(t1.lookup("10.1.2.3")["country"], "FR")

        # A new database renamed into place: generation 2 is pushed, unasked.
        subprocess.run([INSTALL, db("city-b.mmdb"), self.live], check=True)
        s.settimeout(10)
        t2, _, rest = self.table_over(s, rest)
        self.assertEqual(t2.generation, 2)
        self.assertEqual(t2.lookup("10.1.2.3")["country"], "ES")
        # Lookups on the subscribed connection still work.
        s.sendall(b"10.1.2.3\n")
        ans, fds, rest = recv_line_with_fds(s, rest)
        self.assertEqual(fds, [])
        self.assertEqual(ans["country"], "ES")
        self.assertEqual(ans["generation"], 2)

        # A broken database renamed into place: refused, no push, old table serves.
        with open(db("city.mmdb"), "rb") as f:
            data = f.read()
        broken = os.path.join(self.g.dir, "incoming.mmdb")
        with open(broken, "wb") as f:
            f.write(data[: len(data) // 2])
        os.rename(broken, self.live)
        self.wait_stats("reload_failures", 1)
        s.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            got = socket.recv_fds(s, 65536, 4)
            self.fail("pushed after a refused reload: %r" % (got,))
        s.settimeout(10)
        s.sendall(b"table\n")
        t3, _, rest = self.table_over(s, rest)
        self.assertEqual(t3.generation, 2)
        self.assertEqual(t3.checksum, t2.checksum)
        self.assertEqual(self.g.ask(["10.1.2.3"])[0]["country"], "ES")

        # And a good file afterwards is pushed again.
        subprocess.run([INSTALL, db("city.mmdb"), self.live], check=True)
        t4, _, rest = self.table_over(s, rest)
        self.assertEqual(t4.generation, 3)
        self.assertEqual(t4.lookup("10.1.2.3")["country"], "FR")
        st = self.g.stats()
        self.assertEqual(st["subscribe_requests"], 1)
        self.assertEqual(st["table_pushes"], 2)
        self.assertIn("geo table generation 3", self.g.logtext())
        s.close()

    def test_subscriber_that_never_reads_is_closed_not_pinned(self):
        lazy = self.g.connect()
        lazy.sendall(b"subscribe\n")
        self.wait_stats("subscribe_requests", 1)
        for i in range(6):
            src = db("city-b.mmdb") if i % 2 == 0 else db("city.mmdb")
            subprocess.run([INSTALL, src, self.live], check=True)
            self.wait_stats("generation", i + 2)
            time.sleep(0.05)  # the push happens on the worker, after the publish
        # Four pushes left unread, then the fifth is refused: closed, with a log
        # line, instead of pinning one table image per generation.
        st = self.g.stats()
        self.assertEqual(st["table_pushes"], 4)
        self.assertEqual(st["subscribers_dropped"], 1)
        self.assertIn("closing table subscriber", self.g.logtext())
        # What it was sent is still there to read, then the end.
        gens, rest = [], b""
        try:
            while True:
                t, _, rest = self.table_over(lazy, rest)
                gens.append(t.generation)
        except EOFError:
            pass
        self.assertEqual(gens, [1, 2, 3, 4, 5])
        self.assertEqual(self.g.ask(["10.1.2.3"])[0]["generation"], 7)
        lazy.close()

if __name__ == "__main__":
    main()
