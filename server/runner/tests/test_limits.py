"""What the runner reports stays within the server's limits (cellpipe_runner/limits.py)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cellpipe_runner import limits  # noqa: E402
from cellpipe_runner.contract import ResultError  # noqa: E402


def size(text):
    return len(text.encode("utf-8"))


class CapTextTest(unittest.TestCase):
    def test_short_text_is_left_alone(self):
        self.assertEqual(limits.cap_text("é" * 100, 200), "é" * 100)
        self.assertIsNone(limits.cap_text(None, 10))

    def test_a_message_keeps_its_start_within_the_limit_note_included(self):
        text = "start " + "é" * 5000 + " end"
        cut = limits.cap_text(text, 1000, "start")
        self.assertLessEqual(size(cut), 1000)
        self.assertTrue(cut.startswith("start éé"))
        self.assertNotIn(" end", cut)
        self.assertIn("[cellpipe: cut to 1000 B of 9.8 KB (limits.errorBytes)]", cut)

    def test_a_traceback_keeps_its_end(self):
        text = "first frame\n" + "x" * 5000 + "\nValueError: last"
        cut = limits.cap_text(text, 1000, "end")
        self.assertLessEqual(size(cut), 1000)
        self.assertTrue(cut.endswith("\nValueError: last"))
        self.assertNotIn("first frame", cut)

    def test_a_huge_message_is_cut_inside_the_traceback_so_the_frames_stay(self):
        evalue = "v" * 100_000
        tb = 'Traceback (most recent call last):\n  File "<cell 3>", line 1, in <module>\nValueError: %s\n' % evalue
        cut = limits.cap_traceback(tb, evalue, 4096)
        self.assertLessEqual(size(cut), 4096)
        self.assertIn('File "<cell 3>", line 1', cut)
        self.assertIn("ValueError: vvv", cut)

    def test_cap_error_bounds_every_text(self):
        error = ResultError(message="m" * 10_000, reason="exception", ename="E" * 1000, traceback="t" * 10_000)
        limits.cap_error(error, 2048)
        self.assertLessEqual(size(error.message), 2048)
        self.assertLessEqual(size(error.traceback), 2048)
        self.assertLessEqual(size(error.ename), limits.ENAME_BYTES)
        self.assertEqual(error.reason, "exception")


class FitResultTest(unittest.TestCase):
    def dumps(self, doc):
        return json.dumps(doc, indent=1) + "\n"

    def test_a_small_document_is_unchanged(self):
        doc = {"status": "succeeded", "artifacts": ["a"], "notes": []}
        self.assertEqual(limits.fit_result(dict(doc), 10_000, self.dumps), self.dumps(doc))

    def test_long_lists_lose_their_tail_with_a_note(self):
        artifacts = ["file-%04d.csv" % i for i in range(2000)]
        doc = {"status": "succeeded", "artifacts": list(artifacts), "notes": [], "cells": [], "outputs": ["x"]}
        text = limits.fit_result(doc, 8192, self.dumps)
        self.assertLessEqual(size(text), 8192)
        out = json.loads(text)
        self.assertEqual(out["status"], "succeeded")
        self.assertEqual(out["outputs"], ["x"])
        self.assertEqual(out["artifacts"], artifacts[: len(out["artifacts"])])
        self.assertGreater(len(out["artifacts"]), 0)
        left = 2000 - len(out["artifacts"])
        self.assertEqual(
            out["notes"][-1]["message"],
            "result.json: %d of artifacts left out to stay under 8 KB (limits.resultBytes)" % left,
        )

    def test_a_huge_error_is_cut_to_fit_when_the_lists_are_not_enough(self):
        error = {"message": "m" * 50_000, "reason": "exception", "traceback": "t" * 50_000 + "\nValueError"}
        doc = {"status": "failed", "error": error, "outputs": ["y"], "notes": []}
        text = limits.fit_result(doc, 8192, self.dumps)
        self.assertLessEqual(size(text), 8192)
        out = json.loads(text)
        self.assertEqual(out["status"], "failed")
        self.assertEqual(out["error"]["reason"], "exception")
        self.assertTrue(out["error"]["message"].startswith("mmm"))
        self.assertTrue(out["error"]["traceback"].endswith("t\nValueError"))
        self.assertIn("(limits.resultBytes)", out["error"]["message"])


if __name__ == "__main__":
    unittest.main()
