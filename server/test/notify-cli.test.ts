/**
 * `cellpipe notify ...` and `--notify` as a user types them: the real CLI (server/dist) against a real
 * server app over HTTP, delivering to a real HTTP receiver.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobEndEventSchema } from '@cellpipe/schema';
import { listen, startApp, TOKENS, type TestApp } from './http-helpers.js';
import { notebook } from './jobs-fixtures.js';
import { startReceiver, type Receiver } from './receiver.js';
import { runCli } from './serve-fixtures.js';

jest.setTimeout(180_000);

let h: TestApp;
let receiver: Receiver;
let server: Awaited<ReturnType<typeof listen>>;
beforeAll(async () => {
  h = await startApp();
  receiver = await startReceiver();
  server = await listen(h.app);
});
afterAll(async () => {
  await server.close();
  await receiver.close();
  await h.cleanup();
});

/** A notebook of one task, `main`, running `code`. */
function notebookFile(code: string): string {
  const nb = notebook([code]) as { cells: { metadata: Record<string, unknown> }[] };
  nb.cells[0]!.metadata = { tags: ['task:main'] };
  const path = join(mkdtempSync(join(tmpdir(), 'cellpipe-notify-cli-')), 'nb.ipynb');
  writeFileSync(path, JSON.stringify(nb));
  return path;
}

const cli = (args: string[], input = '') => runCli([...args, '--url', server.url, '--token', TOKENS.alice], input);

test('add (URL from stdin, secret shown once), list (no URL), run --notify, deliveries, test, remove', async () => {
  const add = await cli(
    ['notify', 'add', 'ci', '--kind', 'webhook', '--endpoint', '-'],
    `${receiver.url}/hidden-path\n`,
  );
  expect(add.stderr).toBe('');
  expect(add.code).toBe(0);
  expect(add.stdout).toMatch(
    new RegExp(
      `^target ci \\(t[a-z0-9]{16}\\): webhook to 127\\.0\\.0\\.1:${receiver.port}, signed\\nsecret \\(shown this once; receivers check X-Cellpipe-Signature with it\\): \\S{43}\\n$`,
    ),
  );
  const list = await cli(['notify', 'list']);
  expect(list.stdout).toContain(`ci    webhook  user   127.0.0.1:${receiver.port}  yes`);
  expect(list.stdout).not.toContain('hidden-path');

  const nb = notebookFile('raise RuntimeError("boom")');
  const run = await cli(['run', nb, '--notify', 'failure:ci', '--notify', 'success:ci']);
  expect(run.code).toBe(1);
  const jobId = /^job (\S+)/.exec(run.stdout)![1]!;
  const [got] = await receiver.waitFor(1);
  expect(JobEndEventSchema.parse(JSON.parse(got!.body))).toMatchObject({ job: { id: jobId, state: 'failed' } });
  await h.notifications.idle();

  const deliveries = await cli(['notify', 'deliveries', jobId]);
  expect(deliveries.stdout.split('\n')[1]).toMatch(/^ci\s+webhook\s+failure\s+delivered\s+1\s+HTTP 200\s*$/);

  const tested = await cli(['notify', 'test', 'ci']);
  expect(tested.stdout).toMatch(/^delivered \(HTTP 200\) in \d+ ms\n$/);
  expect(JobEndEventSchema.parse(JSON.parse(receiver.received[1]!.body)).id).toMatch(/^test-/);

  expect((await cli(['notify', 'remove', 'ci'])).stdout).toBe('removed target ci\n');
  const gone = await cli(['notify', 'test', 'ci']);
  expect(gone).toMatchObject({ code: 1, stderr: "error: no notification target 'ci'\n" });
});

test.each([
  [['--notify', 'maybe:ci'], 'error: --notify "maybe:ci": the outcome is success, failure or always, not "maybe"\n'],
  [['--notify', 'failure:'], 'error: --notify "failure:": name at least one target\n'],
])('run %j is refused before anything is sent', async (flags, message) => {
  const nb = notebookFile('x = 1');
  expect(await cli(['run', nb, ...flags])).toMatchObject({ code: 2, stderr: message });
});

test('a run naming a target nobody defined: exit 2, the field named', async () => {
  const nb = notebookFile('x = 1');
  const r = await cli(['run', nb, '--notify', 'nobody-here']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("no notification target 'nobody-here' (yours or site-wide)");
  expect(r.stderr).toContain('notify.0.targets.0');
});
