import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { cellTags, codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe('undo of task edits made in the Cellpipe Task panel', () => {
  test('Ctrl+Z in the notebook undoes an Apply, Edit > Redo applies it again', async ({ page, tmpPath }) => {
    const cellpipe = new Cellpipe(page);

    // Given a cell with another tool's tag and no task
    await openNotebook(
      page,
      codeNotebook([{ source: 'x = 1', tags: ['hide-input'] }, { source: 'y = 2' }]),
      `${tmpPath}/undo.ipynb`,
    );
    await page.notebook.selectCells(0);
    await cellpipe.taskEditor.open();
    await expect(cellpipe.taskEditor.field('Task name')).toHaveValue('');

    // When a task is applied through the panel
    await cellpipe.taskEditor.tag({ 'Task name': 'train', GPUs: '1' });
    await expect.poll(() => cellTags(page, 0)).toEqual(['hide-input', 'task:train', 'gpu:1']);
    await expect(cellpipe.cells.badge(0)).toHaveText('train · 1 GPU');

    // And the user presses Ctrl+Z on that cell in the notebook
    await cellpipe.cells.undoWithKeyboard(0);

    // Then the cell's tags, its badge and the panel's form are as before
    await expect.poll(() => cellTags(page, 0)).toEqual(['hide-input']);
    await expect(cellpipe.cells.badge(0)).toHaveCount(0);
    await expect(cellpipe.taskEditor.field('Task name')).toHaveValue('');
    await expect(cellpipe.taskEditor.field('GPUs')).toHaveValue('');
    // And the cell's source is untouched
    expect(await page.notebook.getCellTextInput(0)).toBe('x = 1');

    // When the user redoes from the Edit menu, the task is back
    await cellpipe.cells.fromEditMenu(0, 'Redo');
    await expect.poll(() => cellTags(page, 0)).toEqual(['hide-input', 'task:train', 'gpu:1']);
    await expect(cellpipe.cells.badge(0)).toHaveText('train · 1 GPU');
    await expect(cellpipe.taskEditor.field('Task name')).toHaveValue('train');
  });

  test('Edit > Undo brings back a task removed with Clear, one step per panel action', async ({ page, tmpPath }) => {
    const cellpipe = new Cellpipe(page);

    // Given a task cell
    await openNotebook(
      page,
      codeNotebook([{ source: 'print(1)', tags: ['task:prep', 'cpu:2'] }]),
      `${tmpPath}/undo-clear.ipynb`,
    );
    await page.notebook.selectCells(0);
    await cellpipe.taskEditor.open();
    await expect(cellpipe.taskEditor.field('Task name')).toHaveValue('prep');
    await expect(cellpipe.cells.badge(0)).toHaveText('prep');

    // When the task is renamed, then cleared, through the panel
    await cellpipe.taskEditor.tag({ 'Task name': 'load' });
    await expect(cellpipe.cells.badge(0)).toHaveText('load');
    await cellpipe.taskEditor.clear.click();
    await expect.poll(() => cellTags(page, 0)).toEqual([]);
    await expect(cellpipe.cells.badge(0)).toHaveCount(0);

    // Then Edit > Undo restores the renamed task (the Clear alone is undone)
    await cellpipe.cells.fromEditMenu(0, 'Undo');
    await expect.poll(() => cellTags(page, 0)).toEqual(['task:load', 'cpu:2']);
    await expect(cellpipe.cells.badge(0)).toHaveText('load');
    await expect(cellpipe.taskEditor.field('Task name')).toHaveValue('load');

    // And a second Undo the original task
    await cellpipe.cells.fromEditMenu(0, 'Undo');
    await expect.poll(() => cellTags(page, 0)).toEqual(['task:prep', 'cpu:2']);
    await expect(cellpipe.cells.badge(0)).toHaveText('prep');
    await expect(cellpipe.taskEditor.field('Task name')).toHaveValue('prep');
  });
});
