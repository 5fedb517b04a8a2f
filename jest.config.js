/**
 * Tests run the TypeScript sources through ts-jest, which emits decorator metadata (type-graphql needs it).
 * tsconfig.jest.json: transpile only (the type check is `npm run typecheck`, run by CI before the tests).
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
    // postgres.js with the fix of src/db/postgres-driver-patch.ts, as the server loads it
    'node_modules/postgres/cjs/src/connection\\.js$': '<rootDir>/test/helpers/postgres-driver-transform.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!postgres/cjs/src/connection\\.js$)'],
  setupFiles: ['reflect-metadata'],
  globalSetup: '<rootDir>/test/helpers/pglite-template.ts',
  testTimeout: 60000,
  maxWorkers: 1,
};
