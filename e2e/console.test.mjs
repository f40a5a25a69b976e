// End-to-end test of the staff console (/console) and the live ticket page
// (/t/{token}) in headless Chromium against the real callme binary on SQLite
// (helpers in lib.mjs; see board.test.mjs for the board):
//
//   npm ci --prefix e2e && node --test e2e/
//
// An admin creates a stall in the console and reads its stats as charts; the
// stall's seller runs a day from the console with the keyboard; a student's
// ticket page follows the call within a second and through a server restart.
// Every page must pass axe-core's WCAG 2 A/AA rules (no serious or critical
// violation) and may talk to this machine only. With E2E_SCREENSHOTS=<dir>
// the README's screenshots are written there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { setup, freePort, startServer, stopServer, gql, login, launch, axe, screenshot, sleep } from './lib.mjs';

const STALL = '兰州拉面·二楼 🍜';
const NOTE = '不要香菜🌶️，多加一份面'; // a customer's note, shown to the seller only
const RECALL_GAP_MS = 2000; // -recall-gap: the least time between two calls of a number
let ARGS; // the server's flags: -recall-gap, and -public-url for trackURL

let env;
let server;
let browser;
let consolePage; // the seller's tablet
let adminPage;
let sellerId;
let sellerToken;
let inviteCode;
const issued = []; // every ticket the test took today: { id, code, via }
const done = new Set();
const noShows = new Set();

// Installed in every page: records vibrations and chimes (oscillators).
function instrument() {
  const rec = { vibrations: [], chimes: [] };
  window.__rec = rec;
  Object.defineProperty(navigator, 'vibrate', { value: (p) => (rec.vibrations.push({ p, at: performance.now() }), true), configurable: true });
  if (window.OscillatorNode) {
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...args) {
      rec.chimes.push(performance.now());
      return start.apply(this, args);
    };
  }
}

// customerTake: a student takes a number in the customer app.
const customerTake = async (openid, note, { track = false } = {}) => {
  const token = await login(server.base, 'CUSTOMER', `dev:${openid}`);
  const t = (
    await gql(server.base, `mutation($s: ID!, $n: String) { fetch(input: {sellerId: $s, note: $n}) { id code note ${track ? 'trackURL' : ''} } }`, { s: sellerId, n: note }, token)
  ).fetch;
  issued.push({ ...t, via: 'customer' });
  return { ...t, token };
};

const sellerStats = async () =>
  (
    await gql(
      server.base,
      `query($s: ID!, $f: String!, $t: String!) { sellerStats(sellerId: $s, from: $f, to: $t) {
        day issued completed noShows medianWaitSeconds p90WaitSeconds medianPickupSeconds p90PickupSeconds } }`,
      { s: sellerId, f: today(-1), t: today(1) },
      sellerToken,
    )
  ).sellerStats.filter((d) => d.issued > 0);

