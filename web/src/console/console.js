// The staff console: /console. A seller runs the stall's day from a tablet
// (queue, calls, walk-up numbers and their printed slips, open/close, sold
// out); an admin manages stalls, reads the audit log and the stats. Every
// request is one of console.graphql's documents, sent by its hash. See
// ../../README.md.
import { documents, gql, Stream, GraphQLError, errorCode, h } from '../common/api.js';
import { qrSVG } from '../common/qr.js';
import { barChart } from './chart.js';
import persisted from './persisted-operations.json';

const D = documents(persisted);
const DEV_LOGIN = document.documentElement.dataset.devLogin === '1';
const TOKEN_KEY = 'callme.console.token';
const LANG_KEY = 'callme.console.lang';
const POLL_MS = 5000; // new walk-ins and customers' own cancels: no event for those
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Words. zh-CN first; the toggle switches every label at once.

const WORDS = {
  title: ['叫号台', 'Console'],
  other: ['English', '中文'],
  logout: ['退出登录', 'Log out'],
  tabStall: ['档口', 'Stall'],
  tabAdmin: ['管理', 'Admin'],
  live: ['实时', 'Live'],
  connecting: ['连接中…', 'Connecting…'],
  reconnecting: ['重连中…', 'Reconnecting…'],
  loginTitle: ['登录叫号台', 'Log in to the console'],
  devOn: ['开发登录已开启：输入 openid 登录。', 'Dev login is on: log in with an openid.'],
  openid: ['openid', 'openid'],
  login: ['登录', 'Log in'],
  scanTitle: ['扫码登录', 'Scan to log in'],
  scanHint: ['用商家小程序扫描二维码，在手机上确认。', 'Scan with the seller mini-program and approve on the phone.'],
  scanInstead: ['改用扫码登录', 'Scan to log in instead'],
  expiresIn: ['二维码 {s} 秒后刷新', 'New code in {s} s'],
  noStall: ['这个账号还没有档口。请在商家小程序中用邀请码认领档口。', 'This account has no stall yet: claim one with its invite code in the seller mini-program.'],
  nowCalling: ['正在叫号', 'Now calling'],
  nobody: ['—', '—'],
  callNext: ['叫下一号', 'Call next'],
  recall: ['再叫一次', 'Recall'],
  complete: ['已取餐', 'Picked up'],
  noShow: ['未取（过号）', 'No-show'],
  cancel: ['取消', 'Cancel'],
  reopen: ['恢复', 'Reopen'],
  call: ['叫号', 'Call'],
  slip: ['小票', 'Slip'],
  queue: ['排队', 'Queue'],
  finished: ['今日已结束', 'Finished today'],
  emptyQueue: ['没有人在排队。', 'Nobody is waiting.'],
  emptyFinished: ['还没有。', 'None yet.'],
  waiting: ['等待', 'Waiting'],
  called: ['已叫', 'Called'],
  done: ['已取餐', 'Picked up'],
  cancelled: ['已取消', 'Cancelled'],
  noShows: ['过号', 'No-shows'],
  issued: ['今日发号', 'Issued today'],
  WAITING: ['等待中', 'waiting'],
  CALLED: ['已叫号', 'called'],
  DONE: ['已取餐', 'picked up'],
  CANCELLED: ['已取消', 'cancelled'],
  NO_SHOW: ['过号', 'no-show'],
  ahead: ['前面 {n} 人', '{n} ahead'],
  calls: ['叫了 {n} 次', 'called {n}×'],
  handOut: ['现场发号', 'Hand out a number'],
  note: ['备注（可选）', 'Note (optional)'],
  handOutBtn: ['发号并打印', 'Hand out and print'],
  print: ['打印小票', 'Print slip'],
  closeSlip: ['关闭', 'Close'],
  stallOpen: ['营业中', 'Open'],
  stallClosed: ['已打烊', 'Closed'],
  openStall: ['开始营业', 'Open the stall'],
  closeStall: ['打烊', 'Close the stall'],
  menu: ['菜品', 'Dishes'],
  soldOut: ['已售罄', 'Sold out'],
  available: ['有货', 'Available'],
  noMenu: ['没有菜品。', 'No dishes.'],
  keys: ['键盘：空格/回车 叫下一号 · R 再叫 · D 已取餐 · N 过号 · X 取消 · O 恢复 · H 发号 · ↑↓ 选择', 'Keys: Space/Enter call next · R recall · D picked up · N no-show · X cancel · O reopen · H hand out · ↑↓ select'],
  slipClaim: ['认领码', 'Claim code'],
  slipScan: ['扫码查看叫号进度', 'Scan to follow your number'],
  slipTime: ['取号时间', 'Issued'],
  stalls: ['档口', 'Stalls'],
  create: ['新建档口', 'New stall'],
  name: ['名称', 'Name'],
  prefix: ['号码前缀', 'Prefix'],
  paidUntil: ['付费至', 'Paid until'],
  maxNumber: ['最大号码', 'Max number'],
  createBtn: ['创建', 'Create'],
  invite: ['邀请码（只显示一次）：', 'Invite code (shown once):'],
  renew: ['续费', 'Renew'],
  months: ['{n} 个月', '{n} months'],
  unpaid: ['未付费', 'unpaid'],
  open: ['营业', 'open'],
  closed: ['打烊', 'closed'],
  stats: ['统计', 'Stats'],
  statsFor: ['档口', 'Stall'],
  days: ['天数', 'Days'],
  show: ['查看', 'Show'],
  chartCounts: ['每日取号 / 取餐 / 过号', 'Issued / picked up / no-shows per day'],
  chartTimes: ['等待与取餐用时（秒，中位数 / 90 分位）', 'Wait and pickup (seconds, p50 / p90)'],
  sIssued: ['取号', 'issued'],
  sCompleted: ['取餐', 'picked up'],
  sNoShows: ['过号', 'no-shows'],
  sWaitP50: ['等待 p50', 'wait p50'],
  sWaitP90: ['等待 p90', 'wait p90'],
  sPickupP50: ['取餐 p50', 'pickup p50'],
  sPickupP90: ['取餐 p90', 'pickup p90'],
  audit: ['操作记录', 'Audit log'],
  when: ['时间', 'When'],
  actor: ['操作人', 'Actor'],
  action: ['操作', 'Action'],
  target: ['对象', 'Target'],
  detail: ['详情', 'Detail'],
  emptyAudit: ['没有记录。', 'No entries.'],
  statusCol: ['状态', 'Status'],
  waitingCol: ['等待', 'Waiting'],
};

