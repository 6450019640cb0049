import { describe, expect, it } from 'vitest';
import { isObjectType } from 'graphql';
import { Extensions, Field, FieldResolver, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { definePlugin, type ProfileRecord } from '@rapport/core';
import { buildRapportSchema, fieldDeclarationOf, Governed, Profile } from '@rapport/schema/internal';

/** `@Governed` declarations ride on type-graphql's field extensions, and bad ones stop the build. */
const popular = () => ['popular'];

@Resolver(() => Profile)
class DeclaredResolver {
  @Governed({ purposes: ['personalization'], derivesFrom: ['events'], pii: true, fallback: popular })
  @FieldResolver(() => [String], { nullable: true })
  picks(@Root() p: ProfileRecord): string[] {
    return [p.id];
  }
}

@Resolver(() => Profile)
class HandWrittenResolver {
  @Extensions({ governed: { purposes: [], roles: [], pii: false, derivesFrom: [], fallback: popular } })
  @FieldResolver(() => String, { nullable: true })
  forged(): string {
    return 'x';
  }
}

@ObjectType('GovernedWidget')
class Widget {
  @Governed({ purposes: ['personalization'] })
  @Field(() => String)
  secret: string;
}

@Resolver(() => Widget)
class WidgetResolver {
  @Query(() => Widget, { nullable: true })
  governedWidget(): Widget | null {
    return null;
  }
}

const plugin = (resolvers: Function[], fields: Array<{ type: string; field: string; purposes: string[]; derivesFrom?: string[] }> = []) =>
  definePlugin(() => ({ name: 'governed-test', resolvers, fields }))();

describe('@Governed', () => {
  it("rides on the field's extensions, fallback included, and is read as the field's declaration", async () => {
    const schema = await buildRapportSchema([plugin([DeclaredResolver], [{ type: 'Profile', field: 'picks', purposes: ['personalization'], derivesFrom: ['trait:plan'] }])]);
    const profile = schema.getType('Profile');
    if (!isObjectType(profile)) throw new Error('no Profile');
    const ext = profile.getFields().picks.extensions as { governed: { purposes: string[]; derivesFrom: string[]; pii: boolean; fallback: unknown } };
    expect(ext.governed).toMatchObject({ purposes: ['personalization'], derivesFrom: ['events'], pii: true });
    expect(ext.governed.fallback).toBe(popular);
    // The plugin's fields entry for the same field agrees on purposes and adds what it derives from.
    expect(fieldDeclarationOf(schema, 'Profile', 'picks')).toEqual({
      policy: { purposes: ['personalization'], roles: [], pii: true },
      derives: [{ kind: 'collection', name: 'events' }, { kind: 'trait', path: 'plan' }],
      fallback: true,
    });
  });

  it('declarations that disagree, name no field, sit on a non-null field, or forge a fallback stop the build', async () => {
    await expect(buildRapportSchema([plugin([DeclaredResolver], [{ type: 'Profile', field: 'picks', purposes: ['marketing'] }])])).rejects.toThrow(
      'Profile.picks is declared with purposes [personalization] (@Governed) and [marketing] (plugin governed-test fields): declare them once',
    );
    await expect(buildRapportSchema([plugin([], [{ type: 'Profile', field: 'shoeSize', purposes: ['marketing'] }])])).rejects.toThrow(
      'plugin governed-test declares Profile.shoeSize, which is not a field of the schema',
    );
    await expect(buildRapportSchema([plugin([WidgetResolver])])).rejects.toThrow('GovernedWidget.secret is non-null');
    await expect(buildRapportSchema([plugin([HandWrittenResolver])])).rejects.toThrow('Profile.forged: a fallback is declared with @Governed');
  });

  it('refuses bad options where it is written', () => {
    expect(() => Governed({ purposes: [''] })).toThrow('@Governed: purposes must be an array of non-empty strings');
    expect(() => Governed({ fallback: 'popular' as never })).toThrow('@Governed: fallback must be a function');
  });
});
