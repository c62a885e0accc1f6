export { productionDeploy } from './deploy';
export { environment } from './environment';
export { previewDeploy } from './preview';
export { previewEnvironment } from './preview-environment';