let lang = localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh';

function t(key, vars) {
  const w = WORDS[key];
  let s = w ? w[lang === 'en' ? 1 : 0] : key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace(`{${k}}`, String(v));
  return s;
}

// ---------------------------------------------------------------------------
// State.

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  me: null,
  view: 'loading', // login, seller, admin, nostall
  sellerId: '',
  day: '',
  seller: null,
  queue: [],
  today: [],
  selectedId: '',
  busy: false,
  slip: null,
  conn: 'idle',
  admin: { sellers: [], audit: [], stats: null, statsSeller: '', statsDays: 7, invite: null },
};

let calls = null; // the calledNumbers stream
let lastSeq = 0;
let pollTimer = 0;
let refreshTimer = 0;
let login = null; // scan-to-log-in: { stream, timers }

// ---------------------------------------------------------------------------
// Errors: shown with their code; an expired session goes back to login.

function showError(err) {
  const box = $('error');
  if (!err) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    h('span', { id: 'error-text' }, err instanceof Error ? err.message : String(err)),
    h('button', { type: 'button', class: 'close', 'aria-label': t('closeSlip'), onclick: () => showError(null) }, '×'),
  );
  box.hidden = false;
  if (errorCode(err) === 'UNAUTHENTICATED' && state.token) {
    setToken('');
    boot();
  }
}

async function run(doc, variables) {
  return gql(doc, variables, state.token);
}

// act runs one seller action; keys and buttons share it so that a double
// press does not fire twice.
async function act(fn) {
  if (state.busy) return;
  state.busy = true;
  document.body.classList.add('busy');
  try {
    showError(null);
    await fn();
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
    document.body.classList.remove('busy');
  }
  // Soon, not now: the call event of this very action arrives in a moment
  // and one refresh serves both (each costs ~1,700 of the seller's budget
  // points, see console.graphql).
  scheduleRefresh(120);
}

