// The seller example mini-program (miniprogram/examples/seller) in
// miniprogram-simulate, against a real callme (SQLite, trusted documents)
// through a fake wx whose requests and sockets are real: a stall's first day
// from its invite code, and the scan-to-log-in approval of a staff console.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createStall, gql, devLogin, operations as ops } from '../testlib/server.mjs';
import { createFakeWx, waitFor, sleep } from '../testlib/fakewx.mjs';
import { launchApp } from '../testlib/miniprogram.mjs';

let server;
let stall;
let wx;
let app;
const stallName = '黄焖鸡米饭🐔';

before(async () => {
  server = await startServer();
  stall = await createStall(server.url, { name: stallName, prefix: 'B' });
  // The developer tools' wx.login gives codes a dev-login server refuses:
  // config.devOpenid makes the app log in with dev:<openid> instead.
  wx = createFakeWx();
  wx.code = 'a-code-from-the-developer-tools';
  app = launchApp('seller', { wx, url: server.url, config: { devOpenid: 'laoli' } });
});

after(async () => {
  app?.close();
  await server?.stop();
});

// untilAllowed taps again after a RATE_LIMITED message, once the server's
// retryAfterSeconds are over (one call of a number every few seconds).
async function untilAllowed(page, tap, done, what) {
  for (let i = 0; ; i++) {
    // The page clears its message itself on a tap, but only once the tap
    // arrives (asynchronously): clear it first so no old one counts.
    page.comp.setData({ error: '' });
    tap();
    await waitFor(() => done() || page.data.error, what);
    if (done()) return;
    if (i >= 2 || !/稍后/.test(page.data.error)) throw new Error(`${what}: ${page.data.error}`);
    await sleep(5300);
  }
}

test('a seller binds the stall, opens it, hands out a number and calls, recalls, completes and cancels', async () => {
  const page = app.open('pages/index/index');
  await waitFor(() => page.text().includes('邀请码'), 'the bind form (no stall yet)');
  assert.equal(wx.loginCalls, 0, 'config.devOpenid: the app logs in without wx.login');

  // A wrong invite code first.
  page.input('.invite', 'not-a-code');
  page.tap('.bind-stall');
  await waitFor(() => page.data.error, 'the wrong-code message');
  assert.equal(page.data.error, '邀请码无效或已使用');

  page.input('.invite', stall.inviteCode);
  page.tap('.bind-stall');
  await waitFor(() => page.textOf('.name') === stallName, 'the stall');
  assert.ok(page.text().includes('已打烊'));

  page.change('.open', true);
  await waitFor(() => page.text().includes('营业中'), 'open');

  // A customer takes a number with a note (CJK and emoji at its limit).
  const note = '不要葱🧅'.repeat(25);
  const customer = await devLogin(server.url, 'CUSTOMER', 'xiaozhang');
  const taken = (await gql(server.url, ops.TakeNumber, { sellerId: stall.sellerId, note }, customer)).fetch;
  assert.equal(taken.code, 'B001');

  // A walk-up customer without the app: hand out a number.
  page.input('.hand-note', '堂食');
  page.tap('.hand-out');
  await waitFor(() => page.textOf('.handed-code') === 'B002', 'the handed-out number');
  const claimCode = page.textOf('.handed-claim');
  assert.match(claimCode, /^\d{6}$/);
  await waitFor(() => page.has('.ticket', 'B001') && page.has('.ticket', 'B002'), 'the queue with both');
  assert.ok(page.find('.ticket', 'B001').dom.textContent.includes(note));
  assert.ok(page.text().includes('堂食'));
  assert.match(page.textOf('.counts'), /等待 2 人 · 已叫 0 人/);

  // The claim code on the page is the one that works.
  const walkUp = await devLogin(server.url, 'CUSTOMER', 'xiaozhao');
  const claimed = (await gql(server.url, ops.ClaimNumber, { sellerId: stall.sellerId, number: 2, claimCode }, walkUp)).claim;
  assert.equal(claimed.code, 'B002');

  // Call next: B001. The customer sees it.
  page.tap('.call-next');
  await waitFor(() => page.textOf('.last-called') === 'B001', 'B001 called');
  await waitFor(() => /等待 1 人 · 已叫 1 人/.test(page.textOf('.counts')), 'the counts');
  const mine = (await gql(server.url, ops.MyTickets, {}, customer)).myTickets[0];
  assert.deepEqual([mine.status, mine.callCount], ['CALLED', 1]);

  // Recall it.
  await untilAllowed(
    page,
    () => page.tapIn('.ticket', 'B001', '.recall'),
    () => page.find('.ticket', 'B001').dom.textContent.includes('已叫 2 次'),
    'the recall',
  );
  // Picked up.
  page.tapIn('.ticket', 'B001', '.complete');
  await waitFor(() => !page.has('.ticket', 'B001'), 'B001 done');
  assert.equal((await gql(server.url, ops.MyTickets, {}, customer)).myTickets[0].status, 'DONE');

  // Call B002, then cancel it (after the confirmation dialog).
  page.tap('.call-next');
  await waitFor(() => page.textOf('.last-called') === 'B002', 'B002 called');
  page.tapIn('.ticket', 'B002', '.cancel');
  await waitFor(() => page.text().includes('没有人在等'), 'the empty queue');
  assert.equal(wx.modals.at(-1).title, '取消这个号？');

  // Nobody waits: call next says so.
  page.tap('.call-next');
  await waitFor(() => wx.toasts.some((t) => t.title === '没有人在等'), 'the nobody-waits toast');

  page.change('.open', false);
  await waitFor(() => page.text().includes('已打烊'), 'closed');
  await assert.rejects(gql(server.url, ops.TakeNumber, { sellerId: stall.sellerId }, customer), { code: 'SELLER_CLOSED' });

  // The way to the console's scan-to-log-in (next test).
  page.tap('.scan-console');
  await waitFor(() => wx.navigations.some((n) => n.type === 'navigateTo' && n.url === '/pages/approve/index'), 'the approval page');
  page.close();
});

