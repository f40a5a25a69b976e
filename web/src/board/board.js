// The call board: /board/{sellerId}. It reads the stall through GraphQL over
// HTTP (name, waiting count; polled) and follows calledNumbers over
// graphql-transport-ws with the graphql-ws client. See ../../README.md.
//
// Resuming: every CallEvent has a per-stall seq. The subscription's `after`
// variable is the last seq shown whenever the subscription is (re)sent, so
// whichever way the socket is re-opened (graphql-ws's own retries, or a fresh
// client after an error), the server replays exactly the calls the board has
// not seen. Events with a seq already shown are dropped, so nothing appears
// twice.
//
// The GraphQL plumbing (hash-only documents, HTTP, the retrying, keep-alive
// WebSocket client) is ../common/api.js, shared with the console and the
// ticket page.
import { documents, gql, backoff, sleep, codeOf, Stream } from '../common/api.js';
import { Announcer } from './announcer.js';
// The board's documents (board.graphql) by hash, written by go generate. The
// board is served by the binary whose manifest lists them, so the hash is
// always known there and the text never sent.
import persisted from './persisted-operations.json';

const HISTORY_SIZE = 10; // numbers listed besides the big one
const POLL_MS = 5000; // waiting count and stall name
const UNKNOWN_POLL_MS = 30000; // an unknown stall is asked about again this often
const REPLAY_ANNOUNCE_MAX = 3; // after a disconnect, announce only the latest few missed calls
const REPLAY_SETTLE_MS = 300;
const LIVE_MARGIN_MS = 1500; // calls this close to (re)subscribing count as live, not replayed
// Reconnect waits grow to 15 s (not the phones' 10 s): a room of boards is
// many clients coming back at once after a server restart.
const MAX_BACKOFF_MS = 15000;

const { Board: SELLER_QUERY, BoardCalls: CALLS_SUBSCRIPTION } = documents(persisted);

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Server clock: the HTTP Date header of each poll estimates the offset between
// the server's clock and this device's, for the clock display and to tell
// replayed calls from live ones (CallEvent.calledAt is server time).

const offsets = [];
let clockOffset = 0;

function noteServerDate(res, sentAt, receivedAt) {
  const date = Date.parse(res.headers.get('date') || '');
  if (Number.isNaN(date)) return;
  // Date has whole seconds: the true time was in [date, date+1 s).
  offsets.push(date + 500 - (sentAt + receivedAt) / 2);
  if (offsets.length > 12) offsets.shift();
  const sorted = [...offsets].sort((a, b) => a - b);
  clockOffset = sorted[Math.floor(sorted.length / 2)];
}

const serverNow = () => Date.now() + clockOffset;

// ---------------------------------------------------------------------------
// GraphQL over HTTP: every answer also samples the server's clock.

const fetchSeller = (id) => gql(SELLER_QUERY, { id }, '', { onResponse: noteServerDate });

// isUnknownSeller: the id is not a stall (or not one that may be shown).
function isUnknownSeller(err) {
  const errors = Array.isArray(err) ? err : err && err.errors;
  if (!Array.isArray(errors)) return false;
  return errors.some((e) => codeOf(e) === 'NOT_FOUND' || codeOf(e) === 'BAD_USER_INPUT');
}

// ---------------------------------------------------------------------------
// The page.

function sellerIdFromPath() {
  const m = window.location.pathname.match(/\/board\/([^/]+)\/?$/);
  if (!m) return '';
  try {
    return decodeURIComponent(m[1]).trim();
  } catch {
    return '';
  }
}

const view = {
  current: null, // the code shown big
  history: [], // the codes listed below it, newest first, each once

  setState(state) {
    document.body.dataset.state = state;
  },

  setConn(conn) {
    const body = document.body;
    if (body.dataset.conn === conn) return;
    body.dataset.conn = conn;
    const banner = $('banner');
    if (conn === 'live') {
      banner.hidden = true;
      return;
    }
    $('banner-text').textContent =
      conn === 'connecting' ? '正在连接… Connecting…' : '连接中断，正在重连… Reconnecting…';
    banner.hidden = false;
  },

  setSeller(seller) {
    $('stall-name').textContent = seller.name;
    document.title = `${seller.name} · 叫号`;
    this.setWaiting(seller.waitingCount);
    if (this.current === null && seller.lastCalled) this.show(seller.lastCalled.code, false);
  },

  setWaiting(n) {
    $('waiting').textContent = String(n);
    document.body.classList.remove('stale');
  },

  showUnknown(id) {
    if (document.body.dataset.state !== 'ready') $('stall-name').textContent = '叫号 · Call board';
    $('error-detail').textContent = id ? `ID: ${id}` : '地址里没有档口 ID · The address has no stall id';
    $('error').hidden = false;
    this.setConn('live'); // nothing to reconnect to: no banner over the error
    this.setState('error');
  },

  hideUnknown() {
    $('error').hidden = true;
  },

  // show makes code the big number; the previous one moves to the list. A
  // code called again (a recall) moves to the front instead of appearing twice.
  show(code, flash) {
    if (this.current !== null && this.current !== code) this.history.unshift(this.current);
    this.history = this.history.filter((c) => c !== code).slice(0, HISTORY_SIZE);
    this.current = code;
    const el = $('current');
    el.replaceChildren(textSpan(code));
    el.style.setProperty('--len', String(Math.max(code.length, 3)));
    if (flash) {
      el.classList.remove('flash');
      void el.offsetWidth; // restart the animation
      el.classList.add('flash');
    }
    const list = $('history');
    list.replaceChildren(
      ...this.history.map((c) => {
        const li = document.createElement('li');
        li.dataset.code = c;
        li.style.setProperty('--len', String(Math.max(c.length, 3)));
        li.append(textSpan(c));
        return li;
      }),
    );
    fitNumbers();
  },
};

