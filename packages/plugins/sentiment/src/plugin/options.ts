/**
 * Options of the sentiment plugin, with their defaults.
 */

/** Where texts come from: an event name and the path of the text in the event. */
export interface TextSource {
  /** The `track` event name, e.g. `Review Submitted`. */
  event: string;
  /** Dot path in the event record: `properties.text`, `properties.body`, `context.page.title`, ... */
  path: string;
  /** The channel recorded with the text (default: the event name). */
  channel?: string;
}

/** When a person should step in. */
export interface HandoffOptions {
  /** Open a case when one text's polarity is at or below this (default -0.6). */
  threshold?: number;
  /** Open a case after this many negative texts in a row on one topic (default 3). */
  negativeStreak?: number;
  /** Open a case when a text asks for a person (default: "talk to a human", "speak to a person", "real agent", ...). */
  requestPattern?: RegExp;
  /** After a case is resolved, no new case opens for the same person and topic for this long (default 3,600 s). */
  cooldownSeconds?: number;
}

/** Options of `sentimentPlugin(options)`. */
export interface SentimentOptions {
  /** Event texts to analyse (default: Review Submitted / properties.text, Support Message Sent / properties.body, Survey Answered / properties.comment). */
  sources?: TextSource[];
  /** Dot path of an event's topic (default `properties.topic`; absent: `general`). */
  topicPath?: string;
  /**
   * Purposes the analysis serves. A text is analysed only when the person allows every one of them (legal basis
   * applied, as `ctx.consent.allows` does); otherwise it is stored, not analysed. Default `['support']`.
   */
  purposes?: string[];
  /** Roles that may read the texts themselves (besides admin). Default `['support']`. */
  textRoles?: string[];
  handoff?: HandoffOptions;
}

/** Longest text stored, in characters; longer texts are cut and marked `truncated`. */
export const MAX_STORED_CHARS = 20_000;
/** The topic of a text with none. */
export const DEFAULT_TOPIC = 'general';
/** The permission to read and work the hand-off queue. */
export const HANDOFF_PERMISSION = 'sentiment:handoff';
/** The permission to submit feedback through GraphQL. */
export const SUBMIT_PERMISSION = 'sentiment:submit';

/** Options with every default filled in. */
export interface ResolvedSentimentOptions {
  sources: Required<TextSource>[];
  topicPath: string;
  purposes: string[];
  textRoles: string[];
  handoff: Required<HandoffOptions>;
}

export const DEFAULT_SOURCES: Required<TextSource>[] = [
  { event: 'Review Submitted', path: 'properties.text', channel: 'review' },
  { event: 'Support Message Sent', path: 'properties.body', channel: 'support' },
  { event: 'Survey Answered', path: 'properties.comment', channel: 'survey' },
];

export const DEFAULT_REQUEST_PATTERN =
  /\b(talk|speak|chat)\s+(to|with)\s+(a|an|some|the)?\s*(real\s+|actual\s+|live\s+)?(human|person|people|agent|representative|someone)\b|\b(real|live|human)\s+(person|agent|human|representative)\b|\bcall\s+me\b/i;

/** Fills in defaults and checks the options; throws naming the option and the rule. */
export function resolveOptions(o: SentimentOptions): ResolvedSentimentOptions {
  const sources = (o.sources ?? DEFAULT_SOURCES).map((s, i) => {
    if (!s.event?.trim()) throw new Error(`sentiment: sources[${i}].event must be a non-empty event name`);
    if (!/^(properties|context|traits)(\.[^.]+)+$/.test(s.path ?? '')) {
      throw new Error(`sentiment: sources[${i}].path must be a dot path under properties, context or traits, got "${s.path}"`);
    }
    return { event: s.event, path: s.path, channel: s.channel ?? s.event };
  });
  const h = o.handoff ?? {};
  const handoff: Required<HandoffOptions> = {
    threshold: h.threshold ?? -0.6,
    negativeStreak: h.negativeStreak ?? 3,
    // Without the g and y flags, so test() keeps no state between texts.
    requestPattern: h.requestPattern ? new RegExp(h.requestPattern.source, h.requestPattern.flags.replace(/[gy]/g, '')) : DEFAULT_REQUEST_PATTERN,
    cooldownSeconds: h.cooldownSeconds ?? 3600,
  };
  if (!(handoff.threshold >= -1 && handoff.threshold <= 1)) throw new Error(`sentiment: handoff.threshold must be in -1..1, got ${handoff.threshold}`);
  if (!Number.isInteger(handoff.negativeStreak) || handoff.negativeStreak < 1) {
    throw new Error(`sentiment: handoff.negativeStreak must be an integer >= 1, got ${handoff.negativeStreak}`);
  }
  if (!(handoff.cooldownSeconds >= 0)) throw new Error(`sentiment: handoff.cooldownSeconds must be >= 0, got ${handoff.cooldownSeconds}`);
  const purposes = o.purposes ?? ['support'];
  if (purposes.length === 0) throw new Error('sentiment: purposes must name at least one purpose');
  return { sources, topicPath: o.topicPath ?? 'properties.topic', purposes, textRoles: o.textRoles ?? ['support'], handoff };
}

/** Reads a dot path from an object; undefined when any step is missing. */
export function readPath(root: unknown, path: string): unknown {
  let v: unknown = root;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}
