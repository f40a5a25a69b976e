// End to end: the kit, driven through a fake wx (real HTTP, ws-backed sockets),
// against a real callme server (built and started by the test, SQLite, port 0).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startServer, setUpStall, gql } from '../testlib/server.mjs';
import { createFakeWx, waitFor, sleep } from '../testlib/fakewx.mjs';

const require = createRequire(import.meta.url);
const callme = require('../miniprogram/index.js');
const ops = callme.operations;
const hashes = require('../miniprogram/hashes.js');
// A subscribe frame of the named operation: the kit sends its hash, no text.
const subscribes = (f, name) =>
  f.type === 'subscribe' && f.payload.extensions?.persistedQuery?.sha256Hash === hashes[name] && !('query' in f.payload);

let server;
let stall;
const clients = [];

function newClient(openid, extra = {}) {
  const wx = createFakeWx({ openid });
  // Short backoff keeps the test quick; the defaults are 1 s .. 30 s.
  const client = callme.createClient({ url: server.url, wx, retryBaseMs: 100, retryMaxMs: 400, ...extra });
  clients.push(client);
  return { wx, client };
}

before(async () => {
  server = await startServer();
  stall = await setUpStall(server.url, { name: 'Noodles', prefix: 'A', owner: 'owner' });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.stop();
});

const asSeller = (query, variables) => gql(server.url, query, variables, stall.ownerToken);