function setToken(token) {
  state.token = token;
  // Per tab (survives a reload, not a closed tab): an admin and a seller
  // can work in two tabs of one browser, and a shared tablet forgets.
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// ---------------------------------------------------------------------------
// Boot: who is this, and which view.

async function boot() {
  stopSeller();
  stopLogin();
  state.me = null;
  if (state.token) {
    try {
      state.me = (await run(D.ConsoleMe)).me;
    } catch (err) {
      if (errorCode(err) !== 'UNAUTHENTICATED') {
        showError(err);
        setTimeout(boot, 3000);
        return;
      }
    }
    if (!state.me) setToken('');
  }
  if (!state.me) {
    state.view = 'login';
    render();
    if (!DEV_LOGIN) startScan();
    return;
  }
  const roles = state.me.roles || [];
  state.sellerId = state.me.seller ? state.me.seller.id : '';
  if (state.sellerId) state.view = 'seller';
  else if (roles.includes('ADMIN')) state.view = 'admin';
  else state.view = 'nostall';
  render();
  enterView();
}

function enterView() {
  stopSeller();
  if (state.view === 'seller') startSeller();
  if (state.view === 'admin') loadAdmin();
}

// ---------------------------------------------------------------------------
// Login.

async function devLogin(openid) {
  try {
    showError(null);
    const s = (await gql(D.ConsoleDevLogin, { code: `dev:${openid}` })).login;
    setToken(s.token);
    boot();
  } catch (err) {
    showError(err);
  }
}

function stopLogin() {
  if (!login) return;
  login.stream?.close();
  clearTimeout(login.refresh);
  clearInterval(login.tick);
  login = null;
}

// startScan shows a fresh challenge's QR code and listens for its approval;
// a new challenge replaces it shortly before it expires.
async function startScan(attempt = 0) {
  stopLogin();
  const me = (login = { stream: null, refresh: 0, tick: 0 });
  const box = $('scan');
  if (!box) return;
  let c;
  try {
    c = (await gql(D.ConsoleStartLogin)).startConsoleLogin;
  } catch (err) {
    showError(err);
    if (login === me) me.refresh = setTimeout(() => startScan(attempt + 1), Math.min(30000, 2000 * 2 ** attempt));
    return;
  }
  if (login !== me) return;
  showError(null);
  const ttl = Math.max(10000, Date.parse(c.expiresAt) - Date.now());
  const renewAt = Date.now() + Math.min(ttl - 10000, 110000);
  const qr = $('scan-qr');
  qr.replaceChildren(qrSVG(c.qrText, t('scanTitle')));
  qr.dataset.qrText = c.qrText;
  const countdown = $('scan-countdown');
  const tick = () => {
    countdown.textContent = t('expiresIn', { s: Math.max(0, Math.round((renewAt - Date.now()) / 1000)) });
  };
  tick();
  me.tick = setInterval(tick, 1000);
  me.refresh = setTimeout(() => startScan(), Math.max(1000, renewAt - Date.now()));
  me.stream = new Stream({
    extensions: D.ConsoleLoginApproved,
    variables: () => ({ secret: c.secret }),
    onData: (data) => {
      const s = data.consoleLoginApproved;
      if (!s) return;
      stopLogin();
      setToken(s.token);
      boot();
    },
    // Used or expired: a new challenge (the timer would do it soon anyway).
    stop: (err) => {
      if (errorCode(err) === 'NOT_FOUND' && login === me) {
        setTimeout(() => startScan(), 0);
        return true;
      }
      return false;
    },
  });
  me.stream.start();
}

// ---------------------------------------------------------------------------
// Seller.

function startSeller() {
  lastSeq = 0;
  calls = new Stream({
    extensions: D.ConsoleCalls,
    variables: () => ({ sellerId: state.sellerId, after: lastSeq }),
    token: () => state.token,
    onData: (data) => {
      const ev = data.calledNumbers;
      if (!ev) return;
      if (ev.seq > lastSeq) lastSeq = ev.seq;
      scheduleRefresh(120);
    },
    onConn: (conn) => setConn(conn),
    stop: (err) => {
      if (['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND'].includes(errorCode(err))) {
        showError(err instanceof Error ? err : new GraphQLError(err));
        return true;
      }
      return false;
    },
  });
  calls.start();
  refresh();
}

function stopSeller() {
  calls?.close();
  calls = null;
  clearTimeout(pollTimer);
  clearTimeout(refreshTimer);
  setConn('idle');
}

function setConn(conn) {
  state.conn = conn;
  document.body.dataset.conn = conn;
  $('conn').textContent = conn === 'idle' ? '' : t(conn === 'live' ? 'live' : conn);
}

function scheduleRefresh(ms) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, ms);
}

const localDay = () => {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
};

let refreshing = null;
async function refresh() {
  if (state.view !== 'seller') return;
  if (refreshing) {
    // One more after the one in flight: it may have read before a change.
    refreshing.again = true;
    return;
  }
  const me = (refreshing = { again: false });
  clearTimeout(pollTimer);
  try {
    let day = state.day || localDay();
    let data = await run(D.ConsoleDay, { sellerId: state.sellerId, day });
    // The server's business day (time zone, day start hour) is the one of
    // its tickets: follow it.
    const known = data.queue[0]?.businessDay || data.seller?.lastCalled?.businessDay;
    if (known && known !== day) {
      day = known;
      data = await run(D.ConsoleDay, { sellerId: state.sellerId, day });
    }
    state.day = day;
    state.seller = data.seller;
    state.queue = data.queue || [];
    state.today = data.sellerTickets || [];
    renderSeller();
    document.body.classList.remove('stale');
  } catch (err) {
    // Over budget or offline: the next poll tries again; meanwhile the
    // queue is dimmed rather than an error shown over it.
    if (errorCode(err) === 'RATE_LIMITED' || !(err instanceof GraphQLError)) document.body.classList.add('stale');
    else showError(err);
  } finally {
    refreshing = null;
    if (me.again) scheduleRefresh(0);
    else if (state.view === 'seller') pollTimer = setTimeout(refresh, POLL_MS);
  }
}

// The ticket being called now: the latest call still CALLED.
function currentCall() {
  let cur = null;
  for (const tk of state.queue) {
    if (tk.status !== 'CALLED') continue;
    if (!cur || Date.parse(tk.calledAt) > Date.parse(cur.calledAt)) cur = tk;
  }
  return cur;
}

const finished = () => state.today.filter((tk) => ['DONE', 'CANCELLED', 'NO_SHOW'].includes(tk.status)).reverse();

