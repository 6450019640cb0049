/** A text with a binary label (1 positive, 0 negative). */
export interface LabelledText {
  text: string;
  label: 0 | 1;
  /** The mean human rating (-4..4) when the source has one (VADER gold files). */
  rating?: number;
}
