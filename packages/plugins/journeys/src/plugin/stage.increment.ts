/**
 * What a delivery batch can have changed for a person in a journey, as the two masks of the stage statement
 * (stage.query.ts): which stages the batch can make hold (`touch`), and which it can make stop holding (`brk`).
 *
 * A person's stage is re-evaluated from scratch only when it must be: their stored stage is the result of their last
 * evaluation, and between two evaluations the inputs of a person's rules change only by delivered changes (each one
 * evaluated) and by time. Event conditions that are not `absent` and have no window only ever go from false to true
 * as events arrive, so a stored stage made of those (and of traits no identify of the batch set) still holds, and a
 * later stage that did not hold can only hold now if it reads an input that changed. Anything else (a merge, an
 * unmerge, a consent change, a journey whose new version is not evaluated for everyone yet) evaluates every stage.
 */
import { flatConditions, type JourneySpec } from './journey-definition';

/** Bit `i` for the stage of index `i` (1-based), as in stage.query.ts. */
export interface StageMasks {
  /** Stages a changed input can make hold (only these are tried after the kept stage). */
  touch: number;
  /** Stages a changed input can make stop holding (a stored stage with its bit set is not kept). */
  brk: number;
}

/** Per input of a journey's rules, the stages it can change; and the stages time alone changes. */
export interface StagePlan {
  /** By event name: `touch`, the stages that read it; `brk`, those with an `absent` condition on it. */
  byName: Map<string, StageMasks>;
  /** By trait key: the stages with a condition on it (in both masks: a trait can change either way). */
  byTrait: Map<string, StageMasks>;
  /** Stages with a window (in both masks, always). */
  timed: number;
}

/** What each stage of `journey` reads. */
export function stagePlan(journey: JourneySpec): StagePlan {
  const plan: StagePlan = { byName: new Map(), byTrait: new Map(), timed: 0 };
  const add = (map: Map<string, StageMasks>, key: string, touch: number, brk: number) => {
    const m = map.get(key) ?? { touch: 0, brk: 0 };
    m.touch |= touch;
    m.brk |= brk;
    map.set(key, m);
  };
  journey.stages.forEach((s, i) => {
    const bit = 2 ** (i + 1);
    for (const c of flatConditions(s.when)) {
      if (c.kind === 'trait') {
        add(plan.byTrait, c.trait, bit, bit);
        continue;
      }
      add(plan.byName, c.event, bit, c.absent ? bit : 0);
      if (c.withinMs !== null) plan.timed |= bit;
    }
  });
  return plan;
}

/** The people a batch touched in one journey, each with the masks of what changed for them (null: evaluate in full). */
export class TouchedPeople {
  readonly people = new Map<string, StageMasks | null>();

  constructor(private readonly plan: StagePlan) {}

  /** An event of the person: the name rules match it by (null: none), and the trait keys it sets. */
  event(profileId: string, name: string | null, traitKeys: readonly string[]): void {
    let m = this.people.get(profileId);
    if (m === null) return;
    if (!m) this.people.set(profileId, (m = { touch: this.plan.timed, brk: this.plan.timed }));
    const byName = name === null ? undefined : this.plan.byName.get(name);
    if (byName) {
      m.touch |= byName.touch;
      m.brk |= byName.brk;
    }
    for (const k of traitKeys) {
      const byTrait = this.plan.byTrait.get(k);
      if (byTrait) {
        m.touch |= byTrait.touch;
        m.brk |= byTrait.brk;
      }
    }
  }

  /** A change after which the person is evaluated in full (a merge, an unmerge, a consent change). */
  full(profileId: string): void {
    this.people.set(profileId, null);
  }
}
