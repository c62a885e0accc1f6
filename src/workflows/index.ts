export { deploy } from './deploy';
export { environment } from './environment';