// Rows in the order shown: called, then waiting (the queue's order), then finished.
function rows() {
  const called = state.queue.filter((tk) => tk.status === 'CALLED');
  const waiting = state.queue.filter((tk) => tk.status === 'WAITING');
  return [...called, ...waiting, ...finished()];
}

function selected() {
  return rows().find((tk) => tk.id === state.selectedId) || null;
}

// target: the ticket a key acts on: the selected one, else the current call.
function target(statuses) {
  const sel = selected();
  if (sel && statuses.includes(sel.status)) return sel;
  const cur = currentCall();
  if (cur && statuses.includes(cur.status)) return cur;
  return null;
}

const actions = {
  callNext: () =>
    act(async () => {
      const tk = (await run(D.ConsoleCallNext, { sellerId: state.sellerId })).callNext;
      state.selectedId = tk ? tk.id : '';
    }),
  call: (tk) => act(() => run(D.ConsoleCall, { ticketId: tk.id })),
  complete: (tk) => act(() => run(D.ConsoleComplete, { ticketId: tk.id })),
  cancel: (tk) => act(() => run(D.ConsoleCancel, { ticketId: tk.id })),
  noShow: (tk) => act(() => run(D.ConsoleNoShow, { ticketId: tk.id })),
  reopen: (tk) => act(() => run(D.ConsoleReopen, { ticketId: tk.id })),
  handOut: (note) =>
    act(async () => {
      const tk = (await run(D.ConsoleHandOut, { sellerId: state.sellerId, note: note || null })).fetch;
      showSlip(tk);
    }),
  slip: (tk) =>
    act(async () => {
      const full = (await run(D.ConsoleSlip, { ticketId: tk.id })).node;
      if (full) showSlip(full);
    }),
  setOpen: (open) => act(() => run(D.ConsoleSetOpen, { sellerId: state.sellerId, open })),
  setAvailable: (item, available) => act(() => run(D.ConsoleSetAvailable, { itemId: item.id, available })),
};

// ---------------------------------------------------------------------------
// The slip of a walk-up number: shown, and printed alone (print CSS).

function showSlip(tk) {
  state.slip = tk;
  renderSlip();
  const box = $('slip');
  box.hidden = false;
  $('slip-print')?.focus();
}

function renderSlip() {
  const tk = state.slip;
  const box = $('slip');
  if (!tk) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const url = tk.trackURL ? new URL(tk.trackURL, window.location.href).href : '';
  const d = new Date(tk.createdAt);
  const pad = (n) => String(n).padStart(2, '0');
  box.replaceChildren(
    h(
      'div',
      { class: 'slip-paper', id: 'slip-paper' },
      h('div', { class: 'slip-stall' }, state.seller ? state.seller.name : ''),
      h('div', { class: 'slip-code', id: 'slip-code' }, tk.code),
      h('div', { class: 'slip-time' }, `${t('slipTime')} ${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`),
      tk.claimCode ? h('div', { class: 'slip-claim' }, `${t('slipClaim')} `, h('strong', { id: 'slip-claim' }, tk.claimCode)) : null,
      url ? h('div', { class: 'slip-qr', id: 'slip-qr' }, qrSVG(url, t('slipScan'))) : null,
      url ? h('div', { class: 'slip-scan' }, t('slipScan')) : null,
    ),
    h(
      'div',
      { class: 'slip-actions' },
      h('button', { type: 'button', id: 'slip-print', class: 'primary', onclick: () => window.print() }, t('print')),
      h('button', { type: 'button', id: 'slip-close', onclick: () => ((state.slip = null), renderSlip()) }, t('closeSlip')),
    ),
  );
}

// ---------------------------------------------------------------------------
// Keyboard: the console works without a mouse.

function onKey(e) {
  if (state.view !== 'seller' || e.ctrlKey || e.metaKey || e.altKey) return;
  const el = e.target;
  const typing = el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
  if (typing) return;
  if (e.key === 'Escape' && state.slip) {
    state.slip = null;
    renderSlip();
    return;
  }
  const onButton = el && (el.tagName === 'BUTTON' || el.tagName === 'A');
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  const run = (fn, tk) => {
    e.preventDefault();
    if (tk !== null) fn(tk);
  };
  switch (key) {
    case ' ':
    case 'Enter':
      if (onButton) return; // the button's own action
      return run(actions.callNext, undefined);
    case 'r':
      return run(actions.call, target(['CALLED']));
    case 'd':
      return run(actions.complete, target(['CALLED']));
    case 'n':
      return run(actions.noShow, target(['CALLED']));
    case 'x':
      return run(actions.cancel, target(['CALLED', 'WAITING']));
    case 'o': {
      const sel = selected();
      const tk = sel && ['CANCELLED', 'NO_SHOW'].includes(sel.status) ? sel : finished().find((x) => x.status !== 'DONE') || null;
      return run(actions.reopen, tk);
    }
    case 'h':
      e.preventDefault();
      $('handout-note')?.focus();
      return;
    case 'ArrowDown':
    case 'ArrowUp': {
      e.preventDefault();
      const list = rows();
      if (!list.length) return;
      let i = list.findIndex((tk) => tk.id === state.selectedId);
      if (i < 0) i = key === 'ArrowDown' ? -1 : list.length;
      i = Math.max(0, Math.min(list.length - 1, i + (key === 'ArrowDown' ? 1 : -1)));
      state.selectedId = list[i].id;
      renderSeller();
      document.querySelector(`[data-ticket-id="${CSS.escape(list[i].id)}"]`)?.focus();
      return;
    }
    default:
  }
}

