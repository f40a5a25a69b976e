// The public page of one ticket: /t/{token}, the Ticket.trackURL a student
// gets on their slip or in the customer app. No login: the token in the URL
// is the capability, and the server shows no note and no owner through it.
//
// Live: trackedTicketUpdated(token) over graphql-transport-ws. Its first
// event is always the ticket's state now, so after any reconnection (lost
// Wi-Fi, a server restart) the page is right again at once, and a call made
// while it was away is shown (and rung) as soon as it is back.
import { documents, gql, Stream, errorCode, backoff, sleep } from '../common/api.js';
import persisted from './persisted-operations.json';

const D = documents(persisted);
const $ = (id) => document.getElementById(id);

const STATUS = {
  WAITING: ['排队中', 'Waiting'],
  CALLED: ['到你了！请取餐', "It's your turn! Please pick up"],
  DONE: ['已取餐，祝用餐愉快', 'Picked up. Enjoy your meal'],
  CANCELLED: ['号码已取消', 'This number was cancelled'],
  NO_SHOW: ['已过号，请联系档口', 'Missed: please ask at the stall'],
};
const STATE = { WAITING: 'waiting', CALLED: 'called', DONE: 'done', CANCELLED: 'closed', NO_SHOW: 'closed' };

function tokenFromPath() {
  const m = window.location.pathname.match(/\/t\/([^/]+)\/?$/);
  if (!m) return '';
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------
// Sound: a generated two-tone chime (Web Audio), allowed by browsers only
// after a tap, so the page asks for one.

const sound = {
  ctx: null,
  get on() {
    return !!this.ctx && this.ctx.state === 'running';
  },
  enable() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    if (!this.ctx) this.ctx = new AC();
    this.ctx.resume().catch(() => {});
  },
  chime() {
    if (!this.ctx) return;
    const now = this.ctx.currentTime;
    [880, 1318.5, 880, 1318.5].forEach((freq, i) => {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      const t0 = now + i * 0.28;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.4, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.26);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start(t0);
      osc.stop(t0 + 0.27);
    });
  },
};

function setupSound() {
  const button = $('sound');
  const render = () => {
    document.body.dataset.sound = sound.on ? 'on' : 'off';
    button.replaceChildren(
      sound.on ? '🔔 提示音已开启 ' : '🔔 轻触开启提示音 ',
      Object.assign(document.createElement('span'), { lang: 'en', textContent: sound.on ? 'Sound on' : 'Tap to enable sound' }),
    );
    button.setAttribute('aria-pressed', String(sound.on));
  };
  button.addEventListener('click', () => {
    sound.enable();
    sound.chime(); // a sample, and proof it works
    setTimeout(render, 50);
  });
  // Any tap counts as the gesture.
  document.addEventListener('pointerdown', () => {
    if (sound.ctx) sound.ctx.resume().catch(() => {});
  });
  render();
}

// ---------------------------------------------------------------------------

let shown = null; // the last state shown

function show(tk) {
  const prev = shown;
  shown = tk;
  document.body.dataset.state = STATE[tk.status] || 'waiting';
  document.body.dataset.status = tk.status;
  document.body.dataset.callCount = String(tk.callCount);
  $('stall').textContent = tk.seller.name;
  $('code').textContent = tk.code;
  document.title = `${tk.code} · ${tk.seller.name}`;
  const [zh, en] = STATUS[tk.status] || [tk.status, tk.status];
  const status = $('status');
  status.replaceChildren(`${zh} `, Object.assign(document.createElement('span'), { lang: 'en', textContent: en }));
  $('position').textContent = tk.position === null || tk.position === undefined ? '–' : String(tk.position);
  $('eta').textContent =
    tk.etaSeconds === null || tk.etaSeconds === undefined ? '–' : tk.etaSeconds < 60 ? '< 1 分钟' : `${Math.round(tk.etaSeconds / 60)} 分钟`;
  const note = $('pickup-note');
  note.hidden = !(tk.status === 'CALLED' && tk.seller.pickupNote);
  note.textContent = tk.seller.pickupNote || '';

  // A call, or a recall: ring. Also when the call happened while the page
  // was away, since the first event after a reconnect is the state now.
  const calledNow = tk.status === 'CALLED' && (!prev || prev.status !== 'CALLED' || tk.callCount > prev.callCount);
  if (calledNow && prev) alertCall();
  else if (calledNow && !prev && Date.now() - Date.parse(tk.calledAt) < 120000) alertCall();
}

function alertCall() {
  document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
  try {
    navigator.vibrate?.([400, 150, 400, 150, 400]);
  } catch {
    // not allowed without a gesture on some browsers
  }
  if (sound.on) sound.chime();
}

function gone() {
  document.body.dataset.state = 'gone';
  $('gone').hidden = false;
  document.title = '链接已过期 · Link expired';
}

function setConn(conn) {
  document.body.dataset.conn = conn;
  $('conn').textContent = conn === 'reconnecting' ? '连接中断，正在重连… Reconnecting…' : '';
}

async function main() {
  setupSound();
  const token = tokenFromPath();
  if (!token) {
    gone();
    return;
  }
  // The state over HTTP first: quick, and tells an unknown link at once.
  for (let attempt = 0; ; attempt++) {
    try {
      const tk = (await gql(D.TicketPage, { token })).trackedTicket;
      if (!tk) {
        gone();
        return;
      }
      show(tk);
      break;
    } catch (err) {
      if (['NOT_FOUND', 'BAD_USER_INPUT'].includes(errorCode(err))) {
        gone();
        return;
      }
      setConn('reconnecting');
      await sleep(backoff(attempt));
    }
  }
  const stream = new Stream({
    extensions: D.TicketPageUpdates,
    variables: () => ({ token }),
    onData: (data) => {
      if (data.trackedTicketUpdated) show(data.trackedTicketUpdated);
    },
    onConn: setConn,
    // The link ran out (its business day ended): say so, stop.
    stop: (err) => {
      if (['NOT_FOUND', 'BAD_USER_INPUT'].includes(errorCode(err))) {
        gone();
        return true;
      }
      return false;
    },
  });
  stream.start();
}

main();
