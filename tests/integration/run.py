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


# Runs after every other module, the sandbox's too: it validates the API
# answers they recorded (client.ANSWERS) against doc/api/openapi.yaml.
LAST = "test_openapi"


def module_of(suite):
    """The module name of the first test in a (nested) suite, or None."""
    for t in suite:
        if isinstance(t, unittest.TestCase):
            return type(t).__module__
        name = module_of(t)
        if name:
            return name
    return None


def main():
    loader = unittest.TestLoader()
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite, first, last = unittest.TestSuite(), [], []
    for s in loader.discover(HERE, pattern=pattern, top_level_dir=HERE):
        (last if module_of(s) == LAST else first).append(s)
    suite.addTests(first)
    sandbox = os.path.join(ROOT, "tests", "sandbox")
    if pattern == "test_*.py" and os.path.exists(
            os.path.join(sandbox, "test_meta_sandbox.py")):
        suite.addTests(loader.discover(sandbox, pattern="test_*.py",
                                       top_level_dir=sandbox))
    suite.addTests(last)
    # The whole suite: test_openapi then checks what it exercised.
    if pattern == "test_*.py":
        os.environ["WABA_ALL_MODULES"] = "1"
    # This run's answers only.
    open(os.path.join(ROOT, "tests", "out", "api_answers.jsonl"), "w").close()
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
