// The kit without a server: ES5 syntax, module shape, and the wx socket adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { assertES5 } from '../scripts/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const callme = require('../miniprogram/index.js');

// The example mini-programs' own code too: the projects do not turn on the
// developer tools' ES6 transpiling (project.config.json setting.es6: false).
const exampleJs = readdirSync(join(here, '../miniprogram/examples'), { recursive: true })
  .filter((f) => f.endsWith('.js') && !f.split(sep).includes('callme'))
  .map((f) => join('examples', f));

for (const f of ['index.js', 'operations.js', 'hashes.js', 'vendor/graphql-ws.js', ...exampleJs]) {
  test(`miniprogram/${f} is ES5`, async () => {
    await assertES5(readFileSync(join(here, '../miniprogram', f), 'utf8'), f);
  });
}

test('the kit loads as CommonJS and exports its API', () => {
  assert.equal(typeof callme.createClient, 'function');
  assert.equal(typeof callme.createWxWebSocket, 'function');
  assert.equal(typeof callme.operations.TakeNumber, 'string');
  assert.deepEqual(callme.endpoints('https://q.example.com/'), {
    http: 'https://q.example.com/query',
    ws: 'wss://q.example.com/query',
  });
  assert.deepEqual(callme.endpoints('http://127.0.0.1:8080/query'), {
    http: 'http://127.0.0.1:8080/query',
    ws: 'ws://127.0.0.1:8080/query',
  });
  assert.throws(() => callme.createClient({ url: 'https://x' }), /no wx object/);
});

// A SocketTask whose events the test fires by hand.
function manualWx() {
  const wx = { tasks: [] };
  wx.connectSocket = (opts) => {
    const h = {};
    const task = {
      opts,
      sent: [],
      closed: null,
      onOpen: (f) => (h.open = f),
      onMessage: (f) => (h.message = f),
      onClose: (f) => (h.close = f),
      onError: (f) => (h.error = f),
      send: (o) => task.sent.push(o.data),
      close: (o) => (task.closed = o),
      fire: (ev, res) => h[ev](res),
    };
    wx.tasks.push(task);
    return task;
  };
  return wx;
}

test('WxWebSocket: the browser WebSocket interface over wx.connectSocket', () => {
  const wx = manualWx();
  const WS = callme.createWxWebSocket(wx, { closeTimeout: 50 });
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) assert.ok(k in WS);
  const s = new WS('wss://h/query', 'graphql-transport-ws');
  const task = wx.tasks[0];
  assert.deepEqual(task.opts.protocols, ['graphql-transport-ws']);
  assert.equal(s.readyState, WS.CONNECTING);
  assert.throws(() => s.send('x'), /connecting/);
  const seen = [];
  s.onopen = () => seen.push('open');
  s.onmessage = (e) => seen.push(`message ${e.data}`);
  s.onclose = (e) => seen.push(`close ${e.code} ${e.wasClean}`);
  s.onerror = () => seen.push('error');
  task.fire('open', { header: { 'Sec-WebSocket-Protocol': 'graphql-transport-ws' } });
  assert.equal(s.readyState, WS.OPEN);
  assert.equal(s.protocol, 'graphql-transport-ws');
  s.send('{"type":"ping"}');
  assert.deepEqual(task.sent, ['{"type":"ping"}']);
  task.fire('message', { data: '{"type":"pong"}' });
  // An error then a close: reported once, as a close 1006 (so graphql-ws retries).
  task.fire('error', { errMsg: 'boom' });
  task.fire('close', { code: 1006, reason: '' });
  assert.deepEqual(seen, ['open', 'message {"type":"pong"}', 'close 1006 false']);
  assert.equal(s.readyState, WS.CLOSED);
});

test('WxWebSocket: close() completes even when wx never reports onClose', async () => {
  const wx = manualWx();
  const WS = callme.createWxWebSocket(wx, { closeTimeout: 30 });
  const s = new WS('wss://h/query', ['graphql-transport-ws']);
  wx.tasks[0].fire('open', {});
  const closed = new Promise((r) => (s.onclose = r));
  s.close(4499, 'Terminated');
  assert.equal(s.readyState, WS.CLOSING);
  assert.deepEqual(wx.tasks[0].closed.code, 4499);
  const ev = await closed;
  assert.equal(ev.code, 4499);
  assert.equal(s.readyState, WS.CLOSED);
  // A code wx refuses (1001..2999) is sent as 1000.
  const t = new WS('wss://h/query', 'graphql-transport-ws');
  wx.tasks[1].fire('open', {});
  t.close(1011, 'x');
  assert.equal(wx.tasks[1].closed.code, 1000);
});

test('graphql-ws in the ES5 bundle: TerminatedCloseEvent keeps instanceof', () => {
  const gw = require('../miniprogram/vendor/graphql-ws.js');
  assert.equal(typeof gw.createClient, 'function');
  assert.equal(gw.GRAPHQL_TRANSPORT_WS_PROTOCOL, 'graphql-transport-ws');
  // terminate() must close the old socket with 4499: graphql-ws checks
  // `instanceof TerminatedCloseEvent`, which a naive ES5 lowering of
  // `class extends Error` breaks.
  const wx = manualWx();
  const WS = callme.createWxWebSocket(wx, { closeTimeout: 10 });
  const client = gw.createClient({ url: 'wss://h/query', webSocketImpl: WS, retryAttempts: 0, lazy: false, onNonLazyError() {} });
  return new Promise((resolve) => setTimeout(resolve, 5)).then(() => {
    assert.equal(wx.tasks.length, 1);
    client.terminate();
    assert.equal(wx.tasks[0].closed && wx.tasks[0].closed.code, 4499);
  });
});