function today(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// rows: the console's ticket rows, as shown.
const rows = (page, list) =>
  page.$$eval(`#${list} li.ticket`, (lis) => lis.map((li) => ({ id: li.dataset.ticketId, code: li.dataset.code, status: li.dataset.status, text: li.textContent })));

const waitRow = (page, code, status, timeout = 8000) =>
  page.waitForSelector(`li.ticket[data-code="${code}"][data-status="${status}"]`, { timeout });

const count = (page, key) => page.$eval(`[data-count="${key}"] dd`, (dd) => Number(dd.textContent));

before(async () => {
  env = await setup('console');
  const port = await freePort();
  ARGS = ['-recall-gap', `${RECALL_GAP_MS}ms`, '-public-url', `http://127.0.0.1:${port}`];
  server = await startServer(env, `127.0.0.1:${port}`, ARGS);
  browser = await launch(env.work, { viewport: { width: 1280, height: 800 }, initScripts: [instrument] });
});

after(async () => {
  await browser?.context.close().catch(() => {});
  await stopServer(server);
  if (env) await rm(env.work, { recursive: true, force: true });
});

test('an admin logs in and creates a stall; its invite code is shown', async () => {
  adminPage = await browser.newPage();
  await adminPage.goto(`${server.base}console`);
  await adminPage.waitForSelector('#dev-login');
  await screenshot(adminPage, env.artifacts, 'console-login');
  await adminPage.fill('#dev-openid', 'admin');
  await adminPage.click('#dev-login button[type="submit"]');
  await adminPage.waitForSelector('body[data-view="admin"] #create');
  await adminPage.fill('#create-name', STALL);
  await adminPage.fill('#create-prefix', 'b'); // upper-cased by the console
  await adminPage.click('#create button[type="submit"]');
  const code = await adminPage.waitForSelector('#invite-code', { timeout: 5000 });
  inviteCode = (await code.textContent()).trim();
  assert.match(inviteCode, /\S{6,}/);
  const row = await adminPage.waitForSelector(`#stalls tr:has(td:text-is("${STALL}"))`);
  sellerId = await row.getAttribute('data-seller-id');
  assert.ok(sellerId);
  assert.match(await row.textContent(), /B/);

  // The seller claims it with the invite code in the seller mini-program
  // (here: the API), and the stall gets a menu.
  sellerToken = await login(server.base, 'SELLER', 'dev:seller-e2e');
  await gql(server.base, 'mutation($c: String!) { claimSeller(inviteCode: $c) { id } }', { c: inviteCode }, sellerToken);
  await gql(
    server.base,
    'mutation($s: ID!, $i: [MenuItemInput!]!) { setMenu(sellerId: $s, items: $i) { id } }',
    { s: sellerId, i: [{ name: '牛肉拉面', priceCents: 1800 }, { name: '凉皮', priceCents: 1000 }] },
    sellerToken,
  );

  // Renewing moves the paid term on by the chosen months.
  const before = Date.parse(await row.$eval('td[data-paid-until]', (td) => td.dataset.paidUntil));
  await row.$eval('td.renew select', (s) => (s.value = '3'));
  await row.$eval('td.renew button', (b) => b.click());
  await adminPage.waitForFunction(
    ([id, was]) => {
      const td = document.querySelector(`tr[data-seller-id="${id}"] td[data-paid-until]`);
      return td && Date.parse(td.dataset.paidUntil) > was + 80 * 86400000;
    },
    [sellerId, before],
    { timeout: 5000 },
  );
  // The audit log lists both actions.
  const audit = await adminPage.textContent('#audit');
  assert.match(audit, new RegExp(sellerId));
});

test("a seller's day: log in, open, hand out, call, recall, complete, no-show, cancel, reopen, sold out", async () => {
  consolePage = await browser.newPage();
  const page = consolePage;
  await page.goto(`${server.base}console`);
  await page.fill('#dev-openid', 'seller-e2e');
  await page.press('#dev-openid', 'Enter');
  await page.waitForSelector('body[data-view="seller"][data-conn="live"]', { timeout: 10000 });
  await page.waitForFunction((name) => document.getElementById('stall-name').textContent === name, STALL);

  // Open the stall.
  await page.waitForSelector('body[data-open="false"]');
  await page.click('#toggle-open');
  await page.waitForSelector('body[data-open="true"]', { timeout: 5000 });

  // Hand out a walk-up number from the keyboard: H, a note, Enter.
  await page.locator('body').press('h');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'handout-note');
  await page.keyboard.type('窗口取');
  await page.keyboard.press('Enter');
  const slipCode = (await (await page.waitForSelector('#slip-code', { timeout: 5000 })).textContent()).trim();
  const walkUp = (await gql(server.base, 'query($s: ID!) { queue(sellerId: $s) { id code claimCode } }', { s: sellerId }, sellerToken)).queue.find(
    (t) => t.code === slipCode,
  );
  assert.ok(walkUp, `the slip's ${slipCode} is in the queue`);
  issued.push({ ...walkUp, via: 'seller' });
  assert.equal((await page.textContent('#slip-claim')).trim(), walkUp.claimCode);
  await page.keyboard.press('Escape');
  await page.waitForSelector('#slip', { state: 'hidden' });

  // Customers take numbers in their app: the console shows them (and their
  // notes) without a reload.
  const a = await customerTake('student-a', NOTE);
  const b = await customerTake('student-b');
  const c = await customerTake('student-c');
  await waitRow(page, c.code, 'WAITING', 8000);
  assert.match((await rows(page, 'queue')).find((r) => r.code === a.code).text, new RegExp(NOTE));
  assert.equal(await count(page, 'waiting'), 4);

  // Space calls the next number: the walk-up one, first in line.
  await page.locator('body').press(' ');
  await page.waitForFunction((code) => document.getElementById('current').textContent === code, slipCode, { timeout: 3000 });
  await waitRow(page, slipCode, 'CALLED', 3000);
  await screenshot(page, env.artifacts, 'console-seller');
  // R recalls it: too soon, the server says so, with its code…
  const calledAt = Date.now();
  await page.locator('body').press('r');
  await page.waitForSelector('#error:has-text("RATE_LIMITED")', { timeout: 3000 });
  // …and a bit later it works (and the error goes).
  await sleep(Math.max(0, calledAt + RECALL_GAP_MS + 300 - Date.now()));
  await page.locator('body').press('r');
  await page.waitForSelector(`li.ticket[data-code="${slipCode}"]:has-text("叫了 2 次")`, { timeout: 3000 });
  // D: picked up.
  await page.locator('body').press('d');
  await waitRow(page, slipCode, 'DONE', 3000);
  done.add(slipCode);

  // Enter calls the next: a. N marks it a no-show; O reopens it.
  await page.locator('body').press('Enter');
  await waitRow(page, a.code, 'CALLED', 3000);
  await page.locator('body').press('n');
  await waitRow(page, a.code, 'NO_SHOW', 3000);
  await page.locator('body').press('o');
  await waitRow(page, a.code, 'WAITING', 3000);
  // Called again and a no-show for good.
  await page.click(`li.ticket[data-code="${a.code}"] button[data-action="call"]`);
  await waitRow(page, a.code, 'CALLED', 3000);
  await page.click(`li.ticket[data-code="${a.code}"] button[data-action="noShow"]`);
  await waitRow(page, a.code, 'NO_SHOW', 3000);
  noShows.add(a.code);

  // b is selected with the arrow keys (the selection is on the walk-up
  // number, last of the list: finished ones come after the queue) and
  // cancelled with X (it is waiting).
  const selectedCode = () => page.evaluate(() => document.querySelector('li.ticket.selected')?.dataset.code);
  await page.locator('body').press('ArrowUp');
  for (let i = 0; (await selectedCode()) !== b.code; i++) {
    assert.ok(i < 10, `${b.code} not reachable with the arrow keys`);
    await page.keyboard.press('ArrowUp');
  }
  await page.keyboard.press('x');
  await waitRow(page, b.code, 'CANCELLED', 3000);

  // c: called by Space, picked up with the button.
  await page.locator('body').press('Escape');
  await page.evaluate(() => document.activeElement.blur());
  await page.locator('body').press(' ');
  await waitRow(page, c.code, 'CALLED', 3000);
  await page.click(`li.ticket[data-code="${c.code}"] button[data-action="complete"]`);
  await waitRow(page, c.code, 'DONE', 3000);
  done.add(c.code);

  // A call made elsewhere (the seller's phone) shows up at once: the console
  // follows calledNumbers.
  const d = await customerTake('student-d');
  await waitRow(page, d.code, 'WAITING', 8000);
  const t0 = Date.now();
  await gql(server.base, 'mutation($t: ID!) { call(ticketId: $t) { id } }', { t: d.id }, sellerToken);
  await page.waitForFunction((code) => document.getElementById('current').textContent === code, d.code, { timeout: 2000, polling: 20 });
  console.log(`# call elsewhere -> console: ${Date.now() - t0} ms`);
  await page.locator('body').press('d');
  await waitRow(page, d.code, 'DONE', 3000);
  done.add(d.code);

  // Counts.
  assert.equal(await count(page, 'done'), done.size);
  assert.equal(await count(page, 'noShows'), noShows.size);
  assert.equal(await count(page, 'cancelled'), 1);
  assert.equal(await count(page, 'issued'), issued.length);

  // Sold out: 凉皮.
  await page.click('#menu li:has-text("凉皮") button');
  await page.waitForSelector('#menu li:has-text("凉皮")[data-available="false"]', { timeout: 3000 });
  const menu = (await gql(server.base, 'query($s: ID!) { seller(id: $s) { menu { name available } } }', { s: sellerId })).seller.menu;
  assert.deepEqual(menu, [{ name: '牛肉拉面', available: true }, { name: '凉皮', available: false }]);

  // English, and back.
  await page.click('#lang');
  await page.waitForSelector('#call-next:has-text("Call next")');
  await screenshot(page, env.artifacts, 'console-seller-en');
  await page.click('#lang');
  await page.waitForSelector('#call-next:has-text("叫下一号")');
});

