import { expect, test } from '@jupyterlab/galata';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { Locator } from '@playwright/test';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';
import { saveScreenshot } from './helpers/screenshots.js';

/**
 * A 60-task pipeline as research code grows one: a source, ten branches of five stages each, a merge,
 * a report (which also reads the source) and a tail of seven follow-ups, wired by the variables each
 * task reads.
 */
function sixtyTasks() {
  const cells: { source: string; tags?: string[] }[] = [{ source: 'import math' }];
  cells.push({ source: 'base = list(range(100))', tags: ['task:source'] });
  for (let b = 0; b < 10; b++) {
    for (let s = 1; s <= 5; s++) {
      const input = s === 1 ? 'base' : `x${s - 1}_${b}`;
      cells.push({ source: `x${s}_${b} = [v + ${s} for v in ${input}]`, tags: [`task:stage${s}-${b}`] });
    }
  }
  const finals = Array.from({ length: 10 }, (_, b) => `x5_${b}`);
  cells.push({ source: `merged = sum(map(sum, [${finals.join(', ')}]))`, tags: ['task:merge'] });
  // A skip-level edge: the report also reads the source, across every rank in between
  cells.push({ source: 'report = {"total": merged, "n": len(base)}', tags: ['task:report'] });
  for (let k = 0; k < 7; k++) {
    const input = k === 0 ? 'report' : `follow${k - 1}`;
    cells.push({ source: `follow${k} = dict(${input}, step=${k})`, tags: [`task:follow-${k}`] });
  }
  return codeNotebook(cells);
}

/**
 * What makes a drawing unreadable, measured on screen: tasks whose boxes overlap, and edges that pass
 * through the box of a task other than the two they join (sampled along each path, a 3 px margin
 * inside each box so an arrowhead touching its own target's border does not count).
 */
function drawingFaults(svg: Locator): Promise<{ overlaps: string[]; crossings: string[] }> {
  return svg.evaluate((root: SVGSVGElement) => {
    const boxes = [...root.querySelectorAll<SVGGElement>('g[data-task]')].map((g) => ({
      id: g.dataset.task!,
      r: g.querySelector('rect')!.getBoundingClientRect(),
    }));
    const overlaps: string[] = [];
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const apart = a.r.right <= b.r.left || b.r.right <= a.r.left || a.r.bottom <= b.r.top || b.r.bottom <= a.r.top;
        if (!apart) overlaps.push(`${a.id}/${b.id}`);
      }
    }
    const crossings: string[] = [];
    for (const edge of root.querySelectorAll<SVGGElement>('g[data-edge]')) {
      const [from, to] = edge.dataset.edge!.split('->');
      const path = edge.querySelector<SVGPathElement>('path')!;
      const ctm = path.getScreenCTM()!;
      const length = path.getTotalLength();
      for (let at = 0; at <= length; at += 4) {
        const p = new DOMPoint(path.getPointAtLength(at).x, path.getPointAtLength(at).y).matrixTransform(ctm);
        const hit = boxes.find(
          (b) =>
            b.id !== from &&
            b.id !== to &&
            p.x > b.r.left + 3 &&
            p.x < b.r.right - 3 &&
            p.y > b.r.top + 3 &&
            p.y < b.r.bottom - 3,
        );
        if (hit) {
          crossings.push(`${edge.dataset.edge} under ${hit.id}`);
          break;
        }
      }
    }
    return { overlaps, crossings };
  });
}