// ---------------------------------------------------------------------------
// Rendering.

function render() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  document.body.dataset.view = state.view;
  document.title = `${t('title')} · callme`;
  $('title').textContent = t('title');
  const langBtn = $('lang');
  langBtn.textContent = t('other');
  langBtn.lang = lang === 'en' ? 'zh-CN' : 'en';
  const logout = $('logout');
  logout.textContent = t('logout');
  logout.hidden = !state.me;
  renderTabs();
  const main = $('main');
  if (state.view === 'login') main.replaceChildren(loginView());
  else if (state.view === 'nostall') main.replaceChildren(h('p', { class: 'notice' }, t('noStall')));
  else if (state.view === 'seller') main.replaceChildren(sellerView());
  else if (state.view === 'admin') main.replaceChildren(adminView());
  if (state.view === 'seller') renderSeller();
  if (state.view === 'admin') renderAdmin();
  renderSlip();
  setConn(state.conn);
}

function renderTabs() {
  const nav = $('tabs');
  const roles = (state.me && state.me.roles) || [];
  const tabs = [];
  if (state.me && state.me.seller) tabs.push(['seller', t('tabStall')]);
  if (roles.includes('ADMIN')) tabs.push(['admin', t('tabAdmin')]);
  nav.replaceChildren(
    ...(tabs.length > 1
      ? tabs.map(([view, label]) =>
          h(
            'button',
            {
              type: 'button',
              id: `tab-${view}`,
              'aria-pressed': String(state.view === view),
              onclick: () => {
                if (state.view === view) return;
                state.view = view;
                render();
                enterView();
              },
            },
            label,
          ),
        )
      : []),
  );
}

function loginView() {
  const parts = [h('h2', {}, t('loginTitle'))];
  if (DEV_LOGIN) {
    const input = h('input', { id: 'dev-openid', name: 'openid', autocomplete: 'username', required: true, value: 'seller' });
    parts.push(
      h(
        'form',
        {
          id: 'dev-login',
          class: 'card',
          onsubmit: (e) => {
            e.preventDefault();
            if (input.value.trim()) devLogin(input.value.trim());
          },
        },
        h('p', {}, t('devOn')),
        h('label', { for: 'dev-openid' }, t('openid')),
        input,
        h('button', { type: 'submit', class: 'primary' }, t('login')),
      ),
    );
  }
  const scan = h(
    'div',
    { id: 'scan', class: 'card scan', hidden: DEV_LOGIN && !login },
    h('h3', {}, t('scanTitle')),
    h('div', { id: 'scan-qr', class: 'scan-qr' }),
    h('p', {}, t('scanHint')),
    h('p', { id: 'scan-countdown', class: 'muted' }),
  );
  parts.push(scan);
  if (DEV_LOGIN) {
    parts.push(
      h(
        'button',
        {
          type: 'button',
          id: 'scan-instead',
          onclick: (e) => {
            e.target.hidden = true;
            scan.hidden = false;
            startScan();
          },
        },
        t('scanInstead'),
      ),
    );
  }
  return h('section', { class: 'login' }, parts);
}

function sellerView() {
  const note = h('input', { id: 'handout-note', name: 'note', maxlength: 100, autocomplete: 'off' });
  return h(
    'div',
    { class: 'seller' },
    h(
      'section',
      { class: 'left', 'aria-label': t('nowCalling') },
      h('div', { class: 'stall-head' }, h('h2', { id: 'stall-name' }), h('button', { type: 'button', id: 'toggle-open' })),
      h('div', { class: 'now card' }, h('div', { class: 'label' }, t('nowCalling')), h('div', { id: 'current', class: 'current', 'aria-live': 'polite' }, '—')),
      h(
        'div',
        { class: 'controls' },
        h('button', { type: 'button', id: 'call-next', class: 'primary big', onclick: () => actions.callNext() }, `${t('callNext')}`, h('kbd', {}, 'Space')),
        h('button', { type: 'button', id: 'recall', onclick: () => withTarget(actions.call, ['CALLED']) }, t('recall'), h('kbd', {}, 'R')),
        h('button', { type: 'button', id: 'complete', onclick: () => withTarget(actions.complete, ['CALLED']) }, t('complete'), h('kbd', {}, 'D')),
        h('button', { type: 'button', id: 'no-show', onclick: () => withTarget(actions.noShow, ['CALLED']) }, t('noShow'), h('kbd', {}, 'N')),
        h('button', { type: 'button', id: 'cancel', onclick: () => withTarget(actions.cancel, ['CALLED', 'WAITING']) }, t('cancel'), h('kbd', {}, 'X')),
      ),
      h('dl', { id: 'counts', class: 'counts' }),
      h(
        'form',
        {
          id: 'handout',
          class: 'card',
          onsubmit: (e) => {
            e.preventDefault();
            actions.handOut(note.value.trim());
            note.value = '';
            note.blur();
          },
        },
        h('h3', {}, t('handOut')),
        h('label', { for: 'handout-note' }, t('note')),
        note,
        h('button', { type: 'submit', id: 'handout-btn', class: 'primary' }, t('handOutBtn'), h('kbd', {}, 'H')),
      ),
      h('section', { class: 'card menu', 'aria-labelledby': 'menu-title' }, h('h3', { id: 'menu-title' }, t('menu')), h('ul', { id: 'menu' })),
      h('p', { class: 'keys muted' }, t('keys')),
    ),
    h(
      'section',
      { class: 'right' },
      h('h3', { id: 'queue-title' }, t('queue')),
      h('ol', { id: 'queue', class: 'tickets', 'aria-labelledby': 'queue-title' }),
      h('h3', { id: 'finished-title' }, t('finished')),
      h('ol', { id: 'finished', class: 'tickets', 'aria-labelledby': 'finished-title' }),
    ),
  );
}

