/** A journey's definition, checked: ordered stages, each entered by a rule over events and traits. */
import { ValidationError } from '@rapport/core';
import type { PropertyEquals } from './funnel.definition';

/** An event condition: at least `atLeast` events of a name (with property filters), ever or in the last `withinMs`; or none of them (`absent`). */
export interface EventConditionSpec {
  kind: 'event';
  event: string;
  where: PropertyEquals[];
  /** How many matching events are needed (1 when absent). */
  atLeast: number;
  /** Only events less than this long before now count, in ms; `null`: any time. */
  withinMs: number | null;
  /** True: the condition holds when there is no matching event (in the window). */
  absent: boolean;
}

/**
 * A trait condition on the latest value of a trait key (from identify events): exactly one comparison is set, except
 * that `greaterThan` and `lessThan` may be set together (a range, both bounds exclusive). A person without the trait
 * (never set, or set to null last) matches none of them but `exists: false`.
 * Definitions stored before `notEquals`, `in`, `lessThan` and `exists` existed lack those keys: read them as null.
 */
export interface TraitConditionSpec {
  kind: 'trait';
  trait: string;
  /** The value, as text, equals this. */
  equals: string | null;
  /** The value is a number (or a plain decimal string) greater than this. */
  greaterThan: number | null;
  /** The value is a number (or a plain decimal string) less than this. */
  lessThan?: number | null;
  /** The value, as text, is one of these. */
  in?: string[] | null;
  /** True: the trait is set (not null); false: it is not. */
  exists?: boolean | null;
  /** The value is set and, as text, differs from this. */
  notEquals?: string | null;
}

/** A condition that holds when the conditions of any one of its groups all hold (OR of ANDs, one level deep). */
export interface AnyOfConditionSpec {
  kind: 'anyOf';
  groups: SimpleConditionSpec[][];
}

/** An event or trait condition: what a stage's rule and an `anyOf` group are made of. */
export type SimpleConditionSpec = EventConditionSpec | TraitConditionSpec;
/** A condition of a stage's rule: an event or trait condition, or an `anyOf` of groups of them. */
export type ConditionSpec = SimpleConditionSpec | AnyOfConditionSpec;

/** A stage: a name and its rule (every condition must hold). */
export interface StageSpec {
  name: string;
  when: ConditionSpec[];
}

/** A checked journey. A person is in the last stage, in order, whose rule holds (none: not in the journey). */
export interface JourneySpec {
  name: string;
  stages: StageSpec[];
}

export const MIN_STAGES = 2;
export const MAX_STAGES = 20;
/** Most conditions in a stage's `when`, and in each `anyOf` group. */
export const MAX_CONDITIONS = 10;
/** Most groups in an `anyOf`. */
export const MAX_ANY_OF_GROUPS = 10;
/** Most event and trait conditions in one stage, counting those inside `anyOf` groups. */
export const MAX_STAGE_CONDITIONS = 30;
/** Most values in a trait condition's `in`. */
export const MAX_IN_VALUES = 50;
export const MAX_FILTERS = 5;
export const MAX_AT_LEAST = 1000;
/** Longest window of a condition: 5 years, in seconds. */
export const MAX_WITHIN_SECONDS = 5 * 365 * 86400;
export const MAX_NAME_CHARS = 200;
/** Most journeys a deployment may define. */
export const MAX_JOURNEYS = 50;

/**
 * A condition as GraphQL hands it over: exactly one of `event` (with its options), `trait` (with one comparison:
 * `equals`, `notEquals`, `in`, `exists`, or `greaterThan` and/or `lessThan`) or `anyOf` (groups of conditions).
 */
export interface ConditionInput {
  event?: string | null;
  where?: PropertyEquals[] | null;
  atLeast?: number | null;
  withinSeconds?: number | null;
  absent?: boolean | null;
  trait?: string | null;
  equals?: string | null;
  greaterThan?: number | null;
  lessThan?: number | null;
  in?: string[] | null;
  exists?: boolean | null;
  notEquals?: string | null;
  anyOf?: { when: ConditionInput[] }[] | null;
}

/** A journey as GraphQL (or the options) hand it over. */
export interface JourneyInput {
  name: string;
  stages: { name: string; when: ConditionInput[] }[];
}

function checkName(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_NAME_CHARS) {
    throw new ValidationError(field, 'length', `must be 1 to ${MAX_NAME_CHARS} characters, not blank`);
  }
  return v;
}

const given = (v: unknown) => v !== undefined && v !== null;

const TRAIT_KEYS = ['equals', 'notEquals', 'in', 'exists', 'greaterThan', 'lessThan'] as const;
const EVENT_KEYS = ['where', 'atLeast', 'withinSeconds', 'absent'] as const;

