/**
 * `npm run test:fast`: the schema and server suites that need neither the Kubernetes test bed nor a
 * browser, less the slowest end-to-end ones (the CLI driving whole servers, the runner's engine
 * matrix, kill -9 recovery), which `npm test` runs. A suite that starts the test bed (it imports
 * test/kubernetes-bed.ts) is left out without being listed here.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import schema from './schema/jest.config.js';
import server from './server/jest.config.js';

const SLOW = ['cli.test.ts', 'runner.test.ts', 'crash.test.ts'];
const serverTests = fileURLToPath(new URL('./server/test', import.meta.url));
const needsBed = readdirSync(serverTests).filter(
  (f) => f.endsWith('.test.ts') && readFileSync(join(serverTests, f), 'utf8').includes("from './kubernetes-bed.js'"),
);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default {
  projects: [
    { ...schema, displayName: 'schema', rootDir: '<rootDir>/schema' },
    {
      ...server,
      displayName: 'server',
      rootDir: '<rootDir>/server',
      testPathIgnorePatterns: ['/node_modules/', ...[...SLOW, ...needsBed].map((f) => `/test/${escape(f)}$`)],
    },
  ],
};
