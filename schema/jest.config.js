/** ESM + TypeScript: ts-jest transpiles only; `tsc -b` does the type checking. */
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
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
};
