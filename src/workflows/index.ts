export { productionDeploy } from './deploy';
export { environment } from './environment';