function withTarget(fn, statuses) {
  const tk = target(statuses);
  if (tk) fn(tk);
}

function renderSeller() {
  if (state.view !== 'seller' || !$('queue')) return;
  const s = state.seller;
  if (s) {
    $('stall-name').textContent = s.name;
    const btn = $('toggle-open');
    btn.textContent = s.open ? t('closeStall') : t('openStall');
    btn.className = s.open ? '' : 'primary';
    btn.onclick = () => actions.setOpen(!s.open);
    document.body.dataset.open = String(s.open);
    const menu = $('menu');
    menu.replaceChildren(
      ...(s.menu.length
        ? s.menu.map((item) =>
            h(
              'li',
              { dataset: { itemId: item.id, available: String(item.available) } },
              h('span', { class: 'dish' }, item.name),
              h(
                'button',
                {
                  type: 'button',
                  class: item.available ? 'ok' : 'soldout',
                  'aria-pressed': String(!item.available),
                  onclick: () => actions.setAvailable(item, !item.available),
                },
                item.available ? t('available') : t('soldOut'),
              ),
            ),
          )
        : [h('li', { class: 'muted' }, t('noMenu'))]),
    );
  }
  const cur = currentCall();
  const curEl = $('current');
  curEl.textContent = cur ? cur.code : t('nobody');
  curEl.classList.toggle('none', !cur);
  curEl.dataset.ticketId = cur ? cur.id : '';

  const count = (st) => state.today.filter((tk) => tk.status === st).length;
  const counts = [
    ['waiting', state.queue.filter((tk) => tk.status === 'WAITING').length],
    ['called', state.queue.filter((tk) => tk.status === 'CALLED').length],
    ['done', count('DONE')],
    ['noShows', count('NO_SHOW')],
    ['cancelled', count('CANCELLED')],
    ['issued', state.today.length],
  ];
  $('counts').replaceChildren(
    ...counts.map(([key, n]) => h('div', { dataset: { count: key } }, h('dt', {}, t(key)), h('dd', {}, String(n)))),
  );

  const called = state.queue.filter((tk) => tk.status === 'CALLED');
  const waiting = state.queue.filter((tk) => tk.status === 'WAITING');
  const active = [...called, ...waiting];
  $('queue').replaceChildren(...(active.length ? active.map(ticketRow) : [h('li', { class: 'muted empty' }, t('emptyQueue'))]));
  const fin = finished();
  $('finished').replaceChildren(...(fin.length ? fin.map(ticketRow) : [h('li', { class: 'muted empty' }, t('emptyFinished'))]));
}

function ticketRow(tk) {
  const btn = (key, fn, cls) =>
    h('button', { type: 'button', class: cls || '', dataset: { action: key }, onclick: (e) => (e.stopPropagation(), fn(tk)) }, t(key));
  const buttons = [];
  if (tk.status === 'WAITING') buttons.push(btn('call', actions.call, 'primary'), btn('cancel', actions.cancel));
  if (tk.status === 'CALLED')
    buttons.push(btn('recall', actions.call), btn('complete', actions.complete, 'primary'), btn('noShow', actions.noShow), btn('cancel', actions.cancel));
  if (tk.status === 'CANCELLED' || tk.status === 'NO_SHOW') buttons.push(btn('reopen', actions.reopen));
  if (tk.claimCode && (tk.status === 'WAITING' || tk.status === 'CALLED')) buttons.push(btn('slip', actions.slip));
  const info = [t(tk.status)];
  if (tk.status === 'WAITING' && tk.position !== null && tk.position !== undefined) info.push(t('ahead', { n: tk.position }));
  if (tk.callCount > 1) info.push(t('calls', { n: tk.callCount }));
  const li = h(
    'li',
    {
      tabindex: '0',
      class: `ticket ${tk.status.toLowerCase()}${tk.id === state.selectedId ? ' selected' : ''}`,
      'aria-current': tk.id === state.selectedId ? 'true' : null,
      dataset: { ticketId: tk.id, code: tk.code, status: tk.status },
      onfocus: () => {
        if (state.selectedId !== tk.id) {
          state.selectedId = tk.id;
          for (const el of document.querySelectorAll('.ticket.selected')) el.classList.remove('selected');
          li.classList.add('selected');
        }
      },
      onclick: () => li.focus(),
    },
    h('span', { class: 'code' }, tk.code),
    h('span', { class: 'info' }, info.join(' · ')),
    tk.note ? h('span', { class: 'note' }, tk.note) : null,
    h('span', { class: 'row-actions' }, buttons),
  );
  return li;
}

