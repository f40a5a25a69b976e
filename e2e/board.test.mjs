// End-to-end test of the call board (/board/{sellerId}) and the GraphQL
// playground (/) in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), against the real callme binary on SQLite:
//
//   npm ci --prefix e2e && node --test e2e/
//
// The browser may talk to this machine only: any other request fails the
// test, so both pages are shown to work offline. Screenshots and server logs
// go to a temporary directory (E2E_ARTIFACTS to choose it), never the repo.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setup, startServer as start, stopServer, gql, login, launch, axe, sleep } from './lib.mjs';

const STALL = 'Noodle King';

let env; // { work, artifacts, bin, db }
let artifacts; // screenshots and logs, kept after the run
let server; // the main server: { proc, base, port }
let browser; // launch()'s: context, newPage, and what was blocked or failed
let board; // the board page
let sellerId;
let ownerToken;

const startServer = (addr) => start(env, addr);
const newPage = () => browser.newPage();

// takeNumber hands out a number at the counter (as the seller: no per-customer cap).
const takeNumber = async (base) =>
  (await gql(base, 'mutation($s: ID!) { fetch(input: {sellerId: $s}) { id code } }', { s: sellerId }, ownerToken)).fetch;

const callNext = async (base) =>
  (await gql(base, 'mutation($s: ID!) { callNext(sellerId: $s) { id code } }', { s: sellerId }, ownerToken)).callNext;

const recall = async (base, ticketId) =>
  (await gql(base, 'mutation($t: ID!) { call(ticketId: $t) { id code callCount } }', { t: ticketId }, ownerToken)).call;

const announcement = (code) => `请 ${code} 号取餐`;

// ---------------------------------------------------------------------------
// The browser.

// Installed in every page before its scripts: a speechSynthesis that records
// utterances and takes a while to "speak" each (queueing like the real one),
// and a record of chimes (WebAudio oscillators started).
function instrumentSpeech() {
  const SPEAK_MS = 600;
  const rec = { log: [], cancels: 0, speakWhileBusy: 0, chimes: [] };
  window.__speech = rec;
  const queue = [];
  let current = null;
  const fire = (u, type) => {
    const ev = new Event(type);
    if (typeof u['on' + type] === 'function') u['on' + type](ev);
    u.dispatchEvent(ev);
  };
  const pump = () => {
    if (current || queue.length === 0) return;
    const u = queue.shift();
    current = u;
    const entry = { text: u.text, lang: u.lang, start: performance.now(), end: null };
    rec.log.push(entry);
    fire(u, 'start');
    setTimeout(() => {
      entry.end = performance.now();
      current = null;
      fire(u, 'end');
      pump();
    }, SPEAK_MS);
  };
  class Utterance extends EventTarget {
    constructor(text = '') {
      super();
      Object.assign(this, { text, lang: '', voice: null, rate: 1, pitch: 1, volume: 1 });
      Object.assign(this, { onstart: null, onend: null, onerror: null, onpause: null, onresume: null, onboundary: null, onmark: null });
    }
  }
  const synth = {
    get speaking() { return current !== null; },
    get pending() { return queue.length > 0; },
    paused: false,
    speak(u) {
      if (current || queue.length) rec.speakWhileBusy++;
      queue.push(u);
      pump();
    },
    cancel() {
      rec.cancels++;
      queue.length = 0;
    },
    pause() {},
    resume() {},
    getVoices() { return []; },
    addEventListener() {},
    removeEventListener() {},
    onvoiceschanged: null,
  };
  Object.defineProperty(window, 'speechSynthesis', { value: synth, configurable: true });
  Object.defineProperty(window, 'SpeechSynthesisUtterance', { value: Utterance, configurable: true });
  if (window.OscillatorNode) {
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...args) {
      rec.chimes.push(performance.now());
      return start.apply(this, args);
    };
  }
}

const speech = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.__speech)));

// shown is what the board displays: the big number and the list, newest first.
const shown = (page) =>
  page.evaluate(() => ({
    current: document.getElementById('current').textContent,
    history: [...document.querySelectorAll('#history li')].map((li) => li.textContent),
    lastSeq: Number(document.body.dataset.lastSeq || 0),
    conn: document.body.dataset.conn,
    sound: document.body.dataset.sound,
  }));

const waitCurrent = (page, code, timeout) =>
  page.waitForFunction((c) => document.getElementById('current').textContent === c, code, { timeout, polling: 20 });

