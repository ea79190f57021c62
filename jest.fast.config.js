/**
 * `npm run test:fast`: the schema and server suites that need neither the Kubernetes test bed nor a
 * browser and are not marked slow. Left out without being listed here: a suite that starts the test
 * bed (it imports test/kubernetes-bed.ts) and one whose header comment has a line `@slow` (whole
 * servers driven end to end, kill -9 recovery, real OS users and cgroups, the runner's engine
 * matrix). `npm test` runs them all.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import schema from './schema/jest.config.js';
import server from './server/jest.config.js';

const serverTests = fileURLToPath(new URL('./server/test', import.meta.url));
const header = (text) => /^\/\*\*[\s\S]*?\*\//.exec(text)?.[0] ?? '';
const leftOut = readdirSync(serverTests).filter((f) => {
  if (!f.endsWith('.test.ts')) return false;
  const text = readFileSync(join(serverTests, f), 'utf8');
  return text.includes("from './kubernetes-bed.js'") || /^\s*\*\s*@slow\b/m.test(header(text));
});
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default {
  // Two workers even on a two-core machine: most of these suites wait on python3 processes.
  maxWorkers: 2,
  projects: [
    { ...schema, displayName: 'schema', rootDir: '<rootDir>/schema' },
    {
      ...server,
      displayName: 'server',
      rootDir: '<rootDir>/server',
      testPathIgnorePatterns: ['/node_modules/', ...leftOut.map((f) => `/test/${escape(f)}$`)],
    },
  ],
};