function textSpan(text) {
  const span = document.createElement('span');
  span.textContent = text;
  return span;
}

// fit shrinks el's font until its text (inner) fits maxW x maxH; the CSS
// font size is the upper bound.
function fit(el, inner, maxW, maxH) {
  el.style.fontSize = '';
  const w = inner.offsetWidth;
  const h = inner.offsetHeight;
  if (!w || !h || maxW <= 0 || maxH <= 0) return;
  const scale = Math.min(1, maxW / w, maxH / h);
  if (scale < 1) el.style.fontSize = `${Math.floor(parseFloat(getComputedStyle(el).fontSize) * scale * 0.97)}px`;
}

// fitNumbers keeps the big number and the list inside their boxes whatever
// the screen, the font and the length of the codes.
function fitNumbers() {
  const cur = $('current');
  const now = cur.parentElement;
  const box = getComputedStyle(now);
  const padX = parseFloat(box.paddingLeft) + parseFloat(box.paddingRight);
  const padY = parseFloat(box.paddingTop) + parseFloat(box.paddingBottom);
  const label = now.querySelector('.label');
  const above = (label ? label.offsetHeight : 0) + parseFloat(getComputedStyle(cur).marginTop);
  if (cur.firstElementChild) fit(cur, cur.firstElementChild, now.clientWidth - padX, now.clientHeight - padY - above);
  for (const li of $('history').children) {
    if (li.firstElementChild) fit(li, li.firstElementChild, li.clientWidth * 0.9, li.clientHeight * 0.9);
  }
}

