/** Screenshots as test output (attached to the report); CELLPIPE_DOCS_SCREENSHOTS=1 also refreshes docs/. */
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Locator, Page, TestInfo } from '@playwright/test';

const docsDir = fileURLToPath(new URL('../../../docs/', import.meta.url));

export async function saveScreenshot(testInfo: TestInfo, target: Page | Locator, name: string): Promise<void> {
  const path = testInfo.outputPath(name);
  await target.screenshot({ path, animations: 'disabled' });
  await testInfo.attach(name, { path, contentType: 'image/png' });
  if (process.env.CELLPIPE_DOCS_SCREENSHOTS === '1') {
    mkdirSync(docsDir, { recursive: true });
    copyFileSync(path, `${docsDir}${name}`);
  }
}
