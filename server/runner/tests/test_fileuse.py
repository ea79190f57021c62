"""The files a task uses in the job's working folder (cellpipe_runner/fileuse.py): what the audit hook
sees, and the warnings two tasks' records give."""

import os
import random
import shutil
import sys
import tempfile
import unittest
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cellpipe_runner import fileuse, globalrandom  # noqa: E402
from cellpipe_runner.contract import Cell  # noqa: E402


def task(name, root, upstream=(), first=0, store=None):
    return SimpleNamespace(
        taskName=name,
        cells=[Cell(index=first, source="")],
        upstream=list(upstream),
        outputDir=os.path.join(root, "artifacts", name),
        artifactRoot=os.path.join(root, "artifacts"),
        dataStore=store,
    )


class FileUseTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="cellpipe-fileuse-")
        self.work = os.path.join(self.root, "work")
        os.makedirs(os.path.join(self.work, "__pycache__"))
        self.own = os.path.join(self.root, "artifacts")
        self.outside = tempfile.mkdtemp(prefix="cellpipe-outside-")
        self.cwd = os.getcwd()
        os.chdir(self.work)
        self.use = fileuse.FileUse(self.work, [self.own])
        self.use.install()

    def tearDown(self):
        self.use.active = False
        os.chdir(self.cwd)
        shutil.rmtree(self.root)
        shutil.rmtree(self.outside)

    def test_reads_and_writes_under_the_folder_only(self):
        with open("data.csv", "w") as f:
            f.write("x")
        with open("data.csv") as f:
            f.read()
        open(os.path.join(self.work, "in.txt"), "a").close()
        with open("in.txt") as f:
            f.read()
        fd = os.open("flags.bin", os.O_WRONLY | os.O_CREAT)
        os.close(fd)
        open("old.txt", "w").close()
        os.replace("old.txt", "new.txt")
        os.remove("new.txt")
        open(os.path.join(self.outside, "elsewhere.txt"), "w").close()
        open(os.path.join("__pycache__", "m.cpython.pyc"), "wb").close()
        os.makedirs(self.own)
        open(os.path.join(self.own, "mine.json"), "w").close()
        self.use.active = False
        open("after.txt", "w").close()
        self.assertEqual(self.use.written, {"data.csv", "in.txt", "flags.bin", "old.txt", "new.txt"})
        self.assertEqual(self.use.read, {"data.csv", "in.txt"})

    def test_two_tasks_that_do_not_depend_on_each_other(self):
        open("scores.csv", "w").close()
        self.use.active = False
        first = task("produce", self.root, first=1)
        os.makedirs(first.outputDir)
        self.assertEqual(self.use.finish(first, shared=True), [])
        reader = fileuse.FileUse(self.work)
        reader.read.add("scores.csv")
        second = task("consume", self.root, first=3)
        os.makedirs(second.outputDir)
        [warning] = reader.finish(second, shared=True)
        self.assertEqual(warning.kind, "file-order")
        self.assertIn("tasks 'produce' and 'consume' both use 'scores.csv'", warning.message)
        self.assertIn("'produce' writes, 'consume' reads", warning.message)
        self.assertIn("make 'consume' depend on 'produce' (after:produce", warning.message)

    def test_tasks_in_order_are_not_reported(self):
        open("scores.csv", "w").close()
        self.use.active = False
        first = task("produce", self.root)
        os.makedirs(first.outputDir)
        self.use.finish(first, shared=True)
        reader = fileuse.FileUse(self.work)
        reader.read.add("scores.csv")
        second = task("consume", self.root, upstream=["produce"], first=2)
        os.makedirs(second.outputDir)
        self.assertEqual(reader.finish(second, shared=True), [])
        # 'look' reads what 'produce' wrote without depending on it; that both it and 'consume' only
        # read the file orders nothing between them.
        other = fileuse.FileUse(self.work)
        other.read.add("scores.csv")
        third = task("look", self.root, first=3)
        os.makedirs(third.outputDir)
        [warning] = other.finish(third, shared=True)
        self.assertIn("tasks 'produce' and 'look'", warning.message)

    def test_a_folder_no_other_task_sees(self):
        for i in range(7):
            open("part-%d.csv" % i, "w").close()
        self.use.active = False
        [warning] = self.use.finish(task("make", self.root), shared=False)
        self.assertEqual(warning.kind, "file-not-shared")
        self.assertIn(
            "'part-0.csv', 'part-1.csv', 'part-2.csv', 'part-3.csv', 'part-4.csv' and 2 more", warning.message
        )
        self.assertIn("$CELLPIPE_OUTPUT_DIR", warning.message)


class GlobalRandomTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="cellpipe-random-")
        self.saved = random.getstate()

    def tearDown(self):
        random.setstate(self.saved)
        shutil.rmtree(self.root)

    def used(self, code):
        """What a task whose cells run ``code`` leaves of its use of the global random state."""
        watch = globalrandom.GlobalRandom()
        watch.start()
        try:
            code()
        finally:
            random.seed = random.seed.__wrapped__ if hasattr(random.seed, "__wrapped__") else random.seed
        return watch.summary()

    def test_what_a_task_did_with_the_generator(self):
        self.assertEqual(self.used(lambda: None), {})
        self.assertEqual(self.used(lambda: random.random()), {"random": {"continues": True}})
        self.assertEqual(self.used(lambda: (random.seed(3), random.random())), {"random": {"continues": False}})
        self.assertEqual(self.used(lambda: (random.random(), random.seed(3))), {"random": {"continues": True}})

    def finish(self, name, first, summary):
        use = fileuse.FileUse(self.root)
        use.random.summary = lambda: summary
        t = task(name, self.root, first=first)
        os.makedirs(t.outputDir)
        return use.finish(t, shared=True)

    def test_a_task_that_continues_a_sequence_an_earlier_task_used(self):
        self.assertEqual(self.finish("draw", 1, {"random": {"continues": True}}), [])
        # Ends second: it reports itself.
        [warning] = self.finish("again", 3, {"random": {"continues": True}})
        self.assertEqual((warning.kind, warning.variable), ("random-state", "random"))
        self.assertIn(
            "task 'again' draws from the global random state of random without seeding it first, "
            "and task 'draw' before it",
            warning.message,
        )
        # A task that seeds first is on its own; one that never touched the generator too.
        self.assertEqual(self.finish("seeded", 5, {"random": {"continues": False}}), [])
        self.assertEqual(self.finish("other", 6, {}), [])

    def test_reported_by_the_earlier_task_when_it_ends_second(self):
        self.assertEqual(self.finish("later", 4, {"random": {"continues": True}}), [])
        [warning] = self.finish("earlier", 2, {"random": {"continues": False}})
        self.assertIn("task 'later' draws", warning.message)
        # On the task whose numbers differ, whichever task reports it.
        self.assertEqual(warning.task, "later")


if __name__ == "__main__":
    unittest.main()
