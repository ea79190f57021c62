import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe("the notebook's folder", () => {
  test('tasks run from JupyterLab work where the notebook is, as its cells do in a kernel', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);
    // Given a data file beside a notebook whose tasks read it by a relative path and write beside it
    expect(await page.contents.uploadContent('a,1\nb,20\n', 'text', `${tmpPath}/data.csv`)).toBe(true);
    const nb = codeNotebook([
      {
        source: "rows = [line.split(',') for line in open('data.csv').read().split()]",
        tags: ['task:load'],
      },
      {
        source: "total = sum(int(v) for _, v in rows)\nopen('total.txt', 'w').write(str(total))",
        tags: ['task:total'],
      },
    ]);
    await openNotebook(page, nb, `${tmpPath}/folder.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(2);

    // When it runs as a pipeline
    await cellpipe.pipeline.run.click();

    // Then both tasks succeed, and the file the last one wrote is beside the notebook
    await expect(cellpipe.monitor.graphTask('total')).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
    await expect.poll(() => page.contents.fileExists(`${tmpPath}/total.txt`)).toBe(true);
  });
});
