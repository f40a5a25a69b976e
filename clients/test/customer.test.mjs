// The customer example mini-program (miniprogram/examples/customer) in
// miniprogram-simulate, against a real callme (SQLite, trusted documents)
// through a fake wx whose requests and sockets are real. The stall's side
// goes through the API with the kit's documents, as the seller app sends them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setUpStall, gql, devLogin, operations as ops } from '../testlib/server.mjs';
import { createFakeWx, waitFor, sleep } from '../testlib/fakewx.mjs';
import { launchApp, parseUrl } from '../testlib/miniprogram.mjs';

let server;
let stall;
let wx;
let app;
const stallName = '兰州拉面🍜';
// A note at its limit: 100 characters, CJK and emoji (one character each).
const note = '少辣多醋🍜'.repeat(20);

before(async () => {
  server = await startServer();
  stall = await setUpStall(server.url, { name: stallName, prefix: 'A', owner: 'laowang' });
  wx = createFakeWx({ openid: 'xiaoming' });
  app = launchApp('customer', { wx, url: server.url });
});

after(async () => {
  app?.close();
  await server?.stop();
});

const asSeller = (query, variables) => gql(server.url, query, variables, stall.ownerToken);

// untilAllowed runs fn again after a RATE_LIMITED answer, once its
// retryAfterSeconds are over.
async function untilAllowed(fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const wait = err.code === 'RATE_LIMITED' && err.errors[0].extensions.retryAfterSeconds;
      if (!wait || i >= 2) throw err;
      await sleep(wait * 1000 + 100);
    }
  }
}

// The page a wx.navigateTo/redirectTo of the page under test leads to.
async function followNavigation(type, route) {
  const nav = await waitFor(() => wx.navigations.find((n) => n.type === type && n.url.startsWith(`/${route}?`)), `${type} to ${route}`);
  wx.navigations.splice(wx.navigations.indexOf(nav), 1);
  const { query } = parseUrl(nav.url);
  return { query, page: app.open(route, query) };
}

test('take a number with a note, follow it live, get called (vibrate), recalled, pick it up', async () => {
  const stalls = app.open('pages/stalls/index');
  await waitFor(() => stalls.text().includes(stallName), 'the stall list');
  assert.match(stalls.text(), /等待 0 人/);

  stalls.tapIn('.stall', stallName, '.select');
  await waitFor(() => stalls.data.selected === stall.sellerId, 'the stall selected');
  stalls.input('.note', note);
  stalls.tap('.confirm');
  const { page: ticket, query } = await followNavigation('navigateTo', 'pages/ticket/index');
  await waitFor(() => ticket.textOf('.code') === 'A001', 'the ticket page');
  assert.equal(ticket.textOf('.status'), '等待中');
  assert.match(ticket.text(), /前面还有 0 人/);
  assert.ok(ticket.text().includes(`备注：${note}`), ticket.text());
  assert.ok(ticket.text().includes(stallName));

  // The stall sees the note.
  const queue = (await asSeller(ops.Queue, { sellerId: stall.sellerId })).queue;
  assert.deepEqual(queue.map((t) => [t.code, t.note]), [['A001', note]]);
  assert.equal(decodeURIComponent(query.id), queue[0].id);

  // My tickets: the same ticket, live too.
  const mine = app.open('pages/tickets/index');
  await waitFor(() => mine.textOf('.ticket-code') === 'A001' && mine.textOf('.status') === '等待中', 'my tickets');
  assert.equal(wx.vibrations, 0);
  mine.tap('.ticket', 'A001');
  await waitFor(() => wx.navigations.some((n) => n.url === `/pages/ticket/index?id=${query.id}`), 'my ticket opens its page');
  wx.navigations.length = 0;

  // Its public page's link, for another phone or a computer: copied, and
  // served by the server the app talks to.
  ticket.tap('.share');
  await waitFor(() => wx.clipboard, 'the link copied');
  const link = new URL(wx.clipboard);
  assert.match(link.pathname, /^\/t\/[A-Za-z0-9_-]{20,}$/);
  const page = await fetch(server.url + link.pathname);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);

  // The stall calls it.
  assert.equal((await asSeller(ops.CallNext, { sellerId: stall.sellerId })).callNext.code, 'A001');
  await waitFor(() => ticket.text().includes('请到窗口取餐'), 'the call on the ticket page');
  assert.equal(ticket.textOf('.status'), '到你了');
  await waitFor(() => ticket.text().includes('正在叫号：A001'), 'now calling');
  assert.equal(wx.vibrations, 1, 'one long vibration for the call');
  await waitFor(() => mine.textOf('.status') === '到你了', 'the call on my tickets');

  // A recall vibrates again and says how often it was called. The server
  // allows one call of a number every few seconds: wait as long as it says.
  await untilAllowed(() => asSeller(ops.CallTicket, { ticketId: queue[0].id }));
  await waitFor(() => ticket.text().includes('已叫 2 次'), 'the recall');
  assert.equal(wx.vibrations, 2);

  ticket.tap('.picked-up');
  await waitFor(() => ticket.textOf('.status') === '已取餐', 'picked up');
  assert.ok(!ticket.text().includes('请到窗口取餐'));
  await waitFor(() => mine.textOf('.status') === '已取餐', 'DONE on my tickets');
  assert.deepEqual((await asSeller(ops.Queue, { sellerId: stall.sellerId })).queue, []);
  assert.equal(wx.vibrations, 2);
  ticket.close();
  mine.close();
  stalls.close();
});