function checkEventCondition(field: string, c: ConditionInput): EventConditionSpec {
  for (const k of [...TRAIT_KEYS, 'anyOf'] as const) {
    if (given(c[k])) throw new ValidationError(`${field}.${k}`, 'kind', `${k} belongs to ${k === 'anyOf' ? 'a condition of its own' : 'a trait condition'}, not an event condition`);
  }
  const absent = c.absent === true;
  const where = c.where ?? [];
  if (where.length > MAX_FILTERS) throw new ValidationError(`${field}.where`, 'maxItems', `at most ${MAX_FILTERS} filters, got ${where.length}`);
  if (absent && given(c.atLeast)) throw new ValidationError(`${field}.atLeast`, 'absent', 'an absent condition counts no events: leave atLeast out');
  const atLeast = c.atLeast ?? 1;
  if (!Number.isInteger(atLeast) || atLeast < 1 || atLeast > MAX_AT_LEAST) {
    throw new ValidationError(`${field}.atLeast`, 'range', `must be 1 to ${MAX_AT_LEAST}, got ${atLeast}`);
  }
  const within = c.withinSeconds ?? null;
  if (within !== null && (!Number.isInteger(within) || within < 1 || within > MAX_WITHIN_SECONDS)) {
    throw new ValidationError(`${field}.withinSeconds`, 'range', `must be 1 to ${MAX_WITHIN_SECONDS} seconds (5 years), got ${within}`);
  }
  return {
    kind: 'event',
    event: checkName(`${field}.event`, c.event),
    where: where.map((f, i) => ({ property: checkName(`${field}.where[${i}].property`, f.property), equals: String(f.equals) })),
    atLeast,
    withinMs: within === null ? null : within * 1000,
    absent,
  };
}

function checkText(field: string, v: unknown): string {
  const t = String(v);
  if (t.length > MAX_NAME_CHARS) throw new ValidationError(field, 'length', `at most ${MAX_NAME_CHARS} characters`);
  return t;
}

function checkNumber(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(field, 'number', 'must be a finite number');
  return v;
}

function checkTraitCondition(field: string, c: ConditionInput): TraitConditionSpec {
  for (const k of [...EVENT_KEYS, 'anyOf'] as const) {
    if (given(c[k])) throw new ValidationError(`${field}.${k}`, 'kind', `${k} belongs to ${k === 'anyOf' ? 'a condition of its own' : 'an event condition'}, not a trait condition`);
  }
  // One comparison; greaterThan and lessThan together are one (a range).
  const set = TRAIT_KEYS.filter((k) => given(c[k]));
  const comparisons = set.filter((k) => k !== 'lessThan' || !set.includes('greaterThan'));
  if (comparisons.length !== 1) {
    throw new ValidationError(field, 'oneOf', 'a trait condition has exactly one of equals, notEquals, in, exists and greaterThan/lessThan (those two may form a range)'
      + (set.length > 1 ? `, got ${set.join(', ')}` : ''));
  }
  const spec: TraitConditionSpec = {
    kind: 'trait', trait: checkName(`${field}.trait`, c.trait), equals: null, greaterThan: null, lessThan: null, in: null, exists: null, notEquals: null,
  };
  if (given(c.equals)) spec.equals = checkText(`${field}.equals`, c.equals);
  if (given(c.notEquals)) spec.notEquals = checkText(`${field}.notEquals`, c.notEquals);
  if (given(c.exists)) {
    if (typeof c.exists !== 'boolean') throw new ValidationError(`${field}.exists`, 'boolean', 'must be true (the trait is set) or false (it is not)');
    spec.exists = c.exists;
  }
  if (given(c.in)) {
    const values = c.in!;
    if (!Array.isArray(values) || values.length < 1 || values.length > MAX_IN_VALUES) {
      throw new ValidationError(`${field}.in`, 'count', `a list of 1 to ${MAX_IN_VALUES} values, got ${Array.isArray(values) ? values.length : typeof values}`);
    }
    values.forEach((v, i) => {
      if (!given(v)) throw new ValidationError(`${field}.in[${i}]`, 'text', 'a value, not null (use exists: false for a trait that is not set)');
      checkText(`${field}.in[${i}]`, v);
    });
    spec.in = [...new Set(values.map(String))];
  }
  if (given(c.greaterThan)) spec.greaterThan = checkNumber(`${field}.greaterThan`, c.greaterThan);
  if (given(c.lessThan)) spec.lessThan = checkNumber(`${field}.lessThan`, c.lessThan);
  if (spec.greaterThan !== null && spec.lessThan !== null && !(spec.greaterThan < spec.lessThan!)) {
    throw new ValidationError(`${field}.lessThan`, 'range', `a range holds no value unless greaterThan < lessThan, got ${spec.greaterThan} and ${spec.lessThan}`);
  }
  return spec;
}

function checkSimpleCondition(field: string, c: ConditionInput): SimpleConditionSpec {
  if (given(c.event) === given(c.trait)) throw new ValidationError(field, 'oneOf', 'a condition names exactly one of event, trait and anyOf');
  return given(c.event) ? checkEventCondition(field, c) : checkTraitCondition(field, c);
}

