import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe('validation problems', () => {
  test('a task depending on an unknown task is listed in Problems, and clicking it jumps to the cell', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);

    // Given a notebook whose third cell's task runs after a task that does not exist
    const nb = codeNotebook([
      { source: 'x = 1' },
      { source: 'y = x + 1', tags: ['task:first'] },
      { source: 'print(y)', tags: ['task:second', 'after:nope'] },
      { source: 'z = 3', tags: ['task:third'] },
    ]);
    await openNotebook(page, nb, `${tmpPath}/broken.ipynb`);
    await page.notebook.selectCells(0);

    // When the Cellpipe Pipeline panel shows it
    await cellpipe.pipeline.open();

    // Then the problem names the cell, the task and the unknown target, and nothing can run
    const problem = cellpipe.pipeline.problem(/cell 3, task 'second': unknown after: target 'nope'/);
    await expect(problem).toBeVisible();
    await expect(cellpipe.pipeline.run).toBeDisabled();

    // When the problem is clicked, the notebook's active cell is the third one
    await problem.click();
    const third = await page.notebook.getCellLocator(2);
    if (!third) throw new Error('the notebook has no third cell');
    await expect(third).toHaveClass(/\bjp-mod-active\b/);

    // When the dependency is fixed through the Cellpipe Task form, the problem goes away
    await cellpipe.taskEditor.open();
    await expect(cellpipe.taskEditor.field('Task name')).toHaveValue('second');
    await cellpipe.taskEditor.field('Depends on').fill('first');
    await cellpipe.taskEditor.apply.click();
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.problems.getByRole('button')).toHaveCount(0);
    await expect(cellpipe.pipeline.tasks).toHaveCount(3);
    await expect(cellpipe.pipeline.run).toBeEnabled();
  });
});
