import { Field, Float, Int, ObjectType } from 'type-graphql';
import { JSONObjectScalar } from '../scalars';

@ObjectType('PluginInfo')
export class PluginInfo {
  @Field() name: string;
  @Field(() => String, { nullable: true }) version: string | null;
  @Field(() => Int, { nullable: true, description: 'Changes stored and not yet delivered to the plugin (counted up to 100,000); null without a delivery subscription.' })
  deliveryLag: number | null;
  @Field(() => Float, { nullable: true, description: 'Seconds since the oldest change waiting for the plugin was stored (0 when none waits).' })
  deliveryLagSeconds: number | null;
  @Field(() => JSONObjectScalar, { nullable: true, description: "What the plugin reports about itself (its `status` hook), e.g. the recommendations plugin's served model and next training; null when it has none." })
  status: Record<string, unknown> | null;
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
