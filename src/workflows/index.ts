export { deploy } from './deploy';
export { environment } from './environment';
export { report } from './report';