// waitSpoken waits until the page has finished speaking every text (each as
// often as it occurs in texts) and returns the log.
async function waitSpoken(page, texts, timeout = 20000) {
  await page.waitForFunction(
    (want) => {
      const done = window.__speech.log.filter((e) => e.end !== null).map((e) => e.text);
      return want.every((t) => done.filter((d) => d === t).length >= want.filter((w) => w === t).length);
    },
    texts,
    { timeout, polling: 100 },
  );
  return speech(page);
}

// ---------------------------------------------------------------------------

before(async () => {
  env = await setup('board');
  artifacts = env.artifacts;
  server = await startServer('127.0.0.1:0');

  const admin = await login(server.base, 'SELLER', 'dev:admin');
  const created = await gql(
    server.base,
    'mutation($i: CreateSellerInput!) { createSeller(input: $i) { seller { id } inviteCode } }',
    { i: { name: STALL, prefix: 'A', paidUntil: '2030-01-01T00:00:00Z' } },
    admin,
  );
  sellerId = created.createSeller.seller.id;
  ownerToken = await login(server.base, 'SELLER', 'dev:owner');
  await gql(server.base, 'mutation($c: String!) { claimSeller(inviteCode: $c) { id } }', { c: created.createSeller.inviteCode }, ownerToken);
  await gql(server.base, 'mutation($s: ID!) { setOpen(sellerId: $s, open: true) { open } }', { s: sellerId }, ownerToken);

  browser = await launch(env.work, { initScripts: [instrumentSpeech] });
  board = await newPage();
});

after(async () => {
  await browser?.context.close().catch(() => {});
  await stopServer(server);
  if (env) await rm(env.work, { recursive: true, force: true });
});

test('the board renders the stall and goes live', async () => {
  const started = Date.now();
  await board.bringToFront();
  await board.goto(`${server.base}board/${sellerId}`);
  await board.waitForFunction((name) => document.getElementById('stall-name').textContent === name, STALL, { timeout: 10000, polling: 50 });
  await board.waitForSelector('body[data-conn="live"][data-state="ready"]', { timeout: 10000 });
  console.log(`# board loaded and live after ${Date.now() - started} ms`);
  assert.equal(await board.textContent('#waiting'), '0');
  assert.equal(await board.isVisible('#banner'), false, 'no reconnecting banner while live');
  assert.match(await board.textContent('#clock-time'), /^\d\d:\d\d:\d\d$/);
});

test('sound needs a single tap, and is remembered', async () => {
  assert.equal((await shown(board)).sound, 'off');
  assert.equal(await board.isVisible('#sound'), true);
  await board.click('#sound');
  await board.waitForSelector('body[data-sound="on"]', { timeout: 5000 });
  assert.equal(await board.evaluate(() => localStorage.getItem('callme.board.sound')), '1');
});

test('a call made through the API shows up within a second', async () => {
  await takeNumber(server.base);
  await takeNumber(server.base);
  await board.waitForFunction(() => document.getElementById('waiting').textContent === '2', null, { timeout: 8000, polling: 50 });
  const started = Date.now();
  const ticket = await callNext(server.base);
  await waitCurrent(board, ticket.code, 1000);
  const ms = Date.now() - started;
  console.log(`# call -> board: ${ms} ms`);
  assert.ok(ms < 1000, `shown after ${ms} ms`);
  // The waiting count follows the call without waiting for the next poll.
  await board.waitForFunction(() => document.getElementById('waiting').textContent === '1', null, { timeout: 2000, polling: 50 });
  await waitSpoken(board, [announcement(ticket.code)]);
});