function startClock() {
  const time = $('clock-time');
  const date = $('clock-date');
  const pad = (n) => String(n).padStart(2, '0');
  const days = ['日', '一', '二', '三', '四', '五', '六'];
  const tick = () => {
    const d = new Date(serverNow());
    time.textContent = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    date.textContent = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} 星期${days[d.getDay()]}`;
    setTimeout(tick, 1000 - (serverNow() % 1000) + 5);
  };
  tick();
}

function setupSound(announcer) {
  const button = $('sound');
  const render = () => {
    if (!announcer.enabled) {
      button.className = 'sound off';
      button.textContent = '🔇 点击开启声音 · Tap to enable sound';
      button.title = '';
    } else if (!announcer.unlocked) {
      button.className = 'sound blocked';
      button.textContent = '🔈 轻触屏幕恢复声音 · Tap to resume sound';
      button.title = '';
    } else {
      button.className = 'sound on';
      button.textContent = '🔊';
      button.title = '声音已开启，点击关闭 · Sound on (tap to mute)';
    }
    document.body.dataset.sound = announcer.enabled ? (announcer.unlocked ? 'on' : 'blocked') : 'off';
  };
  announcer.onChange = render;
  button.addEventListener('click', (e) => {
    e.stopPropagation();
    if (!announcer.enabled) announcer.enable();
    else if (!announcer.unlocked) announcer.unlock();
    else announcer.disable();
    render();
  });
  // Sound was turned on before: the first tap or key anywhere unlocks it.
  const unlockAnywhere = () => {
    if (announcer.enabled) announcer.unlock();
    render();
  };
  document.addEventListener('pointerdown', unlockAnywhere, { capture: true });
  document.addEventListener('keydown', unlockAnywhere, { capture: true });
  if (announcer.enabled) announcer.unlock();
  render();
  // Double tap: full screen (a TV browser's F11 works as well).
  document.addEventListener('dblclick', () => {
    const el = document.documentElement;
    if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
    else el.requestFullscreen?.().catch(() => {});
  });
}

// ---------------------------------------------------------------------------
// The call stream.

class CallStream {
  constructor(sellerId, announcer) {
    this.sellerId = sellerId;
    this.announcer = announcer;
    this.lastSeq = 0;
    this.seen = new Map(); // seq -> ticket id, to tell a resent call from a reset database
    this.everConnected = false; // a connection before this one: replays are announced (collapsed)
    this.announceReplays = false;
    this.subscribedAt = 0; // server time when the current subscription started
    this.replayBatch = [];
    this.replayTimer = 0;
    this.onUnknown = () => {};
    this.onCall = () => {};
  }

  start() {
    const conn = () => (this.everConnected ? 'reconnecting' : 'connecting');
    new Stream({
      extensions: CALLS_SUBSCRIPTION,
      // Read as each (re)subscription is sent: resume after the last call shown.
      variables: () => ({ sellerId: this.sellerId, after: this.lastSeq }),
      maxBackoff: MAX_BACKOFF_MS,
      onConn: (state) => {
        if (state === 'live') {
          // Calls from before this moment are replays of what was missed.
          this.announceReplays = this.everConnected;
          this.everConnected = true;
          this.subscribedAt = serverNow();
        }
        view.setConn(state === 'live' ? 'live' : conn());
      },
      onData: (data) => {
        if (data.calledNumbers) this.onEvent(data.calledNumbers);
      },
      // An error result without data leaves the stream open: the next call
      // still comes.
      onErrors: (errors) => console.warn('calledNumbers:', errors),
      // A fatal close, an error or the end of the stream (a server shutting
      // down): try again with a fresh client unless the stall is gone.
      stop: (err) => {
        if (err && isUnknownSeller(err)) {
          this.onUnknown();
          return true;
        }
        if (err) console.warn('call stream:', err);
        return false;
      },
    }).start();
  }

  onEvent(ev) {
    const seq = Number(ev.seq);
    if (!Number.isFinite(seq)) return;
    const ticketId = ev.ticket ? ev.ticket.id : '';
    if (seq <= this.lastSeq) {
      // The server sends calls in seq order, so an old seq is either one
      // shown already (drop it) or, when it is not the call shown under that
      // seq, a sign that the stall's numbering started over (a database
      // reset): follow it rather than ignore every call from now on.
      if (this.seen.get(seq) === ticketId) return;
      this.seen.clear();
    }
    this.lastSeq = seq;
    this.seen.set(seq, ticketId);
    if (this.seen.size > 2000) this.seen.delete(this.seen.keys().next().value);
    document.body.dataset.lastSeq = String(seq);

    view.show(ev.code, true);
    this.onCall(ev);

    const calledAt = Date.parse(ev.calledAt);
    const replayed = !Number.isNaN(calledAt) && calledAt < this.subscribedAt - LIVE_MARGIN_MS;
    if (!replayed) {
      this.flushReplays();
      this.announcer.say(ev.announcement);
    } else if (this.announceReplays) {
      // Missed while disconnected: gather the burst, then announce its last few.
      this.replayBatch.push(ev.announcement);
      clearTimeout(this.replayTimer);
      this.replayTimer = setTimeout(() => this.flushReplays(), REPLAY_SETTLE_MS);
    }
    // On the first connection the day's earlier calls are only shown.
  }

  flushReplays() {
    clearTimeout(this.replayTimer);
    const batch = this.replayBatch.splice(0).slice(-REPLAY_ANNOUNCE_MAX);
    for (const text of batch) this.announcer.say(text);
  }
}

// ---------------------------------------------------------------------------

async function main() {
  startClock();
  let fitFrame = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(fitFrame);
    fitFrame = requestAnimationFrame(fitNumbers);
  });
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(fitNumbers, () => {});
  const announcer = new Announcer();
  setupSound(announcer);

  const sellerId = sellerIdFromPath();
  if (!sellerId) {
    view.showUnknown('');
    return;
  }

  // Load the stall; retry while the server is unreachable.
  let seller = null;
  for (let attempt = 0; ; ) {
    try {
      const data = await fetchSeller(sellerId);
      seller = data.seller;
      if (seller) break;
      view.showUnknown(sellerId);
      await sleep(UNKNOWN_POLL_MS);
    } catch (err) {
      if (isUnknownSeller(err)) {
        view.showUnknown(sellerId);
        await sleep(UNKNOWN_POLL_MS);
        continue;
      }
      view.setConn(attempt > 0 ? 'reconnecting' : 'connecting');
      await sleep(backoff(attempt++, MAX_BACKOFF_MS));
    }
  }
  view.hideUnknown();
  view.setSeller(seller);
  view.setState('ready');

  let pollTimer = 0;
  let polling = false;
  const poll = async () => {
    clearTimeout(pollTimer);
    if (polling) return;
    polling = true;
    try {
      const data = await fetchSeller(sellerId);
      if (data.seller) {
        view.hideUnknown();
        view.setSeller(data.seller);
        if (document.body.dataset.state === 'error') view.setState('ready');
      } else {
        view.showUnknown(sellerId);
      }
    } catch (err) {
      // A stall gone meanwhile comes as an error with no seller.
      if (isUnknownSeller(err)) view.showUnknown(sellerId);
      else document.body.classList.add('stale');
    } finally {
      polling = false;
      pollTimer = setTimeout(poll, POLL_MS);
    }
  };
  pollTimer = setTimeout(poll, POLL_MS);

  const stream = new CallStream(sellerId, announcer);
  let refreshTimer = 0;
  stream.onCall = () => {
    // A call changes the waiting count: refresh it soon, once per burst.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(poll, 250);
  };
  stream.onUnknown = () => view.showUnknown(sellerId);
  stream.start();
}

main();