test("the slip prints alone, and its QR code decodes to the ticket's trackURL", async () => {
  const page = consolePage;
  await page.click('#handout-btn');
  const code = (await (await page.waitForSelector('#slip-code', { timeout: 5000 })).textContent()).trim();
  const t = (await gql(server.base, 'query($s: ID!) { queue(sellerId: $s) { id code trackURL } }', { s: sellerId }, sellerToken)).queue.find((x) => x.code === code);
  issued.push({ ...t, via: 'seller' });
  assert.ok(t.trackURL, 'the seller reads trackURL');
  const want = new URL(t.trackURL, server.base).href;
  await screenshot(page, env.artifacts, 'console-slip');

  await page.emulateMedia({ media: 'print' });
  try {
    const visible = await page.evaluate(() =>
      [...document.body.children].filter((el) => getComputedStyle(el).display !== 'none' && el.offsetHeight > 0).map((el) => el.id),
    );
    assert.deepEqual(visible, ['slip'], 'printing shows the slip only');
    await screenshot(page, env.artifacts, 'console-slip-print', { clip: await (await page.$('#slip-paper')).boundingBox() });
    const png = PNG.sync.read(await (await page.$('#slip-qr')).screenshot());
    const qr = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    assert.ok(qr, 'a QR code was found in the slip');
    assert.equal(qr.data, want);
  } finally {
    await page.emulateMedia({ media: 'screen' });
  }
  await page.click('#slip-close');
});