test('customer: log in, take a number, get called, sleep through two calls, get both exactly once', async () => {
  const { wx, client } = newClient('alice');

  const session = await client.login('CUSTOMER');
  assert.ok(session.token);
  assert.ok(session.user.roles.includes('CUSTOMER'));
  assert.equal(wx.getStorageSync('callme.session.CUSTOMER').token, session.token);
  assert.equal(wx.loginCalls, 1);

  const stalls = await client.request(ops.Stalls, { first: 10, openOnly: true });
  const node = stalls.sellers.edges.map((e) => e.node).find((n) => n.id === stall.sellerId);
  assert.ok(node, 'the open stall is listed');
  assert.equal(node.open, true);

  const mine = (await client.request(ops.TakeNumber, { sellerId: stall.sellerId, note: 'no chili' })).fetch;
  assert.equal(mine.code, 'A001');
  assert.equal(mine.status, 'WAITING');
  assert.equal(mine.note, 'no chili');
  // Two more people get numbers at the counter.
  for (const code of ['A002', 'A003']) {
    const t = (await asSeller(ops.HandOutNumber, { sellerId: stall.sellerId })).fetch;
    assert.equal(t.code, code);
  }
  assert.deepEqual((await client.request(ops.MyTickets)).myTickets.map((t) => t.code), ['A001']);

  const calls = [];
  const states = [];
  const errors = [];
  // after: 0 = start with today's calls (none yet), so no call can slip in
  // between subscribing and the server registering the subscription.
  const stopCalls = client.subscribe(ops.CalledNumbers, { sellerId: stall.sellerId, after: 0 }, (d) => calls.push(d.calledNumbers), (e) => errors.push(e));
  const stopWatch = client.subscribe(ops.WatchTicket, { ticketId: mine.id }, (d) => states.push(d.ticketUpdated), (e) => errors.push(e));
  await waitFor(() => states.length >= 1, 'the ticket state');
  assert.equal(states[0].status, 'WAITING');
  assert.equal(wx.sockets.length, 1, 'both subscriptions share one socket');
  assert.deepEqual(wx.sockets[0].protocols, ['graphql-transport-ws']);

  const called = (await asSeller(ops.CallNext, { sellerId: stall.sellerId })).callNext;
  assert.equal(called.code, 'A001');
  await waitFor(() => calls.length === 1 && states.at(-1).status === 'CALLED', 'the first call');
  assert.equal(calls[0].code, 'A001');
  assert.match(calls[0].announcement, /A001/);
  const firstSeq = calls[0].seq;
  // A second calledNumbers subscription, without `after`: live calls only, and
  // since it will have seen none when the socket dies, it resumes from the
  // start of the day (after: 0), which includes A001.
  const late = [];
  const stopLate = client.subscribe(ops.CalledNumbers, { sellerId: stall.sellerId }, (d) => late.push(d.calledNumbers.code), (e) => errors.push(e));
  const lateFirst = await waitFor(
    () => wx.frames.find((f) => subscribes(f, 'CalledNumbers') && !('after' in f.payload.variables)),
    'the subscribe frame without after',
  );
  await sleep(100);

  // The phone sleeps: the socket dies without a close frame, and reconnecting
  // fails for a while.
  wx.refuseSockets = true;
  assert.equal(wx.killSockets(), 1);
  for (const code of ['A002', 'A003']) {
    assert.equal((await asSeller(ops.CallNext, { sellerId: stall.sellerId })).callNext.code, code);
  }
  await waitFor(() => wx.refused >= 2, 'reconnect attempts while the network is down');
  assert.equal(calls.length, 1, 'nothing arrives while asleep');

  // Wake up.
  const framesBefore = wx.frames.length;
  wx.refuseSockets = false;
  client.wake();
  await waitFor(() => calls.length >= 3, 'the two calls made during the sleep');
  await sleep(300); // anything repeated would show up now
  assert.deepEqual(calls.map((c) => c.code), ['A001', 'A002', 'A003']);
  assert.deepEqual(calls.map((c) => c.seq), [firstSeq, firstSeq + 1, firstSeq + 2]);
  assert.deepEqual(errors, []);

  // The resubscribe asked for the calls after the last one seen.
  const resubs = wx.frames.slice(framesBefore).filter((f) => subscribes(f, 'CalledNumbers'));
  assert.equal(resubs.length, 2);
  assert.equal(resubs.find((f) => f.id !== lateFirst.id).payload.variables.after, firstSeq);
  assert.equal(resubs.find((f) => f.id === lateFirst.id).payload.variables.after, 0);
  await waitFor(() => late.length >= 3, 'the late subscription catching up');
  assert.deepEqual(late, ['A001', 'A002', 'A003']);
  assert.equal(wx.openSockets(), 1);

  // The ticket watch came back too, and follows the pickup.
  await waitFor(() => states.length >= 3, 'the ticket state after the reconnect');
  const done = (await client.request(ops.CompleteTicket, { ticketId: mine.id })).complete;
  assert.equal(done.status, 'DONE');
  await waitFor(() => states.at(-1).status === 'DONE', 'DONE on the ticket watch');

  stopCalls();
  stopLate();
  stopWatch();
  assert.deepEqual(errors, []);
  assert.equal(wx.loginCalls, 1);
});

test('request throws an Error with extensions.code', async () => {
  const { client } = newClient('carol');
  await client.login('CUSTOMER');
  await assert.rejects(client.request(ops.Queue, { sellerId: stall.sellerId }), (err) => {
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'FORBIDDEN');
    assert.equal(err.errors[0].extensions.code, 'FORBIDDEN');
    return true;
  });
  await assert.rejects(client.request(ops.CallNext, { sellerId: stall.sellerId }), { code: 'FORBIDDEN' });
  await assert.rejects(client.request(ops.TakeNumber, { sellerId: 'nope' }), (err) => typeof err.code === 'string' && err.code !== 'UNAUTHENTICATED');
});

test('UNAUTHENTICATED: request logs in again once and succeeds', async () => {
  const { wx, client } = newClient('dave');
  await client.login('CUSTOMER');
  const stored = wx.getStorageSync('callme.session.CUSTOMER');
  wx.setStorageSync('callme.session.CUSTOMER', { ...stored, token: 'corrupted-token' });

  const data = await client.request(ops.MyTickets);
  assert.deepEqual(data.myTickets, []);
  assert.equal(wx.loginCalls, 2);
  const renewed = wx.getStorageSync('callme.session.CUSTOMER').token;
  assert.ok(renewed && renewed !== 'corrupted-token' && renewed !== stored.token);

  // A login that fails as well is not retried again: the error comes back.
  wx.setStorageSync('callme.session.CUSTOMER', { ...stored, token: 'corrupted-again' });
  wx.code = 'not-a-valid-code';
  await assert.rejects(client.request(ops.MyTickets), { code: 'UNAUTHENTICATED' });
  assert.equal(wx.loginCalls, 3);
});

