// The GPU layer's errors are declared with every other error class in src/errors.ts; gpu/index.ts exports them from here.
export * from '../errors';
