/** Every workflow type the workers register. */
export { renderJob } from './render-job';
export { intakeJobs, intakeSweep } from './intake';
export { renderAdmission } from './admission';
