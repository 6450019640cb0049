/** Limits of the Segment-compatible HTTP API. */
export interface IngestionConfig {
  /** Largest single message, in bytes of JSON (Segment: 32 KB). */
  maxMessageBytes: number;
  /** Largest batch request body, in bytes (Segment: 500 KB). */
  maxBatchBytes: number;
  /** Largest number of messages in one batch. */
  maxBatchMessages: number;
}
