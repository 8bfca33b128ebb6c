"""dnsd answers correctly: every protocol bullet of the DNS core, checked with
dnspython (an independent decoder) and with dig and kdig."""
import json
import os
import re
import socket
import struct
import subprocess
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from dnsd_harness import Dnsd

T = 2.0


class Protocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Dnsd()
        cls.addr = ("127.0.0.1", cls.d.port)

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0
        cls.d.cleanup()

    def q(self, name, rdtype="A", tcp=False, **kw):
        m = dns.message.make_query(name, rdtype, **kw)
        fn = dns.query.tcp if tcp else dns.query.udp
        return fn(m, "127.0.0.1", port=self.d.port, timeout=T)

    def raw(self, payload, expect_answer=True):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.5 if not expect_answer else T)
        s.sendto(payload, self.addr)
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            data = None
        s.close()
        return data

    def rrs(self, section, rdtype=None):
        out = []
        for rrset in section:
            if rdtype is None or rrset.rdtype == dns.rdatatype.from_text(rdtype):
                out += [(rrset.name.to_text(), rrset.ttl, r.to_text()) for r in rrset]
        return sorted(out)

    # --- authoritative answers, flags -------------------------------------
    def test_aa_ra_and_rd_copied(self):
        r = self.q("www.example.test", "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.flags & dns.flags.AA)
        self.assertFalse(r.flags & dns.flags.RA)
        self.assertTrue(r.flags & dns.flags.RD)  # make_query sets RD; it is copied
        self.assertEqual(self.rrs(r.answer), [("www.example.test.", 3600, "192.0.2.80")])
        m = dns.message.make_query("www.example.test", "AAAA")
        m.flags &= ~dns.flags.RD
        r = dns.query.udp(m, "127.0.0.1", port=self.d.port, timeout=T)
        self.assertFalse(r.flags & dns.flags.RD)
        self.assertEqual(self.rrs(r.answer), [("www.example.test.", 3600, "2001:db8::80")])

    def test_nxdomain_with_soa_and_negative_ttl(self):
        r = self.q("nope.example.test")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertTrue(r.flags & dns.flags.AA)
        soa = self.rrs(r.authority, "SOA")
        self.assertEqual(len(soa), 1)
        self.assertEqual(soa[0][1], 300)  # RFC 2308: min(SOA TTL 3600, MINIMUM 300)
        self.assertEqual(r.answer, [])

    def test_nodata_with_soa(self):
        r = self.q("mail.example.test", "AAAA")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(r.answer, [])
        self.assertEqual(len(self.rrs(r.authority, "SOA")), 1)

    def test_empty_non_terminal_is_nodata(self):
        for name in ("ent.example.test", "b.ent.example.test"):
            r = self.q(name)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR, name)
            self.assertEqual(r.answer, [])
            self.assertEqual(len(self.rrs(r.authority, "SOA")), 1)
        self.assertEqual(self.q("c.b.ent.example.test").rcode(), dns.rcode.NXDOMAIN)

    # --- CNAME ------------------------------------------------------------
    def test_cname_chain_followed_in_zone(self):
        r = self.q("chain1.example.test")
        self.assertEqual([x.rdtype for x in r.answer],
                         [dns.rdatatype.CNAME, dns.rdatatype.CNAME, dns.rdatatype.A])
        self.assertEqual(self.rrs(r.answer, "A"), [("www.example.test.", 3600, "192.0.2.80")])

    def test_cname_out_of_zone_left_to_resolver(self):
        r = self.q("outside.example.test")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(self.rrs(r.answer), [("outside.example.test.", 3600, "www.example.org.")])

    def test_cname_to_missing_name_is_nxdomain(self):
        r = self.q("dangling.example.test")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)  # RFC 6604: the last name's rcode
        self.assertEqual(len(self.rrs(r.answer, "CNAME")), 1)

    def test_cname_loop_terminates(self):
        r = self.q("loop1.example.test")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertLessEqual(len(r.answer), 8)
        self.assertGreaterEqual(len(r.answer), 2)

    def test_cname_query_returns_cname_only(self):
        r = self.q("alias.example.test", "CNAME")
        self.assertEqual(self.rrs(r.answer), [("alias.example.test.", 3600, "www.example.test.")])

    # --- wildcards (RFC 4592) --------------------------------------------
    def test_wildcard_synthesis(self):
        r = self.q("foo.wild.example.test")
        self.assertEqual(self.rrs(r.answer), [("foo.wild.example.test.", 3600, "192.0.2.99")])
        r = self.q("x.y.wild.example.test", "TXT")
        self.assertEqual(self.rrs(r.answer), [("x.y.wild.example.test.", 3600, '"wildcard"')])
        r = self.q("exists.wild.example.test")  # an existing name is not covered
        self.assertEqual(self.rrs(r.answer), [("exists.wild.example.test.", 3600, "192.0.2.98")])
        r = self.q("sub.exists.wild.example.test")  # closest encloser exists.wild has no wildcard
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        r = self.q("foo.wild.example.test", "AAAA")  # wildcard NODATA
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(r.answer, [])

    # --- delegation -------------------------------------------------------
    def test_referral(self):
        for name in ("child.example.test", "www.child.example.test"):
            r = self.q(name)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertFalse(r.flags & dns.flags.AA, name)
            self.assertEqual(r.answer, [])
            self.assertEqual(self.rrs(r.authority, "NS"),
                             [("child.example.test.", 3600, "ns.child.example.test."),
                              ("child.example.test.", 3600, "ns.other.example.")])
            self.assertEqual(self.rrs(r.additional),
                             [("ns.child.example.test.", 3600, "192.0.2.200"),
                              ("ns.child.example.test.", 3600, "2001:db8::200")])

    def test_ds_at_cut_answered_by_parent(self):
        r = self.q("child.example.test", "DS")
        self.assertTrue(r.flags & dns.flags.AA)
        self.assertEqual(r.answer, [])
        self.assertEqual(len(self.rrs(r.authority, "SOA")), 1)

    # --- refusal and malformed input -------------------------------------
    def test_refused_outside_zones(self):
        for name in ("example.org", "test", "."):
            r = self.q(name)
            self.assertEqual(r.rcode(), dns.rcode.REFUSED, name)
            self.assertFalse(r.flags & dns.flags.AA)
            self.assertFalse(r.flags & dns.flags.RA)
            self.assertEqual(r.answer + r.authority, [])

    def header(self, qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
        return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)

    QUESTION = b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"

    def rcode_of(self, data):
        return struct.unpack("!H", data[2:4])[0] & 0xF

    def test_formerr_cases(self):
        cases = {
            "qdcount 0": self.header(qd=0),
            "qdcount 2": self.header(qd=2) + self.QUESTION * 2,
            "truncated question": self.header() + self.QUESTION[:7],
            "missing qclass": self.header() + self.QUESTION[:-2],
            "label over 63": self.header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",
            "pointer in qname": self.header() + b"\x03www\xc0\x0c\x00\x01\x00\x01",
            "ancount set": self.header(an=1) + self.QUESTION,
            "arcount past end": self.header(ar=1) + self.QUESTION,
            "two OPTs": self.header(ar=2) + self.QUESTION + (b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00" * 2),
            "OPT not at root": self.header(ar=1) + self.QUESTION + b"\x01a\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00",
            "OPT option overruns": self.header(ar=1) + self.QUESTION + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x04\x00\x0a\x00\x09",
            "trailing garbage": self.header() + self.QUESTION + b"\x00\x00",
            "name over 255": self.header() + (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01",
        }
        for what, pkt in cases.items():
            data = self.raw(pkt)
            self.assertIsNotNone(data, what)
            self.assertEqual(self.rcode_of(data), dns.rcode.FORMERR, what)
            self.assertEqual(data[:2], b"\x12\x34", what)
            self.assertTrue(data[2] & 0x80, what)  # QR

    def test_responses_and_runts_are_never_answered(self):
        self.assertIsNone(self.raw(self.header(flags=0x8000) + self.QUESTION, expect_answer=False))
        self.assertIsNone(self.raw(b"\x12\x34\x01", expect_answer=False))

    def test_other_opcodes_notimp(self):
        # NOTIFY is answered (secondary zones take it from their primaries):
        # for a name that is no zone apex here NOTAUTH, for a zone dnsd is the
        # primary of REFUSED.
        data = self.raw(self.header(flags=dns.opcode.NOTIFY << 11) + self.QUESTION)
        self.assertEqual(self.rcode_of(data), dns.rcode.NOTAUTH)
        self.assertEqual((data[2] >> 3) & 0xF, dns.opcode.NOTIFY)
        m = dns.message.make_query("example.test", "SOA")
        m.set_opcode(dns.opcode.NOTIFY)
        self.assertEqual(dns.query.udp(m, "127.0.0.1", port=self.d.port, timeout=3).rcode(),
                         dns.rcode.REFUSED)
        for opcode in (dns.opcode.UPDATE, dns.opcode.IQUERY, dns.opcode.STATUS):
            data = self.raw(self.header(flags=opcode << 11) + self.QUESTION)
            self.assertEqual(self.rcode_of(data), dns.rcode.NOTIMP, opcode)
            self.assertEqual((data[2] >> 3) & 0xF, opcode)

    def test_classes(self):
        r = self.q("www.example.test", "A", rdclass="CH")
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)
        r = self.q("version.bind", "TXT", rdclass="CH")
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)
        r = self.q("www.example.test", "A", rdclass="ANY")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)

    def test_axfr_refused(self):
        r = self.q("example.test", "AXFR", tcp=True)
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)

    # --- EDNS -------------------------------------------------------------
    def test_edns_echo_payload_do_and_unknown_options(self):
        opt = dns.edns.GenericOption(65001, b"hello")
        r = self.q("www.example.test", use_edns=0, payload=4096, want_dnssec=True, options=[opt])
        self.assertEqual(r.edns, 0)
        self.assertEqual(r.payload, 1232)
        self.assertTrue(r.ednsflags & dns.flags.DO)
        self.assertEqual(len(r.options), 0)  # unknown options are not echoed
        r = self.q("www.example.test", use_edns=0)
        self.assertFalse(r.ednsflags & dns.flags.DO)
        r = self.q("www.example.test", use_edns=False)
        self.assertEqual(r.edns, -1)  # no OPT asked, none given

    def test_badvers(self):
        m = dns.message.make_query("www.example.test", "A")
        m.use_edns(edns=1)  # (use_edns=1 would mean True, i.e. version 0, to dnspython)
        self.assertEqual(m.edns, 1)
        r = dns.query.udp(m, "127.0.0.1", port=self.d.port, timeout=T)
        self.assertEqual(r.rcode(), dns.rcode.BADVERS)
        self.assertEqual(r.edns, 0)
        self.assertEqual(r.answer, [])

    def test_ecs_static_answer_scope_zero_and_malformed_ecs(self):
        ecs = dns.edns.ECSOption("198.51.100.0", 24)
        r = self.q("www.example.test", use_edns=0, options=[ecs])
        got = [o for o in r.options if o.otype == dns.edns.ECS]
        self.assertEqual(len(got), 1)
        self.assertEqual((got[0].address, got[0].srclen, got[0].scopelen), ("198.51.100.0", 24, 0))
        for what, body in {"bad family": b"\x00\x03\x18\x00\xc6\x33\x64",
                           "source too long": b"\x00\x01\x21\x00\xc6\x33\x64\x00\x00",
                           "bits past prefix": b"\x00\x01\x18\x00\xc6\x33\x64\x01",
                           "wrong length": b"\x00\x01\x18\x00\xc6\x33"}.items():
            opt = struct.pack("!HH", 8, len(body)) + body
            pkt = (self.header(ar=1) + self.QUESTION + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00" +
                   struct.pack("!H", len(opt)) + opt)
            self.assertEqual(self.rcode_of(self.raw(pkt)), dns.rcode.FORMERR, what)

    # --- size, truncation, TCP -------------------------------------------
    def test_truncation_and_tcp_fallback(self):
        r = self.q("big.example.test", "TXT", use_edns=False)
        self.assertTrue(r.flags & dns.flags.TC)
        self.assertEqual(r.answer, [])
        r = self.q("big.example.test", "TXT", use_edns=0, payload=512)
        self.assertTrue(r.flags & dns.flags.TC)
        r = self.q("big.example.test", "TXT", use_edns=0, payload=1232)
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertEqual(len(self.rrs(r.answer)), 6)
        r = self.q("big.example.test", "TXT", tcp=True, use_edns=False)
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertEqual(len(self.rrs(r.answer)), 6)

    def test_any_rfc8482(self):
        r = self.q("example.test", "ANY")
        self.assertEqual(self.rrs(r.answer), [("example.test.", 300, '"RFC8482" ""')])
        self.assertEqual(self.q("nope.example.test", "ANY").rcode(), dns.rcode.NXDOMAIN)

    def test_case_preserved_and_compression(self):
        m = dns.message.make_query("WwW.ExAmPlE.tEsT", "A", use_edns=False)
        wire = m.to_wire()
        data = self.raw(wire)
        self.assertEqual(data[12:12 + len(wire) - 12], wire[12:])  # question verbatim
        r = dns.message.from_wire(data)
        self.assertEqual(r.question[0].name.to_text(), "WwW.ExAmPlE.tEsT.")
        self.assertIn(b"\xc0\x0c", data[len(wire):])  # the answer's owner points at the question
        # An MX answer compresses its exchange name against the question too.
        data = self.raw(dns.message.make_query("example.test", "MX", use_edns=False).to_wire())
        self.assertNotIn(b"\x07example\x04test", data[30:])

    def test_tcp_pipelined_in_order(self):
        names = ["www.example.test", "mail.example.test", "nope.example.test", "alias.example.test"]
        msgs = [dns.message.make_query(n, "A", id=i + 1) for i, n in enumerate(names)]
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=T)
        s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in (m.to_wire() for m in msgs)))
        got = []
        buf = b""
        while len(got) < len(msgs):
            buf += s.recv(65535)
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                got.append(dns.message.from_wire(buf[2:2 + n]))
                buf = buf[2 + n:]
        s.close()
        self.assertEqual([g.id for g in got], [1, 2, 3, 4])
        self.assertEqual(got[2].rcode(), dns.rcode.NXDOMAIN)

    def test_ipv6_listener(self):
        m = dns.message.make_query("www.example.test", "AAAA")
        v6port = self.d.port
        import re
        ports = re.findall(r"listening on \[::1\]:(\d+)", self.d.logtext())
        if ports:
            v6port = int(ports[0])
        r = dns.query.udp(m, "::1", port=v6port, timeout=T)
        self.assertEqual(self.rrs(r.answer), [("www.example.test.", 3600, "2001:db8::80")])

    def test_dig_and_kdig(self):
        out = subprocess.run(["dig", "+norec", "+time=2", "+tries=1", "-p", str(self.d.port), "@127.0.0.1",
                              "chain1.example.test", "A"], capture_output=True, text=True).stdout
        self.assertIn("status: NOERROR", out)
        self.assertRegex(out, r"flags: qr aa;")
        self.assertRegex(out, r"www\.example\.test\.\s+3600\s+IN\s+A\s+192\.0\.2\.80")
        out = subprocess.run(["kdig", "+norec", "+tcp", "+time=2", "-p", str(self.d.port), "@127.0.0.1",
                              "big.example.test", "TXT"], capture_output=True, text=True).stdout
        self.assertIn("NOERROR", out)
        answer = out.split("ANSWER SECTION:")[1]
        self.assertEqual(answer.count("IN\tTXT"), 6, out)


