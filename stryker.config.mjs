// Mutation testing of the workflows (`npm run mutation`; CPU-heavy: run it through the shared lock).
// Reports: clear text on stdout, JSON in reports/mutation/ (gitignored).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.stryker.config.js' },
  mutate: [
    'functions/commons/workflows/**/*.ts',
    '!functions/commons/workflows/**/*.test.ts',
    '!functions/commons/workflows/**/*.test-support.ts',
  ],
  coverageAnalysis: 'perTest',
  // The machine's two cores are shared; the run holds /work/heavy.sh's lock.
  concurrency: 2,
  plugins: ['@stryker-mutator/jest-runner', './scripts/stryker-plugins.mjs'],
  ignorers: ['WorkflowLogCalls'],
  reporters: ['clear-text', 'json', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['cdk.out', 'coverage', 'reports', '.ci'],
  cleanTempDir: 'always',
};