// ---------------------------------------------------------------------------
// Admin.

function adminView() {
  const nextYear = new Date(Date.now() + 365 * 86400000).toISOString().slice(0, 10);
  const field = (id, label, attrs) => h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name: id, ...attrs }));
  return h(
    'div',
    { class: 'admin' },
    h(
      'form',
      {
        id: 'create',
        class: 'card',
        onsubmit: (e) => {
          e.preventDefault();
          createStall(e.target);
        },
      },
      h('h2', {}, t('create')),
      h(
        'div',
        { class: 'fields' },
        field('create-name', t('name'), { required: true, maxlength: 40 }),
        field('create-prefix', t('prefix'), { maxlength: 4, pattern: '[A-Za-z]{0,4}' }),
        field('create-paid', t('paidUntil'), { type: 'date', value: nextYear }),
        field('create-max', t('maxNumber'), { type: 'number', min: 9, max: 9999, placeholder: '999' }),
      ),
      h('button', { type: 'submit', class: 'primary' }, t('createBtn')),
      h('p', { id: 'invite', class: 'invite', hidden: true }),
    ),
    h('section', { class: 'card' }, h('h2', {}, t('stalls')), h('div', { class: 'scroll' }, h('table', { id: 'stalls' }))),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'stats-title' },
      h('h2', { id: 'stats-title' }, t('stats')),
      h(
        'form',
        {
          id: 'stats-form',
          class: 'fields',
          onsubmit: (e) => {
            e.preventDefault();
            state.admin.statsSeller = $('stats-seller').value;
            state.admin.statsDays = Number($('stats-days').value);
            loadStats();
          },
        },
        h('div', { class: 'field' }, h('label', { for: 'stats-seller' }, t('statsFor')), h('select', { id: 'stats-seller' })),
        h(
          'div',
          { class: 'field' },
          h('label', { for: 'stats-days' }, t('days')),
          h('select', { id: 'stats-days' }, ...[7, 14, 30].map((n) => h('option', { value: String(n), selected: n === state.admin.statsDays }, String(n)))),
        ),
        h('button', { type: 'submit' }, t('show')),
      ),
      h('div', { id: 'charts', class: 'charts' }),
    ),
    h('section', { class: 'card' }, h('h2', {}, t('audit')), h('div', { class: 'scroll' }, h('table', { id: 'audit' }))),
  );
}

async function loadAdmin() {
  try {
    const sellers = [];
    for (let after = null; ; ) {
      const c = (await run(D.ConsoleSellers, { after })).sellers;
      for (const e of c.edges) if (e && e.node) sellers.push(e.node);
      if (!c.pageInfo.hasNextPage || sellers.length >= 1000) break;
      after = c.pageInfo.endCursor;
    }
    state.admin.sellers = sellers;
    state.admin.audit = (await run(D.ConsoleAudit)).auditLog;
    if (!state.admin.statsSeller && sellers.length) state.admin.statsSeller = sellers[0].id;
    renderAdmin();
    if (state.admin.statsSeller) await loadStats();
  } catch (err) {
    showError(err);
  }
}

async function createStall(form) {
  try {
    showError(null);
    const input = { name: form.querySelector('#create-name').value.trim() };
    const prefix = form.querySelector('#create-prefix').value.trim().toUpperCase();
    if (prefix) input.prefix = prefix;
    const paid = form.querySelector('#create-paid').value;
    if (paid) input.paidUntil = new Date(`${paid}T23:59:59`).toISOString();
    const max = form.querySelector('#create-max').value;
    if (max) input.maxNumber = Number(max);
    const res = (await run(D.ConsoleCreateSeller, { input })).createSeller;
    state.admin.invite = { name: res.seller.name, code: res.inviteCode };
    form.reset();
    await loadAdmin();
  } catch (err) {
    showError(err);
  }
}

async function renew(seller, months) {
  try {
    showError(null);
    await run(D.ConsoleRenew, { sellerId: seller.id, months });
    await loadAdmin();
  } catch (err) {
    showError(err);
  }
}

