/**
 * Shared jest setup of the TypeScript workspaces: ESM, ts-jest transpiling only (`tsc -b` does the type
 * checking), and @cellpipe/schema mapped to its sources so tests never run against a stale build.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  moduleNameMapper: {
    '^@cellpipe/schema$': '<rootDir>/../schema/src/index.ts',
    '^@cellpipe/schema/node$': '<rootDir>/../schema/src/node.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }],
  },
};
