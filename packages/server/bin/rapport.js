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
  .then((code) => {
    if (code !== 0 || !process.argv.includes('start')) process.exit(code);
  })
  .catch((err) => {
    process.stderr.write(`rapport: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
