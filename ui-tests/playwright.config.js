// Browser tests of the Cellpipe JupyterLab extension: galata's defaults, Debian's Chromium (Playwright
// never downloads a browser here), one worker (the machines are small and shared), and the servers
// started by scripts/ui-test-servers.sh.
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';
import baseConfig from '@jupyterlab/galata/lib/playwright-config.js';

// The servers' scratch folder (JupyterLab's root is <work>/root), shared with the tests through the
// environment the web server and the workers inherit.
process.env.CELLPIPE_UI_WORK ??= fileURLToPath(new URL('./.work', import.meta.url));

const port = Number(process.env.CELLPIPE_UI_PORT ?? 8888);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  ...baseConfig,
  testDir: './tests',
  // Those need the Kubernetes test bed: playwright.kubernetes.config.js.
  testIgnore: ['kubernetes/**'],
  outputDir: './test-results',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // A pipeline run starts real Python processes on a busy machine.
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [
    ['list'],
    // The repo's test driver adds up every JSON report in .ci/out/.
    ['json', { outputFile: '../.ci/out/ui-tests.json' }],
    ['html', { open: 'never', outputFolder: './playwright-report' }],
  ],
  use: {
    ...baseConfig.use,
    baseURL,
    viewport: { width: 1366, height: 850 },
    // galata's user mock answers every URL matching /.*\/api\/me.*/, the Cellpipe proxy's
    // /cellpipe/api/me included: the tests need the companion server's real answer.
    mockUser: false,
    trace: 'retain-on-failure',
    // Video needs Playwright's own ffmpeg download; screenshots are enough.
    video: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CELLPIPE_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: 'bash ../scripts/ui-test-servers.sh',
    url: `${baseURL}/lab`,
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 10_000 },
  },
});
