#!/usr/bin/env python3
"""Runs every suite: the cmocka unit tests, then the integration tests.

Ends with one line "N passed, N failed" over all of them; exits 0 only when
nothing failed. `python3 tests/run.py integration.test_redirect` runs one
integration module; ZTP_TEST_UNIT_ONLY=1 skips the integration suites.
"""
import glob
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "integration"))


def run_units():
    passed = failed = 0
    for exe in sorted(glob.glob(os.path.join(ROOT, "build", "san", "tests", "test_*"))):
        r = subprocess.run([exe], capture_output=True, text=True, timeout=300)
        out = r.stdout + r.stderr
        ok = re.search(r"\[  PASSED  \] (\d+) test", out)
        bad = re.search(r"\[  FAILED  \] (\d+) test", out)
        p = int(ok.group(1)) if ok else 0
        f = int(bad.group(1)) if bad else 0
        if r.returncode != 0 and f == 0:
            f = 1  # crashed or a sanitizer stopped it
        if f:
            sys.stdout.write(out)
        print("unit %-28s %d passed, %d failed" % (os.path.basename(exe), p, f))
        passed += p
        failed += f
    return passed, failed


class CountingResult(unittest.TextTestResult):
    pass


def run_integration(names):
    loader = unittest.TestLoader()
    if names:
        suite = loader.loadTestsFromNames(names)
    else:
        suite = loader.discover(os.path.join(HERE, "integration"), pattern="test_*.py",
                                top_level_dir=os.path.join(HERE, "integration"))
    runner = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult, stream=sys.stdout)
    try:
        result = runner.run(suite)
    finally:
        import harness
        if harness.PG is not None:
            harness.PG.stop()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    return result.testsRun - failed - len(result.skipped), failed


def main():
    names = [n.replace("integration.", "") for n in sys.argv[1:]]
    passed = failed = 0
    if not names:
        p, f = run_units()
        passed += p
        failed += f
    if not os.environ.get("ZTP_TEST_UNIT_ONLY"):
        p, f = run_integration(names)
        passed += p
        failed += f
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
