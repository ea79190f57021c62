"""A cell's outputs kept as nbclient keeps a kernel's messages (cellpipe_runner/outputs.py)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cellpipe_runner import outputs  # noqa: E402


class Step(object):
    def __init__(self):
        self.outputs = []


def text(data):
    return {"data": {"text/plain": data}, "metadata": {}}


def shown(step):
    return [
        (o["output_type"], o.get("data", {}).get("text/plain") or "".join(o.get("_chunks", []))) for o in step.outputs
    ]


class CellOutputsTest(unittest.TestCase):
    def setUp(self):
        self.capture = outputs.CellOutputs()
        self.first, self.second = Step(), Step()

    def test_text_of_one_stream_is_one_output(self):
        self.capture.start(self.first)
        self.capture.stream("stdout", "a")
        self.capture.stream("stdout", "b\n")
        self.capture.stream("stderr", "oops\n")
        self.capture.stream("stdout", "c\n")
        self.assertEqual(shown(self.first), [("stream", "ab\n"), ("stream", "oops\n"), ("stream", "c\n")])

    def test_an_update_replaces_every_output_of_its_display_id_in_any_cell(self):
        with_id = dict(text("one"), transient={"display_id": "d1"})
        self.capture.start(self.first)
        self.capture.message("display_data", with_id)
        self.capture.start(self.second)
        self.capture.message("display_data", dict(text("again"), transient={"display_id": "d1"}))
        self.capture.message("update_display_data", dict(text("two"), transient={"display_id": "d1"}))
        self.capture.message("update_display_data", dict(text("unknown"), transient={"display_id": "d2"}))
        self.assertEqual(shown(self.first), [("display_data", "two")])
        self.assertEqual(shown(self.second), [("display_data", "two")])

    def test_clear_output_now_and_before_the_next_output(self):
        self.capture.start(self.first)
        self.capture.stream("stdout", "old\n")
        self.capture.message("clear_output", {"wait": True})
        self.assertEqual(shown(self.first), [("stream", "old\n")])
        self.capture.message("display_data", text("new"))
        self.assertEqual(shown(self.first), [("display_data", "new")])
        self.capture.message("clear_output", {"wait": False})
        self.assertEqual(shown(self.first), [])

    def test_a_cleared_display_is_not_updated_any_more(self):
        self.capture.start(self.first)
        self.capture.message("display_data", dict(text("one"), transient={"display_id": "d"}))
        self.capture.clear()
        self.capture.message("display_data", text("kept"))
        self.capture.message("update_display_data", dict(text("two"), transient={"display_id": "d"}))
        self.assertEqual(shown(self.first), [("display_data", "kept")])

    def test_the_execute_result_is_numbered_as_the_runner_says(self):
        self.capture.start(self.first)
        out = self.capture.message("execute_result", dict(text("42"), execution_count=1), execution_count=7)
        self.assertEqual(out["execution_count"], 7)
        self.assertEqual(self.first.outputs, [out])

    def test_output_outside_a_cell_goes_to_no_cell(self):
        self.capture.stream("stdout", "before any cell\n")
        self.capture.message("display_data", text("x"))
        self.capture.start(self.first)
        self.assertEqual(shown(self.first), [])

    def test_stream_text_stops_at_the_notebook_limit(self):
        self.capture.start(self.first)
        self.capture.stream("stdout", "x" * (outputs.NOTEBOOK_STREAM_LIMIT - 10))
        self.capture.stream("stdout", "y" * 100)
        self.capture.stream("stdout", "z" * 100)
        kept = "".join(self.first.outputs[0]["_chunks"])
        self.assertTrue(kept.endswith("y" * 10 + outputs.TRUNCATED))
        self.assertNotIn("z", kept)

    def test_a_huge_error_output_is_bounded(self):
        evalue = "v" * (3 * outputs.NOTEBOOK_STREAM_LIMIT)
        out = outputs.error_output("ValueError", evalue, ["Traceback:", "  File x", "ValueError: " + evalue])
        self.assertLessEqual(len(out["evalue"].encode()), outputs.NOTEBOOK_STREAM_LIMIT)
        self.assertLessEqual(len("\n".join(out["traceback"]).encode()), outputs.NOTEBOOK_STREAM_LIMIT)
        self.assertEqual(out["traceback"][:2], ["Traceback:", "  File x"])


if __name__ == "__main__":
    unittest.main()
