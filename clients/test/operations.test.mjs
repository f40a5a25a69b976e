// Every document in miniprogram/operations/*.graphql is valid against the
// server's exported schema (schema.graphql at the repository root), and
// operations.js holds exactly those documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { buildSchema, parse, validate, Kind } from 'graphql';
import { loadOperations, buildOperations } from '../scripts/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const schema = buildSchema(readFileSync(join(here, '../../schema.graphql'), 'utf8'));
const opsDir = join(here, '../miniprogram/operations');
const files = readdirSync(opsDir).filter((f) => f.endsWith('.graphql'));

test('the .graphql files validate together against schema.graphql', () => {
  const text = files.map((f) => readFileSync(join(opsDir, f), 'utf8')).join('\n');
  const errors = validate(schema, parse(text));
  assert.deepEqual(errors.map((e) => e.message), []);
});

for (const op of loadOperations()) {
  test(`operation ${op.name} (${op.file}) validates on its own`, () => {
    const errors = validate(schema, parse(op.text));
    assert.deepEqual(errors.map((e) => e.message), []);
  });
}

test('the operations both apps need are there', () => {
  const names = new Set(loadOperations().map((o) => o.name));
  for (const n of [
    'Login', 'Logout', 'Me', 'CalledNumbers', 'CompleteTicket', 'CancelTicket',
    'Stalls', 'TakeNumber', 'ClaimNumber', 'MyTickets', 'WatchTicket',
    'Queue', 'CallNext', 'CallTicket', 'SetOpen', 'HandOutNumber', 'ClaimSeller',
  ]) assert.ok(names.has(n), `missing operation ${n}`);
});

test('operations.js is generated from the .graphql files', () => {
  const committed = readFileSync(join(here, '../miniprogram/operations.js'), 'utf8');
  assert.equal(committed, buildOperations(), 'operations.js is stale: run npm run build --prefix clients');
  const ops = createRequire(import.meta.url)('../miniprogram/operations.js');
  for (const op of loadOperations()) {
    const doc = parse(ops[op.name]);
    const defs = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    assert.equal(defs.length, 1);
    assert.equal(defs[0].name.value, op.name);
  }
});
