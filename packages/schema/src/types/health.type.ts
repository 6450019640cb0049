import { Field, ObjectType } from 'type-graphql';

@ObjectType('PluginInfo')
export class PluginInfo {
  @Field() name: string;
  @Field(() => String, { nullable: true }) version: string | null;
}

/** Liveness and what this node runs. */
@ObjectType('Health')
export class HealthType {
  @Field() status: string;
  @Field() version: string;
  @Field({ description: 'embedded or external' }) database: string;
  @Field(() => [PluginInfo]) plugins: PluginInfo[];
  @Field(() => String, { nullable: true, description: 'TensorFlow.js backend in use (tensorflow, wasm or cpu), once a model has loaded it.' })
  mlBackend: string | null;
}
