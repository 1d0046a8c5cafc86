// The single-project jest config Stryker's jest runner needs (`npm run mutation`): the unit project of
// jest.config.js (its transform, module mapping and environment, imported, not copied), narrowed to
// the tests of the code under mutation, functions/commons/workflows/.
import config from './jest.config.js';

const unit = config.projects.find((project) => project.displayName === 'unit');
if (unit === undefined) throw new Error('jest.config.js has no "unit" project');
const unitProject = { ...unit };
delete unitProject.displayName;

export default {
  ...unitProject,
  testMatch: ['<rootDir>/functions/commons/workflows/**/*.test.ts'],
};
