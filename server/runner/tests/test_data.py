"""The variable store seam (cellpipe_runner/data.py): a contract every store passes, run here against
FileStore; a new store gets a subclass of StoreContract with its own make_store(). ServerStoreTest
needs a real server: server/test/task-data.test.ts runs it against one (CELLPIPE_TEST_SERVER_STORE)."""

import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cellpipe_runner import data  # noqa: E402


class StoreContract(object):
    """Mixed into a unittest.TestCase that defines make_store(producer) -> (store of that task)."""

    def make_store(self, task):
        raise NotImplementedError

    def test_what_a_task_saves_another_reads(self):
        up = self.make_store("up")
        size = up.save_output("x", lambda f: f.write(b"payload"))
        self.assertEqual(size, 7)
        down = self.make_store("down")
        with down.open_input("up", "x") as f:
            self.assertEqual(f.read(), b"payload")

    def test_a_missing_input_is_file_not_found_and_where_names_it(self):
        store = self.make_store("down")
        with self.assertRaises(FileNotFoundError):
            store.open_input("up", "nothing")
        self.assertIn("nothing", store.where("up", "nothing"))

    def test_a_failed_save_publishes_nothing_and_keeps_the_previous_value(self):
        up = self.make_store("up")
        up.save_output("x", lambda f: f.write(b"old"))

        def broken(f):
            f.write(b"half")
            raise RuntimeError("boom")

        with self.assertRaises(RuntimeError):
            up.save_output("x", broken)
        with self.make_store("down").open_input("up", "x") as f:
            self.assertEqual(f.read(), b"old")

    def test_config_rebuilds_the_same_store(self):
        up = self.make_store("up")
        again = data.store_from_config(up.config())
        again.save_output("y", lambda f: f.write(b"1"))
        with self.make_store("down").open_input("up", "y") as f:
            self.assertEqual(f.read(), b"1")

    def test_variables_round_trip_and_report_what_went_wrong(self):
        up = self.make_store("up")
        ns = {"rows": [1, 2], "gen": (i for i in range(2))}
        fact = data.save_variable(ns, up, "rows")
        self.assertEqual((fact["ok"], fact["type"]), (True, "list"))
        self.assertEqual(data.save_variable(ns, up, "nope"), {"ok": False, "reason": "missing-output"})
        bad = data.save_variable(ns, up, "gen")
        self.assertEqual((bad["ok"], bad["reason"], bad["type"]), (False, "serialization", "generator"))
        down = self.make_store("down")
        loaded, target = {}, {}
        self.assertIsNone(data.load_variable(target, down, "up", "rows", True, loaded))
        self.assertEqual(target["rows"], [1, 2])
        self.assertIs(loaded["rows"], target["rows"])
        self.assertTrue(data.load_variable(target, down, "up", "gen", True)["missing"])


class FileStoreTest(StoreContract, unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="cellpipe-store-")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def make_store(self, task):
        vars_dir = os.path.join(self.root, task, "vars")
        os.makedirs(vars_dir, exist_ok=True)
        return data.FileStore(self.root, vars_dir)

    def test_no_temp_file_stays_behind(self):
        store = self.make_store("up")
        store.save_output("x", lambda f: f.write(b"1"))
        with self.assertRaises(RuntimeError):
            store.save_output("z", lambda f: (_ for _ in ()).throw(RuntimeError("boom")))
        self.assertEqual(sorted(os.listdir(store.vars_dir)), ["x.pkl"])


SERVER = os.environ.get("CELLPIPE_TEST_SERVER_STORE")


@unittest.skipUnless(SERVER, "needs a Cellpipe server: server/test/task-data.test.ts runs it against one")
class ServerStoreTest(StoreContract, unittest.TestCase):
    """Each task's store has scratch space of its own, as pods do; the server is all they share."""

    def setUp(self):
        self.server = json.loads(SERVER)
        self.root = tempfile.mkdtemp(prefix="cellpipe-server-store-")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def make_store(self, task):
        from cellpipe_runner.server_store import ServerStore

        scratch = tempfile.mkdtemp(dir=self.root)
        token_file = os.path.join(scratch, "token")
        with open(token_file, "w") as f:
            f.write(self.server["tokens"][task])
        vars_dir = os.path.join(scratch, "artifacts", task, "vars")
        os.makedirs(vars_dir)
        return ServerStore(
            self.server["url"],
            token_file,
            self.server["job"],
            task,
            1,
            os.path.join(scratch, "artifacts"),
            vars_dir,
            retry_seconds=5,
        )

    def test_another_tasks_token_is_refused(self):
        from cellpipe_runner.server_store import ServerStoreError

        up = self.make_store("up")
        up.token_file = self.make_store("down").token_file
        with self.assertRaises(ServerStoreError) as caught:
            up.save_output("x", lambda f: f.write(b"1"))
        self.assertEqual(caught.exception.status, 403)
        self.assertIn("another attempt", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
