/**
 * ESM + TypeScript like the other workspaces. The tested modules are the extension's pure parts (tag
 * mapping, API client, job-state reducers); they import no JupyterLab package, so no ESM packages in
 * node_modules need transforming.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  moduleNameMapper: {
    '^@cellpipe/schema$': '<rootDir>/../schema/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }],
  },
};