test.describe('a graph you can read', () => {
  test('60 tasks at the default sidebar width: text at least 11 px, zoom, fit, open in the main area', async ({
    page,
    tmpPath,
  }, testInfo) => {
    const cellpipe = new Cellpipe(page);
    await openNotebook(page, sixtyTasks(), `${tmpPath}/sixty.ipynb`);
    // The notebook was written here without what JupyterLab adds once its kernel is up (cell ids, the
    // kernel's kernelspec and language_info), which leaves it unsaved: save that first, so the tab
    // shows what Cellpipe does to the notebook below (nothing).
    await expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toBeVisible({ timeout: 60_000 });
    await page.notebook.save();
    const notebookTab = page.getByRole('tab', { name: /sixty\.ipynb/ });
    await expect(notebookTab).not.toHaveClass(/jp-mod-dirty/);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(60);
    await expect(cellpipe.pipeline.problems.getByRole('button')).toHaveCount(0);

    // Node names render at 11 px or more, and edges carry the variable that flows
    const namePx = () =>
      cellpipe.pipeline
        .task('stage3-4')
        .locator('text')
        .first()
        .evaluate((text: SVGTextElement) => {
          const svg = text.ownerSVGElement!;
          const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
          return parseFloat(getComputedStyle(text).fontSize) * scale;
        });
    expect(await namePx()).toBeGreaterThanOrEqual(11);
    await expect(cellpipe.pipeline.edgeLabel('stage2-4->stage3-4')).toHaveText('x2_4');
    await expect(cellpipe.pipeline.edgeLabel('source->stage1-0')).toHaveText('base');
    await expect(cellpipe.pipeline.edgeLabel('source->report')).toHaveText('base');
    // Top to bottom: a stage sits below the one it reads from
    await expect(cellpipe.pipeline.drawing).toHaveAttribute('data-direction', 'TB');
    const y = async (task: string) => (await cellpipe.pipeline.task(task).boundingBox())!.y;
    expect(await y('stage1-0')).toBeLessThan(await y('stage2-0'));
    expect(await y('merge')).toBeLessThan(await y('report'));
    // No two tasks overlap, and no edge (the skip-level one included) runs behind a task it does not join
    expect(await drawingFaults(cellpipe.pipeline.drawing)).toEqual({ overlaps: [], crossings: [] });
    await testInfo.attach('graph-60-sidebar.png', {
      body: await cellpipe.pipeline.graph.screenshot({ animations: 'disabled' }),
      contentType: 'image/png',
    });

    // Zoom: out and back; Fit shows it all; 100% is the drawing's own size
    const zoom = cellpipe.pipeline.graph.locator('.jp-cellpipe-Dag-zoom');
    const before = await zoom.innerText();
    await cellpipe.pipeline.graph.getByRole('button', { name: 'Zoom out' }).click();
    await expect(zoom).not.toHaveText(before);
    await cellpipe.pipeline.graph.getByRole('button', { name: 'Zoom in' }).click();
    await expect(zoom).toHaveText(before);
    await cellpipe.pipeline.graph.getByRole('button', { name: 'Fit', exact: true }).click();
    await expect(zoom).not.toHaveText(before);
    const fits = await cellpipe.pipeline.drawing.evaluate((svg: SVGSVGElement) => {
      const box = svg.getBoundingClientRect();
      const scroller = svg.parentElement!;
      return box.width <= scroller.clientWidth + 1 && box.height <= Math.max(scroller.clientHeight, 120) + 1;
    });
    expect(fits).toBe(true);
    await cellpipe.pipeline.graph.getByRole('button', { name: '100%', exact: true }).click();
    await expect(zoom).toHaveText('100%');

    // The keyboard: a task is focusable, the down arrow moves to the task that reads from it, Enter selects its cell
    await cellpipe.pipeline.task('stage1-2').focus();
    await page.keyboard.press('ArrowDown');
    await expect(cellpipe.pipeline.task('stage2-2')).toBeFocused();
    await page.keyboard.press('Enter');
    const active = await page.evaluate(
      () => (window.jupyterapp.shell.currentWidget as NotebookPanel).content.activeCellIndex,
    );
    // cells: 0 setup, 1 source, then five stages per branch: stage2 of branch 2 is cell 2 + 2*5 + 1
    expect(active).toBe(13);

    // Open in the main area: left to right, and both drawings keep their own arrowheads
    await cellpipe.pipeline.graph.getByRole('button', { name: 'Open', exact: true }).click();
    const main = page.locator('#cellpipe-pipeline-graph');
    const wide = main.locator('svg.jp-cellpipe-Dag');
    await expect(wide.locator('g[data-task]')).toHaveCount(60);
    await expect(wide).toHaveAttribute('data-direction', 'LR');
    // Left to right: a stage sits right of the one it reads from
    const x = async (task: string) => (await wide.locator(`g[data-task="${task}"]`).boundingBox())!.x;
    expect(await x('stage1-0')).toBeLessThan(await x('stage2-0'));
    expect(await drawingFaults(wide)).toEqual({ overlaps: [], crossings: [] });
    // Headed by the notebook's file name, its path in the tooltip
    const title = main.getByRole('heading', { name: 'sixty.ipynb', exact: true });
    await expect(title).toHaveAttribute('title', `${tmpPath}/sixty.ipynb`);
    // Drawing it twice, selecting a cell from it and opening it in the main area left the notebook saved
    await expect(notebookTab).not.toHaveClass(/jp-mod-dirty/);
    await saveScreenshot(testInfo, page, 'graph.png');
    await page.sidebar.close('left');
    const broken = await page.evaluate(() => {
      const ids = [...document.querySelectorAll('marker')].map((m) => m.id);
      const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
      const unresolved = [...document.querySelectorAll('#cellpipe-pipeline-graph path[marker-end]')].filter((p) => {
        const id = /url\(#([^)]+)\)/.exec(p.getAttribute('marker-end') ?? '')?.[1] ?? '';
        return !p.closest('svg')?.querySelector(`marker#${CSS.escape(id)}`);
      });
      return { duplicates, unresolved: unresolved.length };
    });
    expect(broken).toEqual({ duplicates: [], unresolved: 0 });
  });
});
