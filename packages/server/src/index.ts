export { createServer, startServer, PURPOSE_HEADER, type RapportServer, type ServerOptions } from './server';
export { defaultPlugins } from './config/default-plugins';
export { startCluster, runClusterWorker, workerCount, type ClusterHandle } from './cluster';
export { createGraphQLEngine, type GraphQLEngine } from './graphql/graphql-engine';
