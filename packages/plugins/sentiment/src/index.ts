export * from './models';
export { sentimentPlugin } from './plugin/sentiment.plugin';
export type { SentimentOptions, TextSource, HandoffOptions } from './plugin/options';
export { DEFAULT_SOURCES, DEFAULT_REQUEST_PATTERN, MAX_STORED_CHARS, HANDOFF_PERMISSION, SUBMIT_PERMISSION } from './plugin/options';
export { MAX_INPUT_CHARS } from './plugin/sentiment.resolver';
export { sentimentLoaders, type SentimentLoaders } from './plugin/sentiment.loaders';
