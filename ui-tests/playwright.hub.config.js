// The JupyterHub browser tests (ui-tests/hub/): galata in real JupyterLab servers that a real
// JupyterHub started, with Cellpipe as the Hub's service. hub/global-setup.ts starts the hub (no
// webServer); scripts/hub-test.sh runs this.
import base from './playwright.config.js';

export default {
  ...base,
  testDir: './hub',
  outputDir: './test-results-hub',
  globalSetup: './hub/global-setup.ts',
  webServer: undefined,
  reporter: [
    ['list'],
    ['json', { outputFile: '../.ci/out/hub-ui-tests.json' }],
    ['html', { open: 'never', outputFolder: './playwright-report-hub' }],
  ],
};
