import tseslint from 'typescript-eslint';

/** Each tsconfig that type-checks sources and tests, for the rules that need types. */
const PROJECTS = [
  'schema/tsconfig.test.json',
  'server/tsconfig.test.json',
  'extension/test/tsconfig.json',
  'ui-tests/tsconfig.json',
];
const TYPED = [
  'schema/{src,test}/**/*.ts',
  'server/{src,test}/**/*.ts',
  'extension/{src,test}/**/*.{ts,tsx}',
  'ui-tests/tests/**/*.ts',
];

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/lib/**',
      '**/node_modules/**',
      '**/labextension/**',
      '**/playwright-report/**',
      '**/test-results/**',
      '.ci/**',
      'coverage/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: TYPED,
    languageOptions: { parserOptions: { project: PROJECTS, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // In the server a rejection nobody handles ends the process: `void promise` does not handle it,
    // so every promise there is awaited, returned or given a rejection handler.
    files: ['schema/{src,test}/**/*.ts', 'server/{src,test}/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }] },
  },
);
