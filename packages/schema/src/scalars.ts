import { GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';

/** Any JSON value. */
export const JSONScalar = GraphQLJSON;
/** A JSON object. */
export const JSONObjectScalar = GraphQLJSONObject;