test('a request without any session logs in on UNAUTHENTICATED', async () => {
  const { wx, client } = newClient('erin');
  const data = await client.request(ops.MyTickets);
  assert.deepEqual(data.myTickets, []);
  assert.equal(wx.loginCalls, 1);
  // Public data needs no session.
  const { wx: wx2, client: anon } = newClient('frank');
  assert.ok((await anon.request(ops.Stalls, { first: 5 })).sellers.totalCount >= 1);
  assert.equal(wx2.loginCalls, 0);
});

test('subscribe: FORBIDDEN ends the subscription with the code; UNAUTHENTICATED logs in again', async () => {
  const { client: owner } = newClient('gina');
  await owner.login('CUSTOMER');
  const ticket = (await owner.request(ops.TakeNumber, { sellerId: stall.sellerId })).fetch;

  // Another customer may not watch it.
  const { client: other } = newClient('hank');
  await other.login('CUSTOMER');
  const err = await new Promise((resolve, reject) => {
    other.subscribe(ops.WatchTicket, { ticketId: ticket.id }, () => reject(new Error('got data')), resolve);
  });
  assert.equal(err.code, 'FORBIDDEN');

  // The owner, with a corrupted stored token: one re-login, then the state.
  const { wx, client } = newClient('gina');
  await client.login('CUSTOMER');
  wx.setStorageSync('callme.session.CUSTOMER', { ...wx.getStorageSync('callme.session.CUSTOMER'), token: 'stale' });
  const errors = [];
  const states = [];
  const stop = client.subscribe(ops.WatchTicket, { ticketId: ticket.id }, (d) => states.push(d.ticketUpdated), (e) => errors.push(e));
  await waitFor(() => states.length >= 1 || errors.length, 'the ticket state');
  assert.deepEqual(errors, []);
  assert.equal(states[0].id, ticket.id);
  assert.equal(wx.loginCalls, 2);
  stop();
});

test('a half-open socket (no pong) is dropped and the calls it swallowed still arrive once', async () => {
  const c = await setUpStall(server.url, { name: 'Rice', prefix: 'C', owner: 'cowner' });
  const asOwner = (query, variables) => gql(server.url, query, variables, c.ownerToken);
  for (let i = 0; i < 3; i++) await asOwner(ops.HandOutNumber, { sellerId: c.sellerId });
  // A board-like anonymous subscriber: no login needed for calledNumbers.
  const { wx, client } = newClient('board', { keepAlive: 200, pongTimeout: 300, closeTimeout: 200 });
  const calls = [];
  const errors = [];
  const stop = client.subscribe(ops.CalledNumbers, { sellerId: c.sellerId, after: 0 }, (d) => calls.push(d.calledNumbers.code), (e) => errors.push(e));
  await waitFor(() => wx.openSockets() === 1 && wx.frames.some((f) => f.type === 'subscribe'), 'the subscription');
  await asOwner(ops.CallNext, { sellerId: c.sellerId });
  await waitFor(() => calls.length === 1, 'the first call');

  assert.equal(wx.freezeSockets(), 1);
  await asOwner(ops.CallNext, { sellerId: c.sellerId });
  await asOwner(ops.CallNext, { sellerId: c.sellerId });
  await waitFor(() => calls.length >= 3, 'the swallowed calls after the reconnect');
  await sleep(300);
  assert.deepEqual(calls, ['C001', 'C002', 'C003']);
  assert.equal(wx.sockets.length, 2, 'one reconnect');
  assert.deepEqual(errors, []);
  assert.equal(wx.loginCalls, 0);
  stop();
});
