/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  testTimeout: 120_000,
  // Temporal servers and worker processes are heavy on a 2-core machine: one test file at a time,
  // so a file's timings are its own and not another file's load (the suite stays under 10 minutes).
  maxWorkers: 1,
  testPathIgnorePatterns: process.env.LONG_TESTS ? [] : ['\\.long\\.test\\.ts$'],
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
};
