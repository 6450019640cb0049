import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
const EVAL = path.join(ROOT, 'packages/server/dist/eval/eval-identity.cli.js');
const CLI = path.join(ROOT, 'packages/server/bin/rapport.js');
let env: TestEnvironment;

beforeAll(async () => {
  if (!fs.existsSync(EVAL)) await run('npx', ['tsc', '-b'], { cwd: ROOT });
  env = await createTestEnvironment();
});
afterAll(async () => env?.close());

describe('npm run eval:identity', () => {
  it('scores FEBRL dataset1 through the ingestion path and prints one JSON object as its last line', async () => {
    const { stdout } = await run('node', [EVAL, path.join(ROOT, 'data/febrl/dataset1.csv'), '--json'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: env.database.url } });
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ records: 1000, truePairs: 500 });
    expect(last.f1).toBeGreaterThanOrEqual(0.95);
    expect(last.precision).toBeGreaterThanOrEqual(0.95);
    expect(last.candidatePairs).toBeGreaterThan(0);
    expect(last.seconds.total).toBeGreaterThan(0);
  }, 180_000);

  it('accepts another file of the same shape: other column names by flags, truth as a cluster-id column', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-'));
    const file = path.join(dir, 'people.csv');
    fs.writeFileSync(
      file,
      [
        'id,first,last,dob,zip,person',
        'a1,anna,kowalska,19800512,2600,p1',
        'a2,ana,kowalska,19800512,2600,p1',
        'b1,bruno,dias,19751130,3000,p2',
        'b2,bruno,diaz,19751130,3000,p2',
        'c1,chen,li,19900101,4000,p3',
        'd1,dara,okafor,19851212,5000,p4',
      ].join('\n'),
    );
    const { stdout } = await run(
      'node',
      [EVAL, file, '--json', '--id-column', 'id', '--cluster-column', 'person', '--map', 'first=firstName,last=lastName,dob=birthday,zip=address.postalCode'],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: env.database.url } },
    );
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ records: 6, truePairs: 2 });
    expect(last.precision).toBe(1); // chen and dara stay apart
    expect(last.recall).toBeGreaterThan(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('rapport resolve', () => {
  it('resolves stored profiles from the CLI and prints a summary', async () => {
    const batch = [
      { firstName: 'olivia', lastName: 'brennan', birthday: '19870214', nationalId: '5512345', address: { streetNumber: '14', street: 'mort street', city: 'braddon', postalCode: '2612' } },
      { firstName: 'olivia', lastName: 'brennan', birthday: '19870214', nationalId: '5512345', address: { streetNumber: '14', street: 'mort st', city: 'braddon', postalCode: '2612' } },
    ].map((traits, i) => ({ type: 'identify', anonymousId: `cli-${i}`, traits }));
    expect((await env.post('/v1/batch', { batch })).status).toBe(200);
    const { stdout } = await run('node', [CLI, 'resolve', '--retrain'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: env.database.url, LOG_LEVEL: 'warn' } });
    expect(stdout).toMatch(/^run [0-9a-f-]{36}: \d+ profiles, \d+ candidate pairs, \d+ merged, \d+ queued for review, [\d.]+ s\n$/);
    const a = await env.graphql(`{ profileByIdentity(type: "anonymous_id", value: "cli-0") { id } }`);
    const b = await env.graphql(`{ profileByIdentity(type: "anonymous_id", value: "cli-1") { id } }`);
    expect(a.body.data.profileByIdentity.id).toBe(b.body.data.profileByIdentity.id);
  });
});
