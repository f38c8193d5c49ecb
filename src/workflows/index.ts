/** Every workflow type the workers register. */
export { renderJob } from './render-job';
