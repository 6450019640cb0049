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

/** A trait condition: the latest value of a trait key (from identify events) equals a text, or is a number greater than one. */
export interface TraitConditionSpec {
  kind: 'trait';
  trait: string;
  equals: string | null;
  greaterThan: number | null;
}

export type ConditionSpec = EventConditionSpec | TraitConditionSpec;

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
export const MAX_CONDITIONS = 10;
export const MAX_FILTERS = 5;
export const MAX_AT_LEAST = 1000;
/** Longest window of a condition: 5 years, in seconds. */
export const MAX_WITHIN_SECONDS = 5 * 365 * 86400;
export const MAX_NAME_CHARS = 200;
/** Most journeys a deployment may define. */
export const MAX_JOURNEYS = 50;

/** A condition as GraphQL hands it over: either `event` (with its options) or `trait` (with `equals` or `greaterThan`). */
export interface ConditionInput {
  event?: string | null;
  where?: PropertyEquals[] | null;
  atLeast?: number | null;
  withinSeconds?: number | null;
  absent?: boolean | null;
  trait?: string | null;
  equals?: string | null;
  greaterThan?: number | null;
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

function checkEventCondition(field: string, c: ConditionInput): EventConditionSpec {
  for (const k of ['equals', 'greaterThan'] as const) {
    if (given(c[k])) throw new ValidationError(`${field}.${k}`, 'kind', `${k} belongs to a trait condition, not an event condition`);
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

function checkTraitCondition(field: string, c: ConditionInput): TraitConditionSpec {
  for (const k of ['where', 'atLeast', 'withinSeconds', 'absent'] as const) {
    if (given(c[k])) throw new ValidationError(`${field}.${k}`, 'kind', `${k} belongs to an event condition, not a trait condition`);
  }
  const hasEq = given(c.equals);
  const hasGt = given(c.greaterThan);
  if (hasEq === hasGt) throw new ValidationError(field, 'oneOf', 'a trait condition has exactly one of equals and greaterThan');
  if (hasGt && !Number.isFinite(c.greaterThan)) throw new ValidationError(`${field}.greaterThan`, 'number', 'must be a finite number');
  if (hasEq && String(c.equals).length > MAX_NAME_CHARS) throw new ValidationError(`${field}.equals`, 'length', `at most ${MAX_NAME_CHARS} characters`);
  return { kind: 'trait', trait: checkName(`${field}.trait`, c.trait), equals: hasEq ? String(c.equals) : null, greaterThan: hasGt ? Number(c.greaterThan) : null };
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
      const when = s.when ?? [];
      if (when.length < 1 || when.length > MAX_CONDITIONS) {
        throw new ValidationError(`${field}.when`, 'count', `a stage's rule has 1 to ${MAX_CONDITIONS} conditions, got ${when.length}`);
      }
      return {
        name: stageName,
        when: when.map((c, j) => {
          const cf = `${field}.when[${j}]`;
          if (given(c.event) === given(c.trait)) throw new ValidationError(cf, 'oneOf', 'a condition names exactly one of event and trait');
          return given(c.event) ? checkEventCondition(cf, c) : checkTraitCondition(cf, c);
        }),
      };
    }),
  };
}

/** The trait keys a set of journeys reads: the only ones the plugin keeps. */
export function traitKeysOf(journeys: readonly JourneySpec[]): Set<string> {
  const keys = new Set<string>();
  for (const j of journeys) for (const s of j.stages) for (const c of s.when) if (c.kind === 'trait') keys.add(c.trait);
  return keys;
}

/** The event conditions with a window: what can change a person's stage with time alone. */
export function windowedConditions(j: JourneySpec): EventConditionSpec[] {
  return j.stages.flatMap((s) => s.when.filter((c): c is EventConditionSpec => c.kind === 'event' && c.withinMs !== null));
}