test('three quick calls are announced in order, none cut off; a recall again', async () => {
  await callNext(server.base); // the one still waiting from the test before
  const tickets = [await takeNumber(server.base), await takeNumber(server.base), await takeNumber(server.base)];
  const before = (await speech(board)).log.length;
  for (const t of tickets) await callNext(server.base); // back to back, no pause
  const texts = tickets.map((t) => announcement(t.code));
  const rec = await waitSpoken(board, texts);
  const spoken = rec.log.slice(before).filter((e) => texts.includes(e.text));
  assert.deepEqual(spoken.map((e) => e.text), texts, 'announced once each, in call order');
  for (const e of spoken) assert.equal(e.lang, 'zh-CN');
  for (let i = 1; i < spoken.length; i++) {
    assert.ok(spoken[i].start >= spoken[i - 1].end, `announcement ${i + 1} started before ${i} had ended`);
    const chime = rec.chimes.some((t) => t >= spoken[i - 1].end && t <= spoken[i].start);
    assert.ok(chime, `a chime before announcement ${i + 1}`);
  }
  assert.equal(rec.cancels, 0, 'speechSynthesis.cancel() was called');
  assert.equal(rec.speakWhileBusy, 0, 'speak() called while another utterance was still speaking');

  const s = await shown(board);
  assert.equal(s.current, tickets[2].code);
  assert.deepEqual(s.history.slice(0, 2), [tickets[1].code, tickets[0].code]);

  // A recall moves the number back to the front and is announced again.
  await recall(server.base, tickets[0].id);
  await waitCurrent(board, tickets[0].code, 2000);
  const again = await waitSpoken(board, [texts[0], texts[0]]);
  assert.equal(again.log.filter((e) => e.text === texts[0]).length, 2);
  const after = await shown(board);
  assert.equal(new Set([after.current, ...after.history]).size, after.history.length + 1, 'no number listed twice');
  assert.equal(again.cancels, 0);
});

test('killing and restarting the server: no call missed or shown twice', async () => {
  const beforeKill = await shown(board);
  const spokenBefore = (await speech(board)).log.length;
  assert.ok(beforeKill.lastSeq > 0);

  await stopServer(server, 'SIGKILL');
  await board.waitForSelector('body[data-conn="reconnecting"]', { timeout: 10000 });
  assert.equal(await board.isVisible('#banner'), true, 'the reconnecting banner shows');
  assert.match(await board.textContent('#banner'), /Reconnecting/);

  // While the board's server is down, five calls happen through another
  // instance on the same database (a second port): the board must replay them.
  const other = await startServer('127.0.0.1:0');
  const missed = [];
  try {
    for (let i = 0; i < 5; i++) await takeNumber(other.base);
    for (let i = 0; i < 5; i++) missed.push((await callNext(other.base)).code);
  } finally {
    await stopServer(other);
  }
  await sleep(3000); // so that these calls are clearly older than the reconnection
  assert.equal((await shown(board)).conn, 'reconnecting');

  server = await startServer(`127.0.0.1:${server.port}`); // same port, same database
  await board.waitForSelector('body[data-conn="live"]', { timeout: 30000 });
  await waitCurrent(board, missed[4], 5000);
  assert.equal(await board.isVisible('#banner'), false);

  // Then two live calls on the restarted server.
  const live = [];
  await takeNumber(server.base);
  await takeNumber(server.base);
  live.push((await callNext(server.base)).code);
  live.push((await callNext(server.base)).code);
  await waitCurrent(board, live[1], 2000);

  const s = await shown(board);
  const all = [s.current, ...s.history];
  assert.equal(new Set(all).size, all.length, `a number is listed twice: ${all}`);
  assert.deepEqual(all.slice(0, 7), [...live].reverse().concat([...missed].reverse()), 'every call shown once, newest first');
  assert.equal(s.lastSeq, beforeKill.lastSeq + 7, 'seq moved by exactly the 7 calls');

  // Announced: of the five missed calls only the latest three, then both live ones.
  const texts = [...missed.slice(2), ...live].map(announcement);
  const rec = await waitSpoken(board, texts);
  const spoken = rec.log.slice(spokenBefore).map((e) => e.text);
  assert.deepEqual(spoken, texts, 'missed calls collapsed to the latest 3, each call announced once, in order');
  assert.equal(rec.cancels, 0);

  // A board opened now replays the whole day from the server: it must show
  // exactly what the reconnected board shows, and announce none of it.
  const fresh = await newPage();
  await fresh.goto(`${server.base}board/${sellerId}`);
  await fresh.waitForSelector('body[data-conn="live"]', { timeout: 10000 });
  await fresh.waitForFunction((seq) => Number(document.body.dataset.lastSeq) === seq, s.lastSeq, { timeout: 5000, polling: 50 });
  const f = await shown(fresh);
  assert.equal(f.current, s.current);
  assert.deepEqual(f.history, s.history);
  assert.notEqual(f.sound, 'off', 'the sound choice is remembered');
  await sleep(1000);
  assert.deepEqual((await speech(fresh)).log.filter((e) => /取餐/.test(e.text)), [], 'a fresh board does not announce the day so far');
  await fresh.close();
});

