import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { cellTags, exampleNotebook, openNotebook, withoutTaskTags } from './helpers/notebooks.js';

test.describe('the Cellpipe Task panel', () => {
  test('a cell becomes a task from its context menu; the panel says where the cell stands and keeps unapplied edits', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);
    await openNotebook(page, withoutTaskTags(exampleNotebook('quickstart.ipynb')), `${tmpPath}/quickstart.ipynb`);

    // When "Make This Cell a Cellpipe Task" is chosen on cell 4 (index 3)
    await page.notebook.selectCells(3);
    const cell = await page.notebook.getCellLocator(3);
    await cell!.click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Make This Cell a Cellpipe Task' }).click();

    // Then the Cellpipe Task panel opens on it with a task name proposed and focused
    const name = cellpipe.taskEditor.field('Task name');
    await expect(name).toBeFocused();
    await expect(name).toHaveValue(/^task-\d+$/);
    await name.fill('generate');
    await cellpipe.taskEditor.apply.click();
    await expect(cellpipe.taskEditor.status).toHaveText("Applied to cell 4's tags.");
    await expect.poll(() => cellTags(page, 3)).toContain('task:generate');
    // And the cell's badge shows the task without covering the cell's toolbar
    await page.notebook.selectCells(3);
    const badge = cellpipe.cells.badge(3);
    await expect(badge).toHaveText('generate');
    const toolbar = cellpipe.cells.cell(3).locator('.jp-cell-toolbar');
    await expect(toolbar).toBeVisible();
    const [b, t] = [await badge.boundingBox(), await toolbar.boundingBox()];
    expect(b && t).toBeTruthy();
    const overlaps =
      b!.x < t!.x + t!.width && t!.x < b!.x + b!.width && b!.y < t!.y + t!.height && t!.y < b!.y + b!.height;
    expect(overlaps).toBe(false);

    // When cell 5 becomes task "stats" (it reads samples from generate)
    await page.notebook.selectCells(4);
    await cellpipe.taskEditor.tag({ 'Task name': 'stats' });
    await expect.poll(() => cellTags(page, 4)).toContain('task:stats');

    // Then the panel says which cell and task it edits and what the task depends on, and why
    await expect(cellpipe.taskEditor.context).toHaveText(/^Cell 5 · task stats · depends on generate via samples$/);
    // And it offers the other task for "Depends on"
    const chip = cellpipe.taskEditor.panel.getByRole('button', { name: '+ generate' });
    await expect(chip).toBeVisible();
    // reached with Tab from "Depends on", with a focus ring of its own (not the browser's 1 px default)
    await cellpipe.taskEditor.field('Depends on').focus();
    await page.keyboard.press('Tab');
    await expect(chip).toBeFocused();
    const ring = await chip.evaluate((b) => {
      const style = getComputedStyle(b);
      return { style: style.outlineStyle, width: parseFloat(style.outlineWidth) };
    });
    expect(ring).toEqual({ style: 'solid', width: 2 });

    // When a GPU is typed but not applied, and another cell is selected
    await cellpipe.taskEditor.field('GPUs').fill('1');
    await page.notebook.selectCells(3);

    // Then the edit was not lost: it was applied to the cell that was left, and the panel says so
    await expect.poll(() => cellTags(page, 4)).toContain('gpu:1');
    await expect(cellpipe.taskEditor.status).toContainText('Your edits were applied to cell 5');
    await expect(cellpipe.taskEditor.context).toHaveText(/^Cell 4 · task generate · depends on no other task$/);
  });
});