class Nsid(unittest.TestCase):
    """EDNS NSID (RFC 5001): the configured identifier, to clients that ask,
    as dig and kdig show it; changed by a reload."""

    def test_nsid_with_dig_and_kdig_and_reload(self):
        d = Dnsd(server_extra='nsid = "dns1.fra"')
        try:
            def dig(*extra):
                return subprocess.run(["dig", "+norec", "+time=2", "+tries=1", "-p", str(d.port), "@127.0.0.1",
                                       "www.example.test", "A"] + list(extra),
                                      capture_output=True, text=True).stdout
            out = dig("+nsid")
            self.assertIn("status: NOERROR", out)
            self.assertIn('NSID: 64 6e 73 31 2e 66 72 61 ("dns1.fra")', out)
            self.assertNotIn("NSID", dig())  # not asked: not sent
            out = subprocess.run(["kdig", "+norec", "+nsid", "+time=2", "-p", str(d.port), "@127.0.0.1",
                                  "www.example.test", "A"], capture_output=True, text=True).stdout
            self.assertRegex(out, r"NSID: 646E73312E667261 \"dns1\.fra\"")
            # Over TCP too, and a reload changes it at once.
            with open(d.config) as f:
                text = f.read().replace('nsid = "dns1.fra"', 'nsid = "dns2.ams"')
            with open(d.config + ".tmp", "w") as f:
                f.write(text)
            os.replace(d.config + ".tmp", d.config)
            self.assertEqual(d.ctl_cmd("reload").returncode, 0)
            self.assertIn('("dns2.ams")', dig("+nsid", "+tcp"))
        finally:
            d.stop()
            d.cleanup()


