// Fails when a package that must exist once (one GraphQL realm, one ORM metadata store) is
// installed twice: "Cannot use GraphQLSchema from another module or realm" starts here.
import { execFileSync } from 'node:child_process';

const MUST_BE_SINGLE = ['graphql', 'type-graphql', 'typeorm', '@casl/ability', 'dataloader', '@tensorflow/tfjs-core'];
let failed = false;
for (const name of MUST_BE_SINGLE) {
  let out = '';
  try {
    out = execFileSync('npm', ['ls', name, '--all', '--parseable'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    out = err.stdout ?? '';
  }
  const copies = new Set(out.split('\n').filter((l) => l.endsWith(`node_modules/${name}`)));
  if (copies.size > 1) {
    failed = true;
    console.error(`${name}: ${copies.size} copies installed:\n  ${[...copies].join('\n  ')}`);
  } else {
    console.log(`${name}: ${copies.size === 1 ? 'one copy' : 'not installed'}`);
  }
}
process.exit(failed ? 1 : 0);