test('claim a paper number with its claim code, then follow it to the call', async () => {
  const handed = (await asSeller(ops.HandOutNumber, { sellerId: stall.sellerId })).fetch;
  assert.equal(handed.code, 'A002');
  assert.match(handed.claimCode, /^\d{6}$/);

  const stalls = app.open('pages/stalls/index');
  await waitFor(() => stalls.text().includes(stallName), 'the stall list');
  stalls.tapIn('.stall', stallName, '.claim');
  const { page: claim } = await followNavigation('navigateTo', 'pages/claim/index');
  await waitFor(() => claim.data.stallIndex >= 0, 'the stall preselected');
  assert.ok(claim.text().includes(stallName));

  claim.input('.number', '2');
  claim.input('.claim-code', handed.claimCode === '000000' ? '000001' : '000000');
  claim.tap('.submit');
  await waitFor(() => claim.text().includes('没有这个号，或领取码不对'), 'the wrong-code message');
  assert.equal(wx.navigations.length, 0);

  claim.input('.claim-code', handed.claimCode);
  claim.input('.note', '打包');
  claim.tap('.submit');
  const { page: ticket } = await followNavigation('redirectTo', 'pages/ticket/index');
  await waitFor(() => ticket.textOf('.code') === 'A002' && ticket.textOf('.status') === '等待中', 'the claimed ticket');
  assert.ok(ticket.text().includes('备注：打包'));

  const before = wx.vibrations;
  await asSeller(ops.CallNext, { sellerId: stall.sellerId });
  await waitFor(() => ticket.text().includes('请到窗口取餐'), 'the call');
  assert.equal(wx.vibrations, before + 1);

  // Someone else cannot claim it again.
  const other = await devLogin(server.url, 'CUSTOMER', 'xiaohong');
  await assert.rejects(
    gql(server.url, ops.ClaimNumber, { sellerId: stall.sellerId, number: 2, claimCode: handed.claimCode }, other),
    { code: 'TICKET_TAKEN' },
  );

  // Cancelling (after the dialog) gives a claimed paper number back: gone for
  // this customer, still in the stall's queue for whoever holds the slip.
  ticket.tap('.cancel');
  await waitFor(() => ticket.textOf('.status') === '已取消', 'cancelled');
  assert.equal(wx.modals.at(-1).title, '取消这个号？');
  const queue = (await asSeller(ops.Queue, { sellerId: stall.sellerId })).queue;
  assert.deepEqual(queue.map((t) => t.code), ['A002']);
  const token = wx.getStorageSync('callme.session.CUSTOMER').token;
  assert.ok(!(await gql(server.url, ops.MyTickets, {}, token)).myTickets.some((t) => t.code === 'A002' && t.status === 'CALLED'));
  await asSeller(ops.CompleteTicket, { ticketId: queue[0].id });
  ticket.close();
  claim.close();
  stalls.close();
});

test('a phone that slept through the call shows it once the network is back', async () => {
  const token = wx.getStorageSync('callme.session.CUSTOMER').token;
  const mine = (await gql(server.url, ops.TakeNumber, { sellerId: stall.sellerId }, token)).fetch;
  const ticket = app.open('pages/ticket/index', { id: encodeURIComponent(mine.id) });
  await waitFor(() => ticket.textOf('.code') === mine.code && ticket.textOf('.status') === '等待中', 'the ticket');
  const before = wx.vibrations;

  // Asleep: the socket dies without a close frame and reconnecting fails.
  wx.refuseSockets = true;
  assert.equal(wx.killSockets(), 1);
  assert.equal((await asSeller(ops.CallNext, { sellerId: stall.sellerId })).callNext.code, mine.code);
  await waitFor(() => wx.refused >= 1, 'a failed reconnect');
  assert.equal(ticket.textOf('.status'), '等待中');

  // Awake: app.js hands the network change to the kit, which reconnects and
  // resubscribes; ticketUpdated starts with the ticket's state.
  wx.refuseSockets = false;
  wx.setNetwork(true);
  await waitFor(() => ticket.textOf('.status') === '到你了', 'the call after the sleep');
  assert.ok(ticket.text().includes('请到窗口取餐'));
  assert.equal(wx.vibrations, before + 1);
  ticket.tap('.picked-up');
  await waitFor(() => ticket.textOf('.status') === '已取餐', 'picked up');
  ticket.close();
});

test('a closed stall: the list says so, and taking a number there says why it failed', async () => {
  const stalls = app.open('pages/stalls/index');
  await waitFor(() => stalls.text().includes(stallName), 'the stall list');
  stalls.tapIn('.stall', stallName, '.select');
  await waitFor(() => stalls.data.selected, 'the stall selected');
  await asSeller(ops.SetOpen, { sellerId: stall.sellerId, open: false });
  stalls.tap('.confirm');
  await waitFor(() => stalls.text().includes('档口已打烊'), 'the closed-stall message');
  assert.equal(wx.navigations.length, 0);

  stalls.instance.onPullDownRefresh();
  await waitFor(() => stalls.text().includes('现在没有营业的档口'), 'the empty list');
  stalls.close();
  await asSeller(ops.SetOpen, { sellerId: stall.sellerId, open: true });
});
