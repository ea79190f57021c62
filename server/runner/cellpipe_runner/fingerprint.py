"""Fingerprints of inputs, to notice a task that changed an input in place.

A fingerprint is a hash of the value's pickle, taken in this process before the task's cells and
after each of them (a value's pickle is the same bytes while the value is unchanged). The cost is
bounded for huge values:

- a write of the pickle stream up to WHOLE_CHUNK bytes is hashed whole; a larger one (a big bytes,
  bytearray or str, or a numpy-like array passed out of band) is sampled: its length, its first and
  last EDGE bytes and SAMPLES blocks of SAMPLE_BLOCK bytes spread evenly over it;
- at most STREAM_BUDGET bytes are hashed in all; pickling stops there and the fingerprint covers
  that prefix of the stream.

What is missed past the bounds: a change inside a huge buffer that falls between the sampled blocks
(a single element of a large array, say), and any change in the part of a value that pickles after
the first STREAM_BUDGET bytes (the tail of a very large dict or list). Values whose pickle is not a
function of their content (objects that pickle a timestamp or an id) may look changed.
"""

WHOLE_CHUNK = 1 << 20
EDGE = 64 << 10
SAMPLE_BLOCK = 4 << 10
SAMPLES = 256
STREAM_BUDGET = 32 << 20


class _Enough(Exception):
    """The stream budget is spent: the fingerprint covers what was hashed so far."""


class _HashSink(object):
    __slots__ = ("hash", "left", "truncated", "streamed")

    def __init__(self):
        import hashlib

        self.hash = hashlib.blake2b(digest_size=16)
        self.left = STREAM_BUDGET
        self.truncated = False
        # Bytes hashed whole: what pickling walked through (the cost; sampled buffers cost little).
        self.streamed = 0

    def write(self, data):
        n = len(data)
        if n > WHOLE_CHUNK:
            self._sample(memoryview(data))
        else:
            self.hash.update(data)
            self.left -= n
            self.streamed += n
        if self.left <= 0:
            self.truncated = True
            raise _Enough()
        return n

    def buffer(self, picklebuffer):
        """Out-of-band buffers (protocol 5: numpy arrays and the like) are hashed like big writes."""
        view = picklebuffer.raw()
        if view.nbytes > WHOLE_CHUNK:
            self._sample(view)
        else:
            self.hash.update(view)
            self.left -= view.nbytes
            self.streamed += view.nbytes
        return False  # keep it out of band: nothing else reads the stream

    def _sample(self, view):
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        n = view.nbytes
        h = self.hash
        h.update(n.to_bytes(8, "little"))
        h.update(view[:EDGE])
        h.update(view[n - EDGE :])
        step = (n - 2 * EDGE) // SAMPLES
        for i in range(SAMPLES):
            start = EDGE + i * step
            h.update(view[start : start + SAMPLE_BLOCK])
        self.left -= 2 * EDGE + SAMPLES * SAMPLE_BLOCK


def fingerprint(value, by_source=frozenset()):
    """A short text that changes when the value does (within the bounds above)."""
    return measure(value, by_source)[0]


def measure(value, by_source=frozenset()):
    """(fingerprint, cost): cost is the number of bytes of pickle stream hashed whole, which grows
    with the work pickling the value takes (not with the size of sampled buffers). The value is
    pickled as outputs are (pickling.py, by_source as there), so lambdas and classes made by calls
    are hashed by value, the same bytes while they are unchanged."""
    from .pickling import dump

    sink = _HashSink()
    try:
        dump(value, sink, by_source, protocol=5, buffer_callback=sink.buffer)
    except _Enough:
        pass
    except Exception as e:
        # A value that no longer pickles has changed (a task attached an open file to it, say).
        return "unpicklable:%s" % type(e).__name__, sink.streamed
    return sink.hash.hexdigest() + ("+" if sink.truncated else ""), sink.streamed