test('the ticket page follows a call within a second, vibrates and chimes', async () => {
  const tk = await customerTake('student-e', null, { track: true });
  const page = await browser.newPage();
  await page.setViewportSize({ width: 390, height: 844 }); // a phone
  await page.goto(new URL(tk.trackURL, server.base).href);
  await page.waitForSelector('body[data-state="waiting"][data-conn="live"]', { timeout: 10000 });
  assert.equal((await page.textContent('#code')).trim(), tk.code);
  assert.equal((await page.textContent('#stall')).trim(), STALL);
  assert.doesNotMatch(await page.textContent('body'), new RegExp(NOTE.slice(0, 4)), 'no note on the public page');
  await page.click('#sound');
  await page.waitForSelector('body[data-sound="on"]');
  await screenshot(page, env.artifacts, 'ticket-waiting');
  const chimesBefore = (await page.evaluate(() => window.__rec.chimes.length));

  const t0 = Date.now();
  await gql(server.base, 'mutation($t: ID!) { call(ticketId: $t) { id } }', { t: tk.id }, sellerToken);
  await page.waitForSelector('body[data-state="called"]', { timeout: 1000 });
  const ms = Date.now() - t0;
  console.log(`# call -> ticket page: ${ms} ms`);
  assert.ok(ms < 1000, `called state after ${ms} ms`);
  const rec = await page.evaluate(() => window.__rec);
  assert.equal(rec.vibrations.length, 1, 'vibrated once');
  assert.ok(rec.chimes.length > chimesBefore, 'chimed');
  await screenshot(page, env.artifacts, 'ticket-called');
  await gql(server.base, 'mutation($t: ID!) { complete(ticketId: $t) { id } }', { t: tk.id }, sellerToken);
  done.add(tk.code);
  await page.waitForSelector('body[data-state="done"]', { timeout: 2000 });
  await page.close();
});

