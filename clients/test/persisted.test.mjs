// Persisted queries: the kit sends its documents by hash; a trusted server
// (the production default) refuses any other document from a non-admin, and
// the kit falls back to sending the text when a server does not know a hash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { startServer, setUpStall, gql } from '../testlib/server.mjs';
import { createFakeWx, waitFor } from '../testlib/fakewx.mjs';

const require = createRequire(import.meta.url);
const callme = require('../miniprogram/index.js');
const ops = callme.operations;
const hashes = require('../miniprogram/hashes.js');
const persisted = require('../miniprogram/persisted-operations.json');
const sha256 = (s) => createHash('sha256').update(s, 'utf8').digest('hex');

let trusted;
let anyMode;
let stall;
const clients = [];

before(async () => {
  [trusted, anyMode] = await Promise.all([startServer(), startServer({ documents: 'any' })]);
  stall = await setUpStall(trusted.url, { name: 'Noodles', prefix: 'A', owner: 'owner' });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([trusted?.stop(), anyMode?.stop()]);
});

function newClient(kit, url, openid, extra = {}) {
  const wx = createFakeWx({ openid });
  const client = kit.createClient({ url, wx, retryBaseMs: 100, retryMaxMs: 400, ...extra });
  clients.push(client);
  return { wx, client };
}

test('hashes.js and persisted-operations.json hold the sha256 of each operation', () => {
  const names = Object.keys(ops);
  assert.deepEqual(Object.keys(hashes), names);
  for (const name of names) {
    assert.equal(hashes[name], sha256(ops[name]), name);
    assert.equal(persisted[hashes[name]], ops[name], name);
  }
  assert.equal(Object.keys(persisted).length, names.length);
});

test('trusted: the kit sends hashes only, and its documents run', async () => {
  const { wx, client } = newClient(callme, trusted.url, 'alice');
  await client.login('CUSTOMER');
  const ticket = (await client.request(ops.TakeNumber, { sellerId: stall.sellerId })).fetch;
  assert.equal(ticket.status, 'WAITING');
  const states = [];
  const errors = [];
  const stop = client.subscribe(ops.WatchTicket, { ticketId: ticket.id }, (d) => states.push(d.ticketUpdated), (e) => errors.push(e));
  await waitFor(() => states.length >= 1 || errors.length, 'the ticket state');
  assert.deepEqual(errors, []);
  await gql(trusted.url, ops.CallNext, { sellerId: stall.sellerId }, stall.ownerToken);
  await waitFor(() => states.at(-1).status === 'CALLED', 'the call');
  stop();

  assert.ok(wx.requests.length >= 2);
  for (const r of wx.requests) {
    assert.equal('query' in r, false, `a request carried its text: ${JSON.stringify(r).slice(0, 80)}`);
    assert.ok(Object.values(hashes).includes(r.extensions.persistedQuery.sha256Hash));
  }
  const subs = wx.frames.filter((f) => f.type === 'subscribe');
  assert.ok(subs.length >= 1);
  for (const f of subs) {
    assert.equal('query' in f.payload, false);
    assert.equal(f.payload.extensions.persistedQuery.sha256Hash, hashes.WatchTicket);
  }
});

test('trusted: other documents are refused with PERSISTED_QUERY_REQUIRED, over HTTP and the socket', async () => {
  const { client } = newClient(callme, trusted.url, 'bob');
  await client.login('CUSTOMER');
  await assert.rejects(client.request('query { me { id } }'), { code: 'PERSISTED_QUERY_REQUIRED' });
  const err = await new Promise((resolve, reject) => {
    client.subscribe('subscription($s: ID!) { calledNumbers(sellerId: $s) { seq } }', { s: stall.sellerId }, () => reject(new Error('got data')), resolve);
  });
  assert.equal(err.code, 'PERSISTED_QUERY_REQUIRED');
  // The admin may (GraphiQL).
  const { client: admin } = newClient(callme, trusted.url, 'admin', { app: 'SELLER' });
  await admin.login('SELLER');
  assert.ok((await admin.request('query { me { roles } }')).me.roles.includes('ADMIN'));
});

// A kit that ships a document the server has not seen (a newer kit, or a
// server in "any" mode that lost its cache): the kit resends the text.
test('PERSISTED_QUERY_NOT_FOUND: the kit sends the text with the hash, over HTTP and the socket', async () => {
  const extraQuery = 'query ExtraMe {\n  me {\n    id\n  }\n}';
  const extraSub = 'subscription ExtraCalls($sellerId: ID!) {\n  calledNumbers(sellerId: $sellerId, after: 0) {\n    code\n  }\n}';
  // A fresh copy of the kit whose operations include the two documents.
  const path = require.resolve('../miniprogram/index.js');
  delete require.cache[path];
  Object.assign(ops, { ExtraMe: extraQuery, ExtraCalls: extraSub });
  Object.assign(hashes, { ExtraMe: sha256(extraQuery), ExtraCalls: sha256(extraSub) });
  let kit;
  try {
    kit = require(path);
  } finally {
    delete ops.ExtraMe, delete ops.ExtraCalls, delete hashes.ExtraMe, delete hashes.ExtraCalls;
    delete require.cache[path];
  }
  const other = await setUpStall(anyMode.url, { name: 'Rice', prefix: 'R', owner: 'rowner' });
  await gql(anyMode.url, ops.HandOutNumber, { sellerId: other.sellerId }, other.ownerToken);
  await gql(anyMode.url, ops.CallNext, { sellerId: other.sellerId }, other.ownerToken);

  const { wx, client } = newClient(kit, anyMode.url, 'carl');
  await client.login('CUSTOMER');
  const n = wx.requests.length;
  assert.ok((await client.request(extraQuery)).me.id);
  const sent = wx.requests.slice(n);
  assert.equal(sent.length, 2, 'the hash, then the text with it');
  assert.equal('query' in sent[0], false);
  assert.equal(sent[1].query, extraQuery);
  assert.equal(sent[1].extensions.persistedQuery.sha256Hash, sha256(extraQuery));
  // Registered now ("any" mode): the hash alone works.
  await client.request(extraQuery);
  assert.equal(wx.requests.length, n + 3);

  const codes = [];
  const errors = [];
  const stop = client.subscribe(extraSub, { sellerId: other.sellerId }, (d) => codes.push(d.calledNumbers.code), (e) => errors.push(e));
  await waitFor(() => codes.length >= 1 || errors.length, 'the call');
  stop();
  assert.deepEqual(errors, []);
  assert.deepEqual(codes, ['R001']);
  // The socket got the hash first, then the text.
  const subs = wx.frames.filter((f) => f.type === 'subscribe');
  assert.equal(subs.length, 2);
  assert.equal('query' in subs[0].payload, false);
  assert.equal(subs[1].payload.query, extraSub);

  // Against the trusted server the text is refused with a clear code.
  const { client: t } = newClient(kit, trusted.url, 'dora');
  await t.login('CUSTOMER');
  await assert.rejects(t.request(extraQuery), { code: 'PERSISTED_QUERY_REQUIRED' });
});
