import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Cellpipe, FINAL_STATES, proxied } from './pages/cellpipe.js';
import { codeNotebook } from './helpers/notebooks.js';

interface JobWire {
  id: string;
  state: string;
}

/** Runs the saved pipeline `name` with `parameters` through the API; resolves with the ended job. */
async function runToEnd(page: IJupyterLabPageFixture, name: string, parameters: Record<string, unknown>) {
  const started = await page.request.post(proxied(`pipelines/${name}/versions/latest/run`), { data: { parameters } });
  expect(started.status(), await started.text()).toBe(201);
  const job = (await started.json()) as JobWire;
  await expect
    .poll(async () => ((await (await page.request.get(proxied(`jobs/${job.id}`))).json()) as JobWire).state, {
      timeout: 120_000,
    })
    .toMatch(new RegExp(`^(${FINAL_STATES.join('|')})$`));
  return job;
}

test.describe('task results', () => {
  test('a job link opens the monitor on the job with its results, and Compare runs shows both runs', async ({
    page,
  }) => {
    const cellpipe = new Cellpipe(page);
    const name = `sweep-${Date.now().toString(36)}`;

    // Given a saved pipeline whose task reports an accuracy that depends on a parameter
    const nb = codeNotebook([
      { source: 'scale = 1', tags: ['parameters'] },
      {
        source: 'import cellpipe\ncellpipe.report(accuracy=round(0.5 + scale / 10, 2), model="ridge")',
        tags: ['task:fit'],
      },
    ]);
    const saved = await page.request.post(proxied('pipelines'), {
      data: { name, notebook: { path: `${name}.ipynb`, content: nb } },
    });
    expect(saved.status(), await saved.text()).toBe(201);

    // And two runs of it, with scale 1 and scale 3
    const first = await runToEnd(page, name, { scale: 1 });
    const second = await runToEnd(page, name, { scale: 3 });

    // When the link a notification carries is opened
    // (a plain navigation: galata's goto waits for the Launcher, which the link does not show)
    await page.evaluate(
      (search) => window.location.assign(`${window.location.pathname}${search}`),
      `?cellpipe-job=${second.id}`,
    );

    // Then the monitor shows that job, and its Results section the task's results
    await expect(cellpipe.monitor.detail).toBeVisible({ timeout: 120_000 });
    await expect(cellpipe.monitor.detail.getByText(second.id, { exact: true }).first()).toBeVisible();
    const results = cellpipe.monitor.detail.getByRole('table', { name: `Results of job ${second.id}` });
    await expect(results.getByRole('row')).toHaveText([
      /Task\s*Result\s*Value/,
      /fit\s*accuracy\s*0\.8/,
      /fit\s*model\s*ridge/,
    ]);
    // And the link's parameter is gone from the address (a reload does not open it again)
    expect(new URL(page.url()).searchParams.has('cellpipe-job')).toBe(false);

    // When "Compare runs" is clicked
    await cellpipe.monitor.detail.getByRole('button', { name: `Compare runs of ${name}` }).click();

    // Then the Results tab lists both runs, newest first, with their results side by side
    const tab = page.locator('#cellpipe-monitor [data-tab="results"]');
    await expect(tab.getByRole('combobox', { name: 'Pipeline' })).toHaveValue(name);
    const table = tab.getByRole('table', { name: 'Results by run' });
    await expect(table.locator('thead th')).toHaveText([
      'Job',
      'Version',
      'State',
      'Created',
      'fit.accuracy',
      'fit.model',
    ]);
    await expect(table.locator('tbody tr')).toHaveCount(2);
    await expect(table.locator(`tr[data-job="${second.id}"] td`).nth(4)).toHaveText('0.8');
    await expect(table.locator(`tr[data-job="${first.id}"] td`).nth(4)).toHaveText('0.6');
    await expect(table.locator('tbody tr').first()).toHaveAttribute('data-job', second.id);

    // And a line chart of the numeric result over the two runs, oldest first
    const chart = tab.locator('figure[data-result="fit.accuracy"]');
    await expect(chart.getByRole('img')).toHaveAttribute('aria-label', 'fit.accuracy over 2 runs, from 0.6 to 0.8');
    await expect(chart.locator('circle')).toHaveCount(2);
    const ys = await chart.locator('circle').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('cy'))));
    expect(ys[1]!).toBeLessThan(ys[0]!); // the later run's higher accuracy sits higher
    await expect(tab.locator('figure[data-result="fit.model"]')).toHaveCount(0);

    // When a run's job is clicked in the table, then the monitor shows that job
    await table.locator(`tr[data-job="${first.id}"]`).getByRole('button').click();
    await expect(
      cellpipe.monitor.detail
        .getByRole('table', { name: `Results of job ${first.id}` })
        .getByRole('row')
        .nth(1),
    ).toHaveText(/fit\s*accuracy\s*0\.6/);
  });
});
