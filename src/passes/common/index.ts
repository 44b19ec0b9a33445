// Importing this module registers the common passes in the default registry.
export * from './identity-cleanup';
export * from './dce';
export * from './cse';
export * from './unused-initializers';
export * from './topological-sort';
export * from './constant-folding';
export * from './shape-inference';
export * from './evaluator';