test('the ticket page survives a server restart and misses no call', async () => {
  const tk = await customerTake('student-f', null, { track: true });
  const page = await browser.newPage();
  await page.goto(new URL(tk.trackURL, server.base).href);
  await page.waitForSelector('body[data-state="waiting"][data-conn="live"]', { timeout: 10000 });

  await stopServer(server, 'SIGKILL');
  await page.waitForSelector('body[data-conn="reconnecting"]', { timeout: 10000 });
  // The call happens while the page's server is down, through another
  // instance on the same database.
  const other = await startServer(env, '127.0.0.1:0', ARGS);
  try {
    await gql(other.base, 'mutation($t: ID!) { call(ticketId: $t) { id } }', { t: tk.id }, sellerToken);
  } finally {
    await stopServer(other);
  }
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'waiting');
  server = await startServer(env, `127.0.0.1:${server.port}`, ARGS);
  await page.waitForSelector('body[data-state="called"][data-conn="live"]', { timeout: 30000 });
  assert.equal(await page.evaluate(() => window.__rec.vibrations.length), 1, 'the missed call alerts once');
  await gql(server.base, 'mutation($t: ID!) { complete(ticketId: $t) { id } }', { t: tk.id }, sellerToken);
  done.add(tk.code);
  await page.waitForSelector('body[data-state="done"]', { timeout: 3000 });
  // The console reconnected by itself as well.
  await consolePage.waitForSelector('body[data-conn="live"]', { timeout: 30000 });
  await page.close();
});