function isoDay(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

async function loadStats() {
  const a = state.admin;
  if (!a.statsSeller) return;
  const to = new Date();
  const from = new Date(to.getTime() - (a.statsDays - 1) * 86400000);
  try {
    // A day ahead as well: the server's business day may be ahead of this
    // device's (another time zone).
    const toNext = new Date(to.getTime() + 86400000);
    const stats = (await run(D.ConsoleStats, { sellerId: a.statsSeller, from: isoDay(from), to: isoDay(toNext) })).sellerStats;
    a.stats = stats.filter((d, i) => i < stats.length - 1 || d.issued > 0);
    renderCharts();
  } catch (err) {
    showError(err);
  }
}

function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${isoDay(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function renderAdmin() {
  if (state.view !== 'admin' || !$('stalls')) return;
  const a = state.admin;
  const invite = $('invite');
  if (a.invite) {
    invite.hidden = false;
    invite.replaceChildren(`${a.invite.name} · ${t('invite')} `, h('code', { id: 'invite-code' }, a.invite.code));
  }
  const now = Date.now();
  $('stalls').replaceChildren(
    h('thead', {}, h('tr', {}, ...[t('name'), t('prefix'), t('statusCol'), t('waitingCol'), t('paidUntil'), t('renew')].map((x) => h('th', { scope: 'col' }, x)))),
    h(
      'tbody',
      {},
      ...a.sellers.map((s) => {
        const paid = s.paidUntil && Date.parse(s.paidUntil) > now;
        const months = h(
          'select',
          { 'aria-label': `${t('renew')} ${s.name}` },
          ...[1, 3, 6, 12].map((n) => h('option', { value: String(n) }, t('months', { n }))),
        );
        return h(
          'tr',
          { dataset: { sellerId: s.id } },
          h('td', {}, s.name),
          h('td', {}, s.prefix || ''),
          h('td', {}, s.open ? t('open') : t('closed')),
          h('td', {}, String(s.waitingCount)),
          h('td', { class: paid ? '' : 'unpaid', dataset: { paidUntil: s.paidUntil || '' } }, paid ? fmtTime(s.paidUntil).slice(0, 10) : `${t('unpaid')} ${s.paidUntil ? fmtTime(s.paidUntil).slice(0, 10) : ''}`),
          h('td', { class: 'renew' }, months, h('button', { type: 'button', dataset: { action: 'renew' }, onclick: () => renew(s, Number(months.value)) }, t('renew'))),
        );
      }),
    ),
  );
  const sel = $('stats-seller');
  sel.replaceChildren(...a.sellers.map((s) => h('option', { value: s.id, selected: s.id === a.statsSeller }, s.name)));
  $('audit').replaceChildren(
    h('thead', {}, h('tr', {}, ...[t('when'), t('actor'), t('action'), t('target'), t('detail')].map((x) => h('th', { scope: 'col' }, x)))),
    h(
      'tbody',
      {},
      ...(a.audit.length
        ? a.audit.map((e) => h('tr', {}, h('td', {}, fmtTime(e.createdAt)), h('td', {}, e.actorId), h('td', {}, e.action), h('td', {}, e.targetId), h('td', {}, e.detail)))
        : [h('tr', {}, h('td', { colspan: '5', class: 'muted' }, t('emptyAudit')))]),
    ),
  );
  renderCharts();
}

function renderCharts() {
  const box = $('charts');
  if (!box) return;
  const stats = state.admin.stats;
  if (!stats) {
    box.replaceChildren();
    return;
  }
  const days = stats.map((d) => d.day);
  box.replaceChildren(
    barChart({
      id: 'chart-counts',
      title: t('chartCounts'),
      days,
      series: [
        { key: 'issued', label: t('sIssued'), values: stats.map((d) => d.issued) },
        { key: 'completed', label: t('sCompleted'), values: stats.map((d) => d.completed) },
        { key: 'noShows', label: t('sNoShows'), values: stats.map((d) => d.noShows) },
      ],
    }),
    barChart({
      id: 'chart-times',
      title: t('chartTimes'),
      days,
      series: [
        { key: 'waitP50', label: t('sWaitP50'), values: stats.map((d) => d.medianWaitSeconds) },
        { key: 'waitP90', label: t('sWaitP90'), values: stats.map((d) => d.p90WaitSeconds) },
        { key: 'pickupP50', label: t('sPickupP50'), values: stats.map((d) => d.medianPickupSeconds) },
        { key: 'pickupP90', label: t('sPickupP90'), values: stats.map((d) => d.p90PickupSeconds) },
      ],
    }),
  );
}

// ---------------------------------------------------------------------------

function main() {
  $('lang').addEventListener('click', () => {
    lang = lang === 'en' ? 'zh' : 'en';
    localStorage.setItem(LANG_KEY, lang);
    const scanning = state.view === 'login' && login;
    render();
    if (scanning) startScan();
  });
  $('logout').addEventListener('click', async () => {
    try {
      await run(D.ConsoleLogout);
    } catch {
      // the session may be gone already
    }
    setToken('');
    state.selectedId = '';
    state.day = '';
    state.slip = null;
    boot();
  });
  document.addEventListener('keydown', onKey);
  // Printing: only the slip (print CSS), and back to the queue afterwards.
  window.addEventListener('afterprint', () => $('call-next')?.focus());
  boot();
}

main();
