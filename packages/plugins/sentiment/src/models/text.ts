/**
 * Text normalisation shared by every model: bounded length, no markup, no control bytes.
 */

/** Texts longer than this (in UTF-16 code units) are analysed on their first `MAX_ANALYSED_CHARS` only. */
export const MAX_ANALYSED_CHARS = 5_000;

/** What {@link normalizeText} did to a raw text. */
export interface NormalizedText {
  /** The text the models read: markup removed, whitespace collapsed, at most {@link MAX_ANALYSED_CHARS}. */
  text: string;
  /** True when the input was longer than {@link MAX_ANALYSED_CHARS} after clean-up and was cut. */
  truncated: boolean;
  /** Length of the input before any change. */
  originalLength: number;
  /** True when HTML tags or entities were removed. */
  hadMarkup: boolean;
  /** Share of the input's code units that were control or replacement characters (binary junk). */
  junkRatio: number;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/**
 * Cleans a raw text for analysis: strips `<script>`/`<style>` blocks and tags, decodes the common entities,
 * drops control characters, collapses whitespace, folds typographic apostrophes and truncates.
 */
export function normalizeText(raw: string): NormalizedText {
  const originalLength = raw.length;
  // Look at a bounded prefix only: a megabyte of input costs no more than a few pages.
  let s = raw.length > MAX_ANALYSED_CHARS * 4 ? raw.slice(0, MAX_ANALYSED_CHARS * 4) : raw;
  let junk = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 0xfffd || (c >= 0x7f && c < 0xa0)) junk++;
  }
  const junkRatio = s.length === 0 ? 0 : junk / s.length;
  const before = s;
  s = s
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<\/?[a-z][^>]*>/gi, ' ')
    .replace(/&(#39|amp|lt|gt|quot|apos|nbsp);/g, (_m, e: string) => ENTITIES[e] ?? ' ');
  const hadMarkup = s !== before;
  s = s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd]/g, ' ')
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
  const truncated = s.length > MAX_ANALYSED_CHARS;
  if (truncated) s = s.slice(0, MAX_ANALYSED_CHARS);
  return { text: s, truncated, originalLength, hadMarkup, junkRatio };
}