test('scan to log in: the console shows a challenge, the seller approves it on the phone, the console is in', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.base}console`);
  await page.click('#scan-instead');
  const qrEl = await page.waitForSelector('#scan-qr svg', { timeout: 5000 });
  await sleep(200);
  const png = PNG.sync.read(await qrEl.screenshot());
  const qr = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(qr, 'a QR code is shown');
  assert.match(await page.textContent('#scan-countdown'), /\d+/);
  await screenshot(page, env.artifacts, 'console-scan-login');
  // The seller mini-program's approval page calls this with what it scanned.
  const ok = (await gql(server.base, 'mutation($q: String!) { approveConsoleLogin(qrText: $q) }', { q: qr.data }, sellerToken)).approveConsoleLogin;
  assert.equal(ok, true);
  await page.waitForSelector('body[data-view="seller"]', { timeout: 5000 });
  await page.waitForFunction((name) => document.getElementById('stall-name')?.textContent === name, STALL);
  // The challenge is single use.
  await assert.rejects(gql(server.base, 'mutation($q: String!) { approveConsoleLogin(qrText: $q) }', { q: qr.data }, sellerToken), /NOT_FOUND/);
  await page.close();
});

test('scan to log in: the QR code is renewed before its challenge expires', async () => {
  const page = await browser.newPage();
  await page.clock.install(); // the page's timers and Date, fast-forwarded below
  await page.goto(`${server.base}console`);
  await page.click('#scan-instead');
  await page.waitForSelector('#scan-qr svg', { timeout: 5000 });
  const first = await page.$eval('#scan-qr', (el) => el.dataset.qrText);
  // A challenge lasts 2 minutes; the console asks for a new one 10 s before.
  await page.clock.runFor(100000);
  assert.equal(await page.$eval('#scan-qr', (el) => el.dataset.qrText), first, 'renewed too early');
  await page.clock.runFor(15000);
  await page.waitForFunction((q) => document.getElementById('scan-qr').dataset.qrText !== q, first, { timeout: 5000 });
  const second = await page.$eval('#scan-qr', (el) => el.dataset.qrText);
  assert.ok(second);
  await page.close();
});

test('the console fits a tablet either way round, with touch-sized controls', async () => {
  const page = consolePage;
  await page.bringToFront();
  for (const size of [{ width: 1280, height: 800 }, { width: 810, height: 1080 }, { width: 1024, height: 768 }]) {
    await page.setViewportSize(size);
    await sleep(200);
    const fit = await page.evaluate(() => ({
      sideways: document.documentElement.scrollWidth > window.innerWidth,
      small: [...document.querySelectorAll('button, input, select')]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => el.getBoundingClientRect().height < 44 && !el.closest('#error'))
        .map((el) => el.id || el.textContent.trim()),
    }));
    assert.deepEqual(fit, { sideways: false, small: [] }, `${size.width}x${size.height}`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('an unknown or malformed ticket link says so', async () => {
  const page = await browser.newPage();
  for (const token of ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'nope']) {
    await page.goto(`${server.base}t/${token}`);
    await page.waitForSelector('body[data-state="gone"]', { timeout: 10000 });
    assert.match(await page.textContent('#gone'), /expired/);
  }
  await page.close();
});

test('the admin sees the stall\'s stats as charts with the right numbers', async () => {
  const page = adminPage;
  await page.reload();
  await page.waitForSelector('body[data-view="admin"] #stats-seller');
  await page.selectOption('#stats-seller', sellerId);
  await page.click('#stats-form button[type="submit"]');
  await page.waitForSelector('#chart-counts');
  const api = await sellerStats();
  assert.equal(api.length, 1, 'one business day with tickets');
  const day = api[0].day;
  const label = (series) =>
    page.$eval(`.chart text.value[data-series="${series}"][data-day="${day}"]`, (el) => el.textContent).catch(() => null);
  // What the test did.
  assert.equal(await label('issued'), String(issued.length));
  assert.equal(await label('completed'), String(done.size));
  assert.equal(await label('noShows'), String(noShows.size));
  // Waits and pickups: as the server computed them.
  const want = {
    waitP50: api[0].medianWaitSeconds,
    waitP90: api[0].p90WaitSeconds,
    pickupP50: api[0].medianPickupSeconds,
    pickupP90: api[0].p90PickupSeconds,
  };
  for (const [series, v] of Object.entries(want)) {
    assert.notEqual(v, null, `${series} known`);
    assert.equal(await label(series), String(v), series);
  }
  // Bars are as tall as their values say.
  const heights = await page.$$eval(`#chart-counts rect.bar[data-day="${day}"]`, (rs) =>
    Object.fromEntries(rs.map((r) => [r.dataset.series, Number(r.getAttribute('height'))])),
  );
  assert.ok(heights.issued > heights.completed && heights.completed > heights.noShows && heights.noShows > 0, JSON.stringify(heights));
  await page.locator('#charts').scrollIntoViewIfNeeded();
  await screenshot(page, env.artifacts, 'console-admin-stats', { fullPage: true });
});

test('axe-core (WCAG 2 A and AA): no serious or critical violation on the console and the ticket page', async () => {
  const found = {};
  found['console, seller'] = await axe(consolePage);
  found['console, admin'] = await axe(adminPage);
  const login = await browser.newPage();
  await login.goto(`${server.base}console`); // a new tab: logged out
  await login.waitForSelector('#dev-login');
  found['console, login'] = await axe(login);
  const tk = await customerTake('student-g', null, { track: true });
  const ticket = await browser.newPage();
  await ticket.goto(new URL(tk.trackURL, server.base).href);
  await ticket.waitForSelector('body[data-state="waiting"]');
  found['ticket page'] = await axe(ticket);
  await gql(server.base, 'mutation($t: ID!) { call(ticketId: $t) { id } }', { t: tk.id }, sellerToken);
  await ticket.waitForSelector('body[data-state="called"]');
  found['ticket page, called'] = await axe(ticket);
  assert.deepEqual(found, { 'console, seller': [], 'console, admin': [], 'console, login': [], 'ticket page': [], 'ticket page, called': [] });
});

test('nothing left this machine; no page errors', () => {
  assert.deepEqual(browser.blocked, [], 'requests to other hosts');
  assert.deepEqual(browser.pageErrors, [], 'uncaught errors in pages');
  assert.deepEqual(browser.cspViolations, [], 'Content-Security-Policy violations');
  assert.deepEqual(browser.textDocuments, [], 'pages send persisted hashes only');
});
