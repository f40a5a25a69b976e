// createFakeWx: the parts of the wx API the kit uses, for Node tests.
//   login           answers { code } with wx.code (default 'dev:<openid>'); counts calls
//   request         real HTTP through fetch, answered like wx.request
//   get/set/removeStorageSync  in memory (JSON round trip, '' for a missing key)
//   connectSocket   a SocketTask backed by the ws package
// Test controls:
//   wx.refuseSockets = true   new sockets fail (onError, then onClose) as on a
//                             phone without network; wx.refused counts them
//   wx.killSockets()          terminates every open socket abruptly (no close frame)
//   wx.freezeSockets()        turns every open socket into a black hole: nothing
//                             arrives, sends vanish, close() never reports back
//                             (a half-open connection after a sleep)
//   wx.frames                 every frame the kit sent, parsed
//   wx.requests               the data of every wx.request, parsed
// The UI APIs the example pages use, recorded for the test:
//   vibrateLong/vibrateShort  counted in wx.vibrations
//   showModal                 pushed to wx.modals, answered with wx.modalAnswer
//                             (default: confirm)
//   showToast/showLoading     pushed to wx.toasts
//   setClipboardData          sets wx.clipboard
//   navigateTo/redirectTo/switchTab/navigateBack  pushed to wx.navigations
//                             as { type, url }
//   scanCode                  the camera: it stays open until the test calls
//                             wx.scan(text) (or wx.cancelScan()); a text
//                             scanned before anything asked is queued
//   onNetworkStatusChange     wx.setNetwork(isConnected) calls the listeners
import WebSocket from 'ws';

class FakeSocketTask {
  constructor(wx, { url, protocols = [], header = {} }) {
    this.handlers = { open: [], message: [], close: [], error: [] };
    this.protocols = protocols;
    if (wx.refuseSockets) {
      wx.refused++;
      setTimeout(() => {
        this.emit('error', { errMsg: 'connectSocket:fail network down (fake)' });
        this.emit('close', { code: 1006, reason: 'abnormal closure' });
      }, 5);
      return;
    }
    this.ws = new WebSocket(url, protocols, { headers: header });
    this.ws.on('open', () => this.emit('open', { header: { 'Sec-WebSocket-Protocol': this.ws.protocol }, profile: {} }));
    this.ws.on('message', (data, isBinary) => {
      if (this.frozen) return;
      this.emit('message', { data: isBinary ? new Uint8Array(data).buffer : data.toString('utf8') });
    });
    this.ws.on('error', (err) => this.emit('error', { errMsg: `socket error: ${err.message}` }));
    this.ws.on('close', (code, reason) => this.emit('close', { code, reason: reason.toString('utf8') }));
    this.sentFrames = wx.frames;
  }
  emit(ev, res) {
    for (const h of this.handlers[ev]) h(res);
  }
  onOpen(h) { this.handlers.open.push(h); }
  onMessage(h) { this.handlers.message.push(h); }
  onClose(h) { this.handlers.close.push(h); }
  onError(h) { this.handlers.error.push(h); }
  send({ data, success, fail, complete }) {
    if (this.frozen) {
      success?.({ errMsg: 'sendSocketMessage:ok' });
      complete?.();
      return;
    }
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      fail?.({ errMsg: 'sendSocketMessage:fail not open' });
      complete?.();
      return;
    }
    try {
      this.sentFrames.push(JSON.parse(data));
    } catch {
      this.sentFrames.push(data);
    }
    this.ws.send(data, (err) => {
      if (err) fail?.({ errMsg: `sendSocketMessage:fail ${err.message}` });
      else success?.({ errMsg: 'sendSocketMessage:ok' });
      complete?.();
    });
  }
  close({ code = 1000, reason = '', success, fail } = {}) {
    if (!this.ws) {
      fail?.({ errMsg: 'closeSocket:fail' });
      return;
    }
    if (this.frozen) {
      this.ws.removeAllListeners('close');
      this.ws.on('error', () => {});
      this.ws.terminate();
      success?.({ errMsg: 'closeSocket:ok' });
      return;
    }
    this.ws.close(code, reason);
    success?.({ errMsg: 'closeSocket:ok' });
  }
}