test('fills a 1080p TV and a portrait tablet', async () => {
  await board.bringToFront();
  for (const [name, size] of [
    ['board-tv-1920x1080', { width: 1920, height: 1080 }],
    ['board-tablet-portrait-810x1080', { width: 810, height: 1080 }],
  ]) {
    await board.setViewportSize(size);
    await sleep(300);
    const fit = await board.evaluate(() => {
      const de = document.documentElement;
      const inside = (el, box) => {
        const a = el.getBoundingClientRect();
        const b = box.getBoundingClientRect();
        return a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
      };
      const cur = document.getElementById('current');
      return {
        scroll: de.scrollWidth > window.innerWidth || de.scrollHeight > window.innerHeight,
        current: inside(cur, document.querySelector('.now')) && cur.scrollWidth <= cur.clientWidth + 1,
        history: [...document.querySelectorAll('#history li')].every(
          (li) => inside(li, document.querySelector('.recent')) && li.scrollWidth <= li.clientWidth + 1,
        ),
        main: inside(document.querySelector('main'), document.body),
        bigger: parseFloat(getComputedStyle(cur).fontSize) > 3 * parseFloat(getComputedStyle(document.querySelector('#history li')).fontSize),
      };
    });
    assert.deepEqual(fit, { scroll: false, current: true, history: true, main: true, bigger: true }, name);
    const file = path.join(artifacts, `${name}.png`);
    await board.screenshot({ path: file });
    console.log(`# screenshot: ${file}`);
  }
  await board.setViewportSize({ width: 1920, height: 1080 });
});

test('an unknown seller shows a clear error', async () => {
  const page = await newPage();
  for (const id of ['sl00000000000000000000000000', 'no-such-stall']) {
    await page.goto(`${server.base}board/${id}`);
    await page.waitForSelector('body[data-state="error"]', { timeout: 10000 });
    assert.equal(await page.isVisible('#error'), true);
    assert.match(await page.textContent('#error'), /Unknown stall/);
    assert.match(await page.textContent('#error'), new RegExp(id));
    assert.equal(await page.isVisible('#banner'), false);
    assert.equal(await page.isVisible('#current'), false);
  }
  await page.screenshot({ path: path.join(artifacts, 'board-unknown-seller.png') });
  await page.close();
});

test('the playground at / loads from the binary and runs a query', async () => {
  const page = await newPage();
  await page.bringToFront();
  await page.goto(server.base);
  await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout: 15000 });
  await page.evaluate(() => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ __typename }');
  });
  // GraphiQL takes the operation name from the editor after a moment: the
  // tab stops being named after the default query's operation.
  await page.waitForFunction(() => !/Sellers/.test(document.querySelector('.graphiql-tabs').textContent), null, {
    timeout: 5000,
    polling: 50,
  });
  await page.click('.graphiql-execute-button');
  const result = await page
    .waitForFunction(
    () => {
      const cm = document.querySelector('.graphiql-response .CodeMirror');
      const text = cm && cm.CodeMirror.getValue();
      return text && text.includes('__typename') ? text : false;
    },
    null,
    { timeout: 10000, polling: 100 },
    )
    .catch(async (err) => {
      await page.screenshot({ path: path.join(artifacts, 'playground-failed.png') });
      const editors = await page.evaluate(() =>
        [...document.querySelectorAll('.CodeMirror')].map((e) => `${e.parentElement.className}: ${e.CodeMirror.getValue()}`),
      );
      throw new Error(`${err.message}; editors: ${JSON.stringify(editors)}`);
    });
  assert.deepEqual(JSON.parse(await result.jsonValue()), { data: { __typename: 'Query' } });
  await page.screenshot({ path: path.join(artifacts, 'playground.png') });
  await page.close();
});

test('axe-core (WCAG 2 A and AA) finds no serious or critical violation on the board', async () => {
  await board.bringToFront();
  assert.deepEqual(await axe(board), []);
});

test('nothing left this machine; no page errors', () => {
  assert.deepEqual(browser.blocked, [], 'requests to other hosts');
  assert.deepEqual(browser.pageErrors, [], 'uncaught errors in pages');
  assert.deepEqual(browser.cspViolations, [], 'Content-Security-Policy violations');
  // The playground (at /) sends text: admins may run any document.
  const fromPages = browser.textDocuments.filter((d) => !d.startsWith(`${server.base}:`) && !d.startsWith(`${server.base} (ws):`));
  assert.deepEqual(fromPages, [], 'the board sends persisted hashes only');
});
