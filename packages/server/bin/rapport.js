#!/usr/bin/env node
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const cli = path.join(__dirname, '..', 'dist', 'cli', 'rapport.cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('rapport: the code is not built yet; run `npm run build` at the repository root (npm install does it too)\n');
  process.exit(1);
}
require('reflect-metadata');
require(cli)
  .main(process.argv.slice(2))
  // main() of a running server never resolves (it stops on a signal); every other command exits
  // with its code once it resolves, whatever handles its libraries left open.
  .then((code) => process.exit(code))
  .catch((err) => {
    process.stderr.write(`rapport: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