class Cookies(unittest.TestCase):
    """DNS Cookies (RFC 7873) with RFC 9018 server cookies, as dig and kdig
    see them; a fleet sharing cookie_secret accepts each other's cookies."""

    SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"

    def dig(self, port, *extra):
        out = subprocess.run(["dig", "+norec", "+time=2", "+tries=1", "-p", str(port), "@127.0.0.1",
                              "www.example.test", "A"] + list(extra), capture_output=True, text=True).stdout
        self.assertIn("status: NOERROR", out)
        m = re.search(r"; COOKIE: ([0-9a-f]+)( \(good\))?", out)
        return (m.group(1), m.group(2) is not None) if m else (None, False)

    def test_cookies_answered_reused_and_shared_by_a_fleet(self):
        a = Dnsd(server_extra='cookie_secret = "%s"' % self.SECRET)
        b = Dnsd(server_extra='cookie_secret = "%s"' % self.SECRET)
        c = Dnsd(server_extra='cookie_secret = "dd3bdf9344b678b185a6f5cb60fca715"')
        off = Dnsd(server_extra="cookies = false")
        try:
            cookie, good = self.dig(a.port)  # dig sends a client cookie by default
            self.assertTrue(good)
            self.assertEqual(len(cookie), 48)  # client 8 + server 16 octets
            self.assertEqual(cookie[16:24], "01000000")  # RFC 9018: version 1, reserved
            cookie, good = self.dig(a.port, "+cookie=2464c4abcf10c957")
            self.assertTrue(cookie.startswith("2464c4abcf10c957") and good)
            # Sent back within half an hour: the same cookie, from this server
            # and from another with the same secret, over UDP and TCP.
            self.assertEqual(self.dig(a.port, "+cookie=" + cookie), (cookie, True))
            self.assertEqual(self.dig(b.port, "+cookie=" + cookie, "+tcp"), (cookie, True))
            # Another secret does not recognise it and gives a new one.
            other, good = self.dig(c.port, "+cookie=" + cookie)
            self.assertTrue(good and other.startswith("2464c4abcf10c957") and other != cookie)
            out = subprocess.run(["kdig", "+norec", "+cookie", "+time=2", "-p", str(a.port), "@127.0.0.1",
                                  "www.example.test", "A"], capture_output=True, text=True).stdout
            self.assertRegex(out, r"COOKIE: [0-9A-F]{16}01000000[0-9A-F]{24}")
            # cookies = false: no cookie comes back.
            self.assertEqual(self.dig(off.port), (None, False))
            # A malformed cookie (9 octets) is FORMERR (RFC 7873 5.2.2).
            bad = dns.edns.GenericOption(10, b"123456789")
            m = dns.message.make_query("www.example.test", "A", use_edns=0, options=[bad])
            r = dns.query.udp(m, "127.0.0.1", port=a.port, timeout=T)
            self.assertEqual(r.rcode(), dns.rcode.FORMERR)
        finally:
            for d in (a, b, c, off):
                d.stop()
                d.cleanup()


