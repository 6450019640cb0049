// Command-line options of the bench scripts: `--name value`. A value that is missing or not a number stops the bench
// with the option's name, instead of running with NaN.

/** `--name value` as a string, or `def` when the option is absent. */
export function stringArg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

/** `--name value` as a number, or `def` when the option is absent. */
export function numberArg(name, def) {
  const v = stringArg(name, undefined);
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name}: "${v}" is not a number`);
  return n;
}
