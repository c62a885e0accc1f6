export { productionDeploy } from './deploy';
