import { expect, test } from '@jupyterlab/galata';
import { Cellpipe, proxied } from './pages/cellpipe.js';

test.describe('JupyterLab with the Cellpipe extension', () => {
  test('loads, activates every Cellpipe plugin, and reaches the companion server through the proxy', async ({
    page,
  }) => {
    const cellpipe = new Cellpipe(page);

    // Given JupyterLab has started (galata waits for the application)
    await expect(page.locator('#jp-main-dock-panel')).toBeVisible();

    // Then the extension's plugins are registered and activated
    const plugins = await cellpipe.plugins();
    expect(Object.keys(plugins).length).toBeGreaterThan(0);
    for (const [id, activated] of Object.entries(plugins)) {
      expect.soft(activated, `${id} activated`).toBe(true);
    }

    // And the proxy answers for the companion server
    const me = await page.request.get(proxied('me'));
    expect(me.status()).toBe(200);
    const body: unknown = await me.json();
    expect(body).toEqual(expect.objectContaining({ user: expect.any(String) }));
  });

  test('the Cellpipe panels open, and the status bar item opens the monitor', async ({ page }) => {
    const cellpipe = new Cellpipe(page);
    await cellpipe.pipeline.open();
    await cellpipe.taskEditor.open();

    // Given the status bar counts the user's running and waiting tasks (idle when there are none)
    await expect(cellpipe.statusItem).toHaveText(/^Cellpipe: (idle|\d+ tasks? running, \d+ waiting)$/);
    // When it is clicked, the Cellpipe Jobs monitor opens
    await cellpipe.statusItem.click();
    await expect(cellpipe.monitor.widget).toBeVisible();
    await expect(page.getByRole('tab', { name: 'Cellpipe Jobs' })).toBeVisible();
  });
});
