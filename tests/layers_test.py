#!/usr/bin/env python3
"""The source tree's layering, checked: every #include "..." in dnsd/ goes
down the layer order (or stays in its layer), dnsdctl and geoipd use only
common/, common/ uses nothing above it, and no two files include each other
by any path (no include cycle). The order is the one dnsd/CMakeLists.txt
documents and links by; an include against it fails here with file:line.
Run by ctest from the source tree."""
import os
import re
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Lower index = lower layer. A file may include its own layer or any below.
DNSD_LAYERS = ["stats", "config", "wire", "zone", "redirect", "health", "server"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path):
    """('common'|'geoipd'|'dnsd/<layer>'|'dnsd/ctl', rank) for a repository path."""
    parts = path.split("/")
    if parts[0] == "common":
        return "common", 0
    if parts[0] == "geoipd":
        return "geoipd", 1
    if parts[0] == "dnsd" and len(parts) > 2:
        if parts[1] == "ctl":
            return "dnsd/ctl", 1
        if parts[1] in DNSD_LAYERS:
            return "dnsd/" + parts[1], 1 + DNSD_LAYERS.index(parts[1])
    return None, None


def sources():
    for top in ("common", "geoipd", "dnsd"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith((".hpp", ".cpp")):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


def includes(path):
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    for m in INCLUDE.finditer(text):
        yield text.count("\n", 0, m.start()) + 1, m.group(1)


def allowed(src, dst):
    s, srank = layer_of(src)
    d, drank = layer_of(dst)
    if s is None:
        return False, "%s is in no layer (dnsd files live in one of %s)" % (src, DNSD_LAYERS)
    if d is None:
        return False, "%s is in no layer" % dst
    if d == "common":
        return True, ""
    if s == "common":
        return False, "common/ includes %s" % d
    if s in ("geoipd", "dnsd/ctl") or d in ("geoipd", "dnsd/ctl"):
        return s == d, "%s includes %s" % (s, d)
    return drank <= srank, "%s (layer %s) includes %s (layer %s, above it)" % (src, s, dst, d)


class Layers(unittest.TestCase):
    def test_every_include_goes_down(self):
        problems = []
        for src in sources():
            for line, inc in includes(src):
                if not os.path.exists(os.path.join(ROOT, inc)):
                    problems.append("%s:%d: includes %s, which does not exist" % (src, line, inc))
                    continue
                ok, why = allowed(src, inc)
                if not ok:
                    problems.append("%s:%d: %s" % (src, line, why))
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_no_include_cycle(self):
        graph = {s: [i for _, i in includes(s) if os.path.exists(os.path.join(ROOT, i))]
                 for s in sources() if s.endswith(".hpp")}
        state, cycles = {}, []

        def visit(n, stack):
            state[n] = 1
            stack.append(n)
            for m in graph.get(n, []):
                if state.get(m) == 1:
                    cycles.append(" -> ".join(stack[stack.index(m):] + [m]))
                elif m not in state:
                    visit(m, stack)
            stack.pop()
            state[n] = 2

        for n in sorted(graph):
            if n not in state:
                visit(n, [])
        self.assertEqual(cycles, [], "\n" + "\n".join(cycles))

    def test_namespaces_follow_folders(self):
        # dnsd/<layer>/ is signpost::dnsd::<layer> (an inline namespace, so
        # code within dnsd names its types unqualified while every symbol
        # carries its layer); common/ is signpost::common, geoipd/ signpost::geoipd.
        problems = []
        for src in sources():
            with open(os.path.join(ROOT, src)) as f:
                names = [n.replace("inline ", "") for n in
                         re.findall(r"^namespace (signpost[\w: ]*?) \{", f.read(), re.M)]
            if not names:
                continue  # main() only
            parts = src.split("/")
            want = {"common": "signpost::common", "geoipd": "signpost::geoipd"}.get(parts[0])
            if parts[0] == "dnsd":
                want = "signpost::dnsd::" + parts[1]
            if not any(n == want or n.startswith(want + "::") for n in names):
                problems.append("%s: declares %s, not %s" % (src, ", ".join(names), want))
            for n in names:
                if n == "signpost::dnsd" or (n.startswith("signpost::dnsd::") and
                                             n.split("::")[2] not in DNSD_LAYERS):
                    problems.append("%s: namespace %s is no layer's" % (src, n))
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_the_check_sees_a_violation(self):
        # The rule itself: an upward include is refused, a downward one allowed.
        self.assertFalse(allowed("dnsd/wire/query.cpp", "dnsd/zone/zone.hpp")[0])
        self.assertFalse(allowed("dnsd/redirect/select.cpp", "dnsd/health/checker.hpp")[0])
        self.assertFalse(allowed("common/json.cpp", "dnsd/wire/wire.hpp")[0])
        self.assertFalse(allowed("geoipd/server.cpp", "dnsd/wire/wire.hpp")[0])
        self.assertTrue(allowed("dnsd/server/batch.cpp", "dnsd/wire/wire.hpp")[0])
        self.assertTrue(allowed("dnsd/zone/zone.cpp", "dnsd/stats/worker_stats.hpp")[0])


if __name__ == "__main__":
    unittest.main()
