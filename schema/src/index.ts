export * from './spec.js';
export * from './api.js';
