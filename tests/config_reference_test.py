#!/usr/bin/env python3
"""The configuration reference cannot drift: docs/config-reference.md is
exactly what `dnsd --print-config-reference` prints from the schema in the
code, every key it lists appears in maps/dnsd.toml.example (set or shown
commented out) and, in the same order, in the dnsd.toml(5) manual page
(`--print-config-reference=man`, which groff renders without any warning), and
the example passes `dnsd --check-config`."""
import os
import re
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DNSD = os.environ["DNSD"]
DOC = os.path.join(ROOT, "docs", "config-reference.md")
EXAMPLE = os.path.join(ROOT, "maps", "dnsd.toml.example")


def reference(form=None):
    option = "--print-config-reference" + ("=" + form if form else "")
    return subprocess.run([DNSD, option], check=True, capture_output=True, text=True).stdout


class ConfigReference(unittest.TestCase):
    def test_doc_is_the_generated_reference(self):
        with open(DOC) as f:
            doc = f.read()
        self.assertEqual(doc, reference(),
                         "docs/config-reference.md is stale: regenerate it with "
                         "build/bin/dnsd --print-config-reference > docs/config-reference.md")

    def test_every_key_is_in_the_example(self):
        keys = re.findall(r"^\| `([a-z_0-9]+)` \|", reference(), re.M)
        self.assertGreater(len(keys), 30)
        with open(EXAMPLE) as f:
            example = f.read()
        missing = sorted({k for k in keys if not re.search(r"\b%s\s*=" % re.escape(k), example)})
        self.assertEqual(missing, [], "keys missing from maps/dnsd.toml.example")

    def test_man_page_has_every_key(self):
        keys = re.findall(r"^\| `([a-z_0-9]+)` \|", reference(), re.M)
        man = reference("man")
        self.assertTrue(man.startswith(".TH DNSD.TOML 5 "), man[:80])
        self.assertEqual(re.findall(r"^\.TP\n\\fB([a-z_0-9]+) = ", man, re.M), keys)
        sections = re.findall(r"^## (.*)", reference(), re.M)
        self.assertEqual(len(re.findall(r"^\.SS$", man, re.M)), len(sections))

    def test_man_page_renders_without_warnings(self):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"],
                           input=reference("man"),
                           capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_unknown_format_is_refused(self):
        r = subprocess.run([DNSD, "--print-config-reference=html"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("markdown or man", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_example_config_checks(self):
        r = subprocess.run([DNSD, "--check-config", "--config", EXAMPLE],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
