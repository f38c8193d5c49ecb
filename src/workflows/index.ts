/** Every workflow type the workers register. */
export { renderJob } from './render-job';
export { intakeJobs } from './intake';
export { renderAdmission } from './admission';
