import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's `chromium` package; `RAPPORT_CHROMIUM` names another binary. Never a downloaded browser build. */
export const CHROMIUM_PATH = process.env.RAPPORT_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches headless Chromium through playwright-core. A missing binary is an error that says how to
 * install it, so a browser test fails rather than skips.
 */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: the browser tests need Debian's chromium package. ` +
        'Install it with `apt-get install -y chromium` (sudo if not root; .ci/run does this), or set RAPPORT_CHROMIUM to a Chromium binary.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH });
}