class RateLimiting(unittest.TestCase):
    """[rrl]: identical answers to one netblock over the rate are dropped, or
    every second one sent empty with TC=1; other netblocks, TCP and clients
    with a valid server cookie are not limited."""

    def burst(self, port, source, n, options=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((source, 0))
        s.settimeout(0.5)
        q = dns.message.make_query("www.example.test", "A", use_edns=0 if options else None,
                                   options=options or [])
        for i in range(n):
            q.id = i
            s.sendto(q.to_wire(), ("127.0.0.1", port))
        full = slipped = 0
        last = None
        try:
            while True:
                r = dns.message.from_wire(s.recv(4096))
                last = r
                if r.flags & dns.flags.TC:
                    self.assertEqual((len(r.answer), len(r.authority), len(r.question)), (0, 0, 1))
                    slipped += 1
                else:
                    self.assertEqual(len(r.answer), 1)
                    full += 1
        except socket.timeout:
            pass
        s.close()
        return full, slipped, n - full - slipped, last

    def test_rate_slip_and_exemptions(self):
        d = Dnsd(threads=1, tail="\n[rrl]\nresponses_per_second = 5\nslip = 2\n")
        try:
            full, slipped, dropped, _ = self.burst(d.port, "127.0.0.1", 60)
            # 5 a second (10 if the burst spans a second's end), then half slipped, half dropped.
            self.assertGreaterEqual(full, 5)
            self.assertLessEqual(full, 10)
            self.assertGreaterEqual(slipped, 20)
            self.assertGreaterEqual(dropped, 20)
            stats = json.loads(d.ctl_cmd("stats").stdout)
            self.assertEqual((stats["rrl_slipped"], stats["rrl_dropped"]), (slipped, dropped))
            # Another /24 has its own count; TCP is never limited.
            self.assertEqual(self.burst(d.port, "127.1.0.1", 3)[:3], (3, 0, 0))
            r = dns.query.tcp(dns.message.make_query("www.example.test", "A"), "127.0.0.1",
                              port=d.port, timeout=T)
            self.assertEqual(len(r.answer), 1)
            # A client that returns our server cookie has a proven address: not limited.
            first = self.burst(d.port, "127.2.0.1", 1,
                               [dns.edns.GenericOption(10, bytes.fromhex("2464c4abcf10c957"))])[3]
            cookie = [o for o in first.options if o.otype == 10][0].data
            self.assertEqual(len(cookie), 24)
            self.assertEqual(self.burst(d.port, "127.2.0.1", 40, [dns.edns.GenericOption(10, cookie)])[:3],
                             (40, 0, 0))
        finally:
            d.stop()
            d.cleanup()


class WildcardListener(unittest.TestCase):
    """Listening on 0.0.0.0 and [::], each answer leaves from the address its
    query was sent to (127.0.0.0/8 is all local, so 127.0.0.2 is a second
    address of this host): a resolver drops an answer from any other."""

    @classmethod
    def setUpClass(cls):
        cls.d = Dnsd(listen=("0.0.0.0:0", "[::]:0"))
        import re
        cls.v6port = int(re.findall(r"listening on \[::\]:(\d+)", cls.d.logtext())[0])

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0
        cls.d.cleanup()

    def ask_from(self, family, source, dest, port):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(T)
        s.bind((source, 0))
        q = dns.message.make_query("www.example.test", "A")
        s.sendto(q.to_wire(), (dest, port))
        data, peer = s.recvfrom(65535)
        s.close()
        r = dns.message.from_wire(data)
        self.assertEqual(r.id, q.id)
        self.assertEqual([rr.to_text() for rrset in r.answer for rr in rrset], ["192.0.2.80"])
        return peer[:2]

    def test_answer_leaves_from_the_queried_address(self):
        for dest in ("127.0.0.1", "127.0.0.2", "127.0.0.53"):
            with self.subTest(dest=dest):
                self.assertEqual(self.ask_from(socket.AF_INET, "127.0.0.1", dest, self.d.port),
                                 (dest, self.d.port))

    def test_ipv6_wildcard(self):
        self.assertEqual(self.ask_from(socket.AF_INET6, "::1", "::1", self.v6port), ("::1", self.v6port))

    def test_dig_and_tcp_to_a_second_address(self):
        # dig ignores an answer from an unexpected source ("reply from unexpected source").
        out = subprocess.run(["dig", "+norec", "+time=2", "+tries=1", "-b", "127.0.0.1", "-p",
                              str(self.d.port), "@127.0.0.2", "www.example.test", "A"],
                             capture_output=True, text=True).stdout
        self.assertIn("status: NOERROR", out)
        self.assertRegex(out, r"www\.example\.test\.\s+3600\s+IN\s+A\s+192\.0\.2\.80")
        m = dns.message.make_query("www.example.test", "A")
        r = dns.query.tcp(m, "127.0.0.2", port=self.d.port, timeout=T)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)


if __name__ == "__main__":
    unittest.main(verbosity=2)
