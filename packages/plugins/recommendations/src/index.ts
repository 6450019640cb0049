export * from './models';
export * as evaluation from './eval';
