import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@jupyterlab/galata';
import { Cellpipe, proxied } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP endpoint on a free port: answers 503 to the first request and 200 to the rest. */
async function flakyReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.statusCode = received.length === 1 ? 503 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

test.describe('notifications in the job view', () => {
  test('a run notifying a webhook (chosen in the sidebar) shows each delivery attempt: a 503 retried, then delivered', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);
    const receiver = await flakyReceiver();
    try {
      // Given a webhook target (the browser never sees its URL again)
      const target = `hook-${Date.now().toString(36)}`;
      const created = await page.request.post(proxied('notifications/targets'), {
        data: { name: target, kind: 'webhook', url: receiver.url },
      });
      expect(created.status(), await created.text()).toBe(201);
      expect(await created.text()).not.toContain(receiver.url);

      // When a notebook whose task reports a result is run from the sidebar, notifying the target
      // whatever the outcome (the Notify field lists the user's targets by name)
      const nb = codeNotebook([{ source: 'import cellpipe\ncellpipe.report(accuracy=0.93)', tags: ['task:fit'] }]);
      await openNotebook(page, nb, `${tmpPath}/notify.ipynb`);
      await cellpipe.pipeline.open();
      await expect(cellpipe.pipeline.tasks).toHaveCount(1);
      const notify = cellpipe.pipeline.panel.getByRole('group', { name: 'Notify' });
      await notify.getByRole('combobox', { name: 'When' }).selectOption('always');
      await notify.getByRole('checkbox', { name: `${target} (webhook)` }).check();
      const submittedResponse = page.waitForResponse(
        (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(proxied('jobs')),
      );
      await cellpipe.pipeline.run.click();
      const submitted = await submittedResponse;
      expect(submitted.request().postDataJSON()).toMatchObject({ notify: [{ on: 'always', targets: [target] }] });
      const job = (await submitted.json()) as { id: string };
      await cellpipe.monitor.open();
      await cellpipe.monitor.select(job.id);

      // Then its view lists the notification: first refused with a 503 and due again...
      const row = cellpipe.monitor.detail
        .getByRole('table', { name: `Notifications of job ${job.id}` })
        .locator(`tr[data-target="${target}"]`);
      await expect(row.locator('td').nth(2)).toHaveText('retrying', { timeout: 60_000 });
      await expect(row.locator('li')).toHaveText([/HTTP 503/]);
      await expect(row.locator('td').nth(4)).not.toHaveText('');

      // ...then delivered on the next try, each attempt shown
      await expect(row.locator('td').nth(2)).toHaveText('delivered', { timeout: 60_000 });
      await expect(row.locator('li')).toHaveText([/HTTP 503/, /HTTP 200/]);
      await expect(row.locator('td').nth(4)).toHaveText('');

      // And the receiver got the job's end with its result, under one idempotency key
      expect(receiver.received).toHaveLength(2);
      const event = JSON.parse(receiver.received[1]!.body) as { job: { id: string }; results: unknown };
      expect(event.job.id).toBe(job.id);
      expect(event.results).toEqual({ fit: { accuracy: 0.93 } });
      expect(receiver.received[0]!.headers['idempotency-key']).toBe(receiver.received[1]!.headers['idempotency-key']);
    } finally {
      await new Promise((resolve) => receiver.server.close(resolve));
    }
  });
});