function checkConditionList(field: string, when: unknown, what: string): ConditionInput[] {
  const list = (when ?? []) as ConditionInput[];
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_CONDITIONS) {
    throw new ValidationError(field, 'count', `${what} has 1 to ${MAX_CONDITIONS} conditions, got ${Array.isArray(list) ? list.length : 0}`);
  }
  return list;
}

function checkAnyOf(field: string, c: ConditionInput): AnyOfConditionSpec {
  for (const k of ['event', 'trait', ...EVENT_KEYS, ...TRAIT_KEYS] as const) {
    if (given(c[k])) throw new ValidationError(`${field}.${k}`, 'kind', `${k} does not belong beside anyOf: put it in a condition of one of its groups`);
  }
  const groups = c.anyOf!;
  if (!Array.isArray(groups) || groups.length < 2 || groups.length > MAX_ANY_OF_GROUPS) {
    throw new ValidationError(`${field}.anyOf`, 'count', `anyOf has 2 to ${MAX_ANY_OF_GROUPS} groups (one group is a plain rule), got ${Array.isArray(groups) ? groups.length : 0}`);
  }
  return {
    kind: 'anyOf',
    groups: groups.map((g, k) => {
      const gf = `${field}.anyOf[${k}]`;
      return checkConditionList(`${gf}.when`, g?.when, 'a group of anyOf').map((inner, l) => {
        const cf = `${gf}.when[${l}]`;
        if (given(inner.anyOf)) throw new ValidationError(`${cf}.anyOf`, 'depth', 'anyOf nests one level deep: a condition inside anyOf is an event or a trait condition');
        return checkSimpleCondition(cf, inner);
      });
    }),
  };
}

/** The event and trait conditions of a list, those inside `anyOf` groups included. */
export function flatConditions(when: readonly ConditionSpec[]): SimpleConditionSpec[] {
  return when.flatMap((c) => (c.kind === 'anyOf' ? c.groups.flat() : [c]));
}

/**
 * Checks a journey; a bad one throws a ValidationError naming the field (`input.stages[2].when[0].withinSeconds`) and
 * the rule. `prefix` is the field path of the input (`input` for the `defineJourney` argument).
 */
export function checkJourney(a: JourneyInput, prefix = 'input'): JourneySpec {
  const name = checkName(`${prefix}.name`, a?.name);
  const stages = a.stages ?? [];
  if (stages.length < MIN_STAGES || stages.length > MAX_STAGES) {
    throw new ValidationError(`${prefix}.stages`, 'count', `a journey has ${MIN_STAGES} to ${MAX_STAGES} stages, got ${stages.length}`);
  }
  const seen = new Set<string>();
  return {
    name,
    stages: stages.map((s, i): StageSpec => {
      const field = `${prefix}.stages[${i}]`;
      const stageName = checkName(`${field}.name`, s.name);
      if (seen.has(stageName)) throw new ValidationError(`${field}.name`, 'unique', `stage names are unique in a journey: ${JSON.stringify(stageName.slice(0, 80))} is used twice`);
      seen.add(stageName);
      const when = checkConditionList(`${field}.when`, s.when, "a stage's rule").map((c, j): ConditionSpec => {
        const cf = `${field}.when[${j}]`;
        const kinds = [given(c.event), given(c.trait), given(c.anyOf)].filter(Boolean).length;
        if (kinds !== 1) throw new ValidationError(cf, 'oneOf', 'a condition names exactly one of event, trait and anyOf');
        return given(c.anyOf) ? checkAnyOf(cf, c) : checkSimpleCondition(cf, c);
      });
      const total = flatConditions(when).length;
      if (total > MAX_STAGE_CONDITIONS) {
        throw new ValidationError(`${field}.when`, 'maxConditions', `a stage's rule has at most ${MAX_STAGE_CONDITIONS} event and trait conditions, anyOf groups included, got ${total}`);
      }
      return { name: stageName, when };
    }),
  };
}

/** The trait keys a set of journeys reads: the only ones the plugin keeps. */
export function traitKeysOf(journeys: readonly JourneySpec[]): Set<string> {
  const keys = new Set<string>();
  for (const j of journeys) for (const s of j.stages) for (const c of flatConditions(s.when)) if (c.kind === 'trait') keys.add(c.trait);
  return keys;
}

/** The event conditions with a window: what can change a person's stage with time alone. */
export function windowedConditions(j: JourneySpec): EventConditionSpec[] {
  return j.stages.flatMap((s) => flatConditions(s.when).filter((c): c is EventConditionSpec => c.kind === 'event' && c.withinMs !== null));
}

/**
 * True when the condition holds for a person with no events and no traits at all (an `absent` event condition,
 * `exists: false`, or an `anyOf` with a group of only such conditions): a stage made of them can be reached by an
 * event no rule names.
 */
export function holdsForNobody(c: ConditionSpec): boolean {
  if (c.kind === 'event') return c.absent;
  if (c.kind === 'trait') return c.exists === false;
  return c.groups.some((g) => g.every(holdsForNobody));
}
