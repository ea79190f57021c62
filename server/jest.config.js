import base from '../jest.config.base.js';

// The runner's zipapp is built from server/runner/ before the tests, so they never run a stale one.
export default { ...base, globalSetup: '<rootDir>/test/build-runner.js' };
