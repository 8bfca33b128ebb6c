#!/usr/bin/env python3
"""The configuration reference cannot drift: docs/config-reference.md is
exactly what `dnsd --print-config-reference` prints from the schema in the
code, every key it lists appears in maps/dnsd.toml.example (set or shown
commented out), and the example passes `dnsd --check-config`."""
import os
import re
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DNSD = os.environ["DNSD"]
DOC = os.path.join(ROOT, "docs", "config-reference.md")
EXAMPLE = os.path.join(ROOT, "maps", "dnsd.toml.example")


def reference():
    return subprocess.run([DNSD, "--print-config-reference"], check=True,
                          capture_output=True, text=True).stdout


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

    def test_example_config_checks(self):
        r = subprocess.run([DNSD, "--check-config", "--config", EXAMPLE],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
