/** The message types of the Segment spec. */
export const MESSAGE_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** A message as a Segment SDK (or anyone) sends it; nothing is trusted yet. */
export type RawMessage = Record<string, unknown>;

/** An identifier of a person, normalised (`email` lower-cased, `phone` in E.164). */
export interface IdentityRef {
  type: string;
  value: string;
}

/** A message that passed validation, with server-side fields set. */
export interface NormalizedMessage {
  type: MessageType;
  messageId: string;
  userId: string | null;
  anonymousId: string | null;
  /** `alias` only: the id being merged into `userId`. */
  previousId: string | null;
  /** `group` only. */
  groupId: string | null;
  /** Event name (`track`), or page/screen name. */
  name: string | null;
  /** `page` only: the page category. */
  category: string | null;
  properties: Record<string, unknown>;
  /** Traits of the person (`identify`) or of the group (`group`). */
  traits: Record<string, unknown> | null;
  context: Record<string, unknown>;
  integrations: Record<string, unknown> | null;
  /** When it happened, corrected for client clock skew. */
  timestamp: Date;
  /** The timestamp the client sent, uncorrected. */
  originalTimestamp: Date | null;
  sentAt: Date | null;
  /** Set by the server on arrival. */
  receivedAt: Date;
  /** Person identifiers carried by the message, normalised, blocked values removed. */
  identities: IdentityRef[];
  /** Things worth telling the sender that did not stop the message (an unparsable phone, ...). */
  warnings: string[];
}

/** What happened to one message. */
export interface IngestResult {
  messageId: string;
  /** The profile the message landed on (after any merge it caused). */
  profileId: string;
  /** True when a message with this id was already stored: nothing was written again. */
  duplicate: boolean;
  warnings: string[];
  /** True when the message was dropped because it names a deleted person's identity. */
  suppressed?: boolean;
}