// The staff console's side of scan-to-log-in, as the console page runs it: a
// challenge from startConsoleLogin, and its approval awaited on a WebSocket.
// The server runs trusted documents only and these are the console's, not the
// kit's: the test sends them as text with an admin's session, which may run
// any document (the secret alone decides whose login it is).
const START = 'mutation { startConsoleLogin { qrText secret expiresAt } }';
const APPROVED =
  'subscription($secret: String!) { consoleLoginApproved(secret: $secret) { token expiresAt user { id roles seller { id name } } } }';

test('scan to log in: the approval page logs a staff console in as the seller', async () => {
  const { createClient } = await import('graphql-ws');
  const { default: WebSocket } = await import('ws');
  const admin = await devLogin(server.url, 'SELLER', 'admin');
  const challenge = (await gql(server.url, START, {}, admin)).startConsoleLogin;
  assert.ok(challenge.qrText && challenge.secret);
  assert.ok(!challenge.qrText.includes(challenge.secret), 'the QR does not reveal the secret');

  const console_ = createClient({
    url: server.url.replace(/^http/, 'ws') + '/query',
    webSocketImpl: WebSocket,
    connectionParams: { authToken: admin },
    retryAttempts: 0,
  });
  const events = [];
  let ended = null;
  const connected = new Promise((resolve) => console_.on('connected', resolve));
  console_.subscribe(
    { query: APPROVED, variables: { secret: challenge.secret } },
    {
      next: (v) => events.push(v),
      error: (e) => (ended = { error: e }),
      complete: () => (ended = { complete: true }),
    },
  );
  try {
    await connected;
    await sleep(200); // the subscribe message on its way in before the approval

    const page = app.open('pages/approve/index');
    // The page opened the camera at once. Some other QR code first: not sent.
    await waitFor(() => wx.pendingScans.length === 1, 'the camera');
    assert.deepEqual(wx.scans.at(-1).scanType, ['qrCode']);
    const requests = wx.requests.length;
    wx.scan('https://example.com/menu');
    await waitFor(() => page.data.error, 'the not-a-console message');
    assert.equal(page.data.error, '这不是控制台的登录二维码');
    assert.equal(page.data.state, 'scan');
    // Now the console's.
    page.tap('.scan');
    wx.scan(challenge.qrText);
    await waitFor(() => page.text().includes('登录网页控制台？') && page.text().includes(stallName), 'what is being approved');
    assert.equal(events.length, 0, 'nothing before the tap');
    assert.ok(!wx.requests.slice(requests).some((r) => JSON.stringify(r).includes('menu')), 'the other QR was not sent');
    assert.equal(page.textOf('.host'), `控制台：${new URL(server.url).host}`);
    assert.match(page.textOf('.when'), /^扫码时间：\d{1,2}:\d\d/);
    assert.match(page.textOf('.warning'), /只扫你自己档口屏幕上的二维码/);

    page.tap('.approve');
    await waitFor(() => page.text().includes('已登录'), 'approved');
    assert.ok(page.text().includes('请在控制台上退出登录'), 'how to end it');
    await waitFor(() => events.length === 1, 'the session on the console');
    assert.equal(events[0].errors, undefined);
    const session = events[0].data.consoleLoginApproved;
    assert.ok(session.token);
    assert.ok(session.user.roles.includes('SELLER'));
    assert.equal(session.user.seller.id, stall.sellerId);
    await waitFor(() => ended, 'the subscription to end');
    assert.deepEqual(ended, { complete: true });

    // The console's new session is the seller's: it reads and works the queue.
    const me = (await gql(server.url, ops.Me, {}, session.token)).me;
    assert.equal(me.seller.id, stall.sellerId);
    assert.deepEqual((await gql(server.url, ops.Queue, { sellerId: stall.sellerId }, session.token)).queue, []);
    page.close();

    // The same QR again: single use.
    const again = app.open('pages/approve/index');
    wx.scan(challenge.qrText);
    await waitFor(() => again.data.state === 'confirm', 'the confirmation');
    again.tap('.approve');
    await waitFor(() => again.data.error, 'the used-challenge message');
    assert.equal(again.data.error, '二维码已过期或已使用，请在电脑上刷新后重新扫码');
    assert.equal(again.data.state, 'scan');
    again.close();
  } finally {
    await console_.dispose();
  }
});

test('scan to log in: someone without a stall may not approve, and may cancel', async () => {
  const admin = await devLogin(server.url, 'SELLER', 'admin');
  const challenge = (await gql(server.url, START, {}, admin)).startConsoleLogin;
  // Another phone: the seller app, logged in by someone who has no stall.
  const stranger = createFakeWx({ openid: 'stranger' });
  const other = launchApp('seller', { wx: stranger, url: server.url });
  try {
    const page = other.open('pages/approve/index');
    stranger.scan(challenge.qrText);
    await waitFor(() => page.data.state === 'confirm', 'the confirmation');
    page.tap('.approve');
    await waitFor(() => page.data.error, 'the refusal');
    assert.equal(page.data.error, '只有档口老板或管理员可以登录控制台');

    // Scan again, then think better of it.
    page.tap('.scan');
    stranger.scan(challenge.qrText);
    await waitFor(() => page.data.state === 'confirm', 'the confirmation');
    page.tap('.reject');
    await waitFor(() => stranger.navigations.some((n) => n.type === 'navigateBack'), 'back');
    assert.equal(page.data.state, 'scan');
  } finally {
    other.close();
  }
});
