// The browser tests that need a Kubernetes cluster: the same JupyterLab and companion server as
// playwright.config.js, the server running tasks on the Kubernetes test bed (kube-apiserver,
// scheduler, controller-manager, kwok GPU and MIG nodes) that scripts/ui-test-servers.sh starts.
//   scripts/ui-test.sh -c playwright.kubernetes.config.js
import { defineConfig } from '@playwright/test';
import base from './playwright.config.js';

export default defineConfig({
  ...base,
  testDir: './tests/kubernetes',
  testIgnore: [],
  reporter: [
    ['list'],
    ['json', { outputFile: '../.ci/out/ui-tests-kubernetes.json' }],
    ['html', { open: 'never', outputFolder: './playwright-report-kubernetes' }],
  ],
  webServer: {
    ...base.webServer,
    env: { ...process.env, CELLPIPE_UI_EXECUTOR: 'kubernetes' },
    // Starting the test bed comes first.
    timeout: 420_000,
  },
});
