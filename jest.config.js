/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  testTimeout: 120_000,
  // Temporal servers are heavy on a 2-core machine: run test files two at a time.
  maxWorkers: 2,
  testPathIgnorePatterns: process.env.LONG_TESTS ? [] : ['\\.long\\.test\\.ts$'],
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
};
