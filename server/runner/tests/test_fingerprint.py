"""The bounds of input fingerprints (cellpipe_runner/fingerprint.py): what is seen and what is missed."""

import os
import pickle
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cellpipe_runner import fingerprint as fp  # noqa: E402


class OutOfBand(object):
    """Pickles its buffer out of band with protocol 5, as numpy arrays do."""

    def __init__(self, buf):
        self.buf = buf

    def __reduce_ex__(self, protocol):
        return (OutOfBand, (pickle.PickleBuffer(self.buf),))


class FingerprintTest(unittest.TestCase):
    def test_small_values_change_with_any_change(self):
        value = {"a": [1, 2, 3], "b": {"c": "d"}}
        before = fp.fingerprint(value)
        self.assertEqual(before, fp.fingerprint(value))
        value["b"]["c"] = "e"
        self.assertNotEqual(before, fp.fingerprint(value))

    def test_a_huge_buffer_is_sampled(self):
        size = 64 << 20
        data = bytearray(size)
        before = fp.fingerprint(data)
        step = (size - 2 * fp.EDGE) // fp.SAMPLES
        # Inside a sampled block (and the edges): seen.
        for at in (0, size - 1, fp.EDGE + 7 * step + 100):
            data[at] ^= 1
            self.assertNotEqual(before, fp.fingerprint(data), at)
            data[at] ^= 1
        # Between sampled blocks: missed, as documented.
        data[fp.EDGE + 7 * step + fp.SAMPLE_BLOCK + 10] ^= 1
        self.assertEqual(before, fp.fingerprint(data))

    def test_out_of_band_buffers_are_sampled_too(self):
        value = OutOfBand(bytearray(8 << 20))
        before = fp.fingerprint(value)
        value.buf[0] = 1
        self.assertNotEqual(before, fp.fingerprint(value))

    def test_past_the_stream_budget_changes_are_missed(self):
        value = [str(i) * 10 for i in range(fp.STREAM_BUDGET // 20)]
        before = fp.fingerprint(value)
        self.assertTrue(before.endswith("+"))
        value[-1] = "changed"
        self.assertEqual(before, fp.fingerprint(value))
        value[0] = "changed"
        self.assertNotEqual(before, fp.fingerprint(value))

    def test_the_cost_counts_what_pickling_walks_not_sampled_buffers(self):
        _, small = fp.measure(list(range(100)))
        _, sampled = fp.measure(bytes(64 << 20))
        _, walked = fp.measure({i: str(i) for i in range(200000)})
        self.assertLess(small, 1000)
        self.assertLess(sampled, 1000)
        self.assertGreater(walked, 2 << 20)

    def test_a_value_that_no_longer_pickles_has_changed(self):
        value = {"ok": 1}
        before = fp.fingerprint(value)
        value["gen"] = (i for i in range(3))
        self.assertNotEqual(before, fp.fingerprint(value))


if __name__ == "__main__":
    unittest.main()
