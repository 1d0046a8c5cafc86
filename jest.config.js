// Two projects, as in aws-samples/serverless-test-samples: `unit` stubs the edges (undici MockAgent,
// aws-sdk-client-mock); `integration` talks only to real Consul agents and a real moto server.
// TypeScript is transformed by SWC (type checking is `tsc --noEmit`, run by `npm test`); @middy is
// ESM-only, so it is transformed too instead of being ignored like the rest of node_modules.
const transform = {
  '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2023' }, module: { type: 'commonjs' } }],
};
const shared = {
  transform,
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  moduleNameMapper: {
    // middy 7 exports only under the `import` condition, which jest's CommonJS resolver does not use.
    '^@middy/(core|util)$': '<rootDir>/node_modules/@middy/$1/index.js',
    '^#commons/(.*)$': '<rootDir>/functions/commons/$1',
    '^#devkit/(.*)$': '<rootDir>/devkit/$1',
    '^#test/(.*)$': '<rootDir>/test/$1',
  },
  testEnvironment: 'node',
};

export default {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.mjs'],
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/{functions,infra,events,test/unit}/**/*.test.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      testEnvironment: '<rootDir>/test/support/integration-environment.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/integration-setup.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