export function createFakeWx({ openid = 'alice' } = {}) {
  const storage = new Map();
  const wx = {
    code: `dev:${openid}`,
    loginCalls: 0,
    refuseSockets: false,
    refused: 0,
    sockets: [],
    frames: [],
    requests: [], // the data of every wx.request, parsed
    login({ success, fail, complete } = {}) {
      wx.loginCalls++;
      setTimeout(() => {
        success?.({ errMsg: 'login:ok', code: wx.code });
        complete?.();
      }, 1);
    },
    request({ url, method = 'GET', header = {}, data, timeout = 60_000, success, fail, complete }) {
      const body = method === 'GET' ? undefined : typeof data === 'string' ? data : JSON.stringify(data);
      try {
        wx.requests.push(body === undefined ? data : JSON.parse(body));
      } catch {
        wx.requests.push(body);
      }
      fetch(url, { method, headers: header, body, signal: AbortSignal.timeout(timeout) })
        .then(async (res) => {
          const text = await res.text();
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          success?.({ statusCode: res.status, data: parsed, header: Object.fromEntries(res.headers), errMsg: 'request:ok' });
        })
        .catch((err) => fail?.({ errMsg: `request:fail ${err.message}` }))
        .finally(() => complete?.());
      return { abort() {} };
    },
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    setStorageSync(key, value) {
      storage.set(key, JSON.stringify(value));
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
    connectSocket(opts) {
      const task = new FakeSocketTask(wx, opts);
      wx.sockets.push(task);
      return task;
    },
    killSockets() {
      let n = 0;
      for (const t of wx.sockets) {
        if (t.ws && t.ws.readyState === WebSocket.OPEN) {
          t.ws.terminate();
          n++;
        }
      }
      return n;
    },
    freezeSockets() {
      let n = 0;
      for (const t of wx.sockets) {
        if (t.ws && t.ws.readyState === WebSocket.OPEN && !t.frozen) {
          t.frozen = true;
          n++;
        }
      }
      return n;
    },
    openSockets() {
      return wx.sockets.filter((t) => t.ws && t.ws.readyState === WebSocket.OPEN).length;
    },

    vibrations: 0,
    modals: [],
    modalAnswer: { confirm: true, cancel: false },
    toasts: [],
    clipboard: '',
    navigations: [],
    scans: [], // every scanCode call's options
    pendingScans: [],
    queuedScans: [],
    networkListeners: [],
    vibrateLong(o = {}) {
      wx.vibrations++;
      later(o, { errMsg: 'vibrateLong:ok' });
    },
    vibrateShort(o = {}) {
      wx.vibrations++;
      later(o, { errMsg: 'vibrateShort:ok' });
    },
    showModal(o = {}) {
      wx.modals.push(o);
      later(o, { errMsg: 'showModal:ok', ...wx.modalAnswer });
    },
    setClipboardData(o = {}) {
      wx.clipboard = o.data;
      later(o, { errMsg: 'setClipboardData:ok' });
    },
    showToast(o = {}) {
      wx.toasts.push(o);
      later(o, { errMsg: 'showToast:ok' });
    },
    showLoading(o = {}) {
      wx.toasts.push({ loading: true, ...o });
      later(o, { errMsg: 'showLoading:ok' });
    },
    hideLoading(o = {}) {
      later(o, { errMsg: 'hideLoading:ok' });
    },
    stopPullDownRefresh(o = {}) {
      later(o, { errMsg: 'stopPullDownRefresh:ok' });
    },
    navigateTo: (o) => navigate('navigateTo', o),
    redirectTo: (o) => navigate('redirectTo', o),
    switchTab: (o) => navigate('switchTab', o),
    reLaunch: (o) => navigate('reLaunch', o),
    navigateBack: (o = {}) => navigate('navigateBack', { url: '', ...o }),
    scanCode(o = {}) {
      wx.scans.push(o);
      if (wx.queuedScans.length) answerScan(o, wx.queuedScans.shift());
      else wx.pendingScans.push(o);
    },
    scan(text) {
      const o = wx.pendingScans.shift();
      if (o) answerScan(o, text);
      else wx.queuedScans.push(text);
    },
    cancelScan() {
      const o = wx.pendingScans.shift();
      if (o) {
        setTimeout(() => {
          o.fail?.({ errMsg: 'scanCode:fail cancel' });
          o.complete?.();
        }, 1);
      }
    },
    onNetworkStatusChange(h) {
      wx.networkListeners.push(h);
    },
    setNetwork(isConnected) {
      for (const h of wx.networkListeners) h({ isConnected, networkType: isConnected ? 'wifi' : 'none' });
    },
  };
  // Like wx: success and complete come asynchronously.
  function later(o, res) {
    setTimeout(() => {
      o.success?.(res);
      o.complete?.(res);
    }, 1);
  }
  function navigate(type, o) {
    wx.navigations.push({ type, url: o.url });
    later(o, { errMsg: `${type}:ok` });
  }
  function answerScan(o, text) {
    later(o, { errMsg: 'scanCode:ok', result: text, scanType: 'QR_CODE', charSet: 'UTF-8', path: '', rawData: '' });
  }
  return wx;
}

// waitFor polls cond until it returns a truthy value, or fails after ms.
export async function waitFor(cond, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
