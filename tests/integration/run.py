#!/usr/bin/env python3
"""Runs every integration test (and the sandbox's own tests) and prints
'N passed, N failed'. Exit status 1 when anything failed."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def main():
    loader = unittest.TestLoader()
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.TestSuite()
    suite.addTests(loader.discover(HERE, pattern=pattern, top_level_dir=HERE))
    sandbox = os.path.join(ROOT, "tests", "sandbox")
    if pattern == "test_*.py" and os.path.exists(
            os.path.join(sandbox, "test_meta_sandbox.py")):
        suite.addTests(loader.discover(sandbox, pattern="test_*.py",
                                       top_level_dir=sandbox))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    bad = result.failures + result.errors
    failed = len(bad)
    # A class whose set-up failed counts once, as failed, with no test run.
    in_tests = len([b for b in bad if isinstance(b[0], unittest.TestCase)])
    passed = result.testsRun - in_tests - len(result.skipped)
    print("integration: %d passed, %d failed" % (passed, failed))
    with open(os.path.join(ROOT, "tests", "out", "integration.count"), "w") as f:
        f.write("%d %d\n" % (passed, failed))
    return 1 if failed or result.testsRun == 0 else 0


if __name__ == "__main__":
    os.makedirs(os.path.join(ROOT, "tests", "out"), exist_ok=True)
    sys.exit(main())
