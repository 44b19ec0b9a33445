export * from './pass';
export * from './registry';
export * from './pass-manager';
export * from './pipelines';
export * from './common';
