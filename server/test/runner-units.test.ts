/** The runner's Python unit tests (server/runner/tests/test_*.py), run with unittest on a real python3. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNNER_DIR = fileURLToPath(new URL('../runner', import.meta.url));

test('server/runner/tests pass', () => {
  const r = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', 'tests', '-v'], {
    cwd: RUNNER_DIR,
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.stderr).toMatch(/^Ran [1-9]\d* tests? in /m);
  expect(r.stderr).toMatch(/\nOK( \(skipped=\d+\))?\n?$/);
  expect(r.status).toBe(0);
  // Only the server store's contract is skipped here: it needs a server, and task-data.test.ts runs it with one.
  const skipped = r.stderr.split('\n').filter((line) => / \.\.\. skipped /.test(line));
  expect(skipped.filter((line) => !line.includes('ServerStoreTest'))).toEqual([]);
});
