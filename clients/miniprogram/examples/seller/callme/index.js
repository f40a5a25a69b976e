// callme client kit for WeChat mini-programs.
//
//   var callme = require('./callme/index.js');
//   var client = callme.createClient({ url: 'https://q.example.com' });
//   client.login('CUSTOMER').then(function (session) { ... });
//   client.request(callme.operations.MyTickets).then(function (data) { ... });
//   var stop = client.subscribe(callme.operations.CalledNumbers, { sellerId: id }, onEvent, onError);
//
// Plain ES5 and CommonJS: copy the miniprogram/ folder into a mini-program and
// require it, no build step. Its only dependency, graphql-ws, is vendored in
// vendor/graphql-ws.js. See clients/README.md.
'use strict';

var graphqlWs = require('./vendor/graphql-ws.js');
var operations = require('./operations.js');
var hashes = require('./hashes.js');

// Persisted queries: the kit sends the documents of operations.js by their
// sha256 hash (Apollo's persistedQuery extension), not their text. A server
// in trusted mode runs only the documents its clients ship; any other text is
// refused with PERSISTED_QUERY_REQUIRED. Other documents go as text.
var hashOf = {};
for (var opName in operations) {
  if (Object.prototype.hasOwnProperty.call(operations, opName) && hashes[opName]) hashOf[operations[opName]] = hashes[opName];
}

function persistedQuery(hash) {
  return { persistedQuery: { version: 1, sha256Hash: hash } };
}

// requestBody is the GraphQL request for query: its hash alone when it has
// one, unless withText; the text (and the hash, if any) otherwise.
function requestBody(query, variables, withText) {
  var hash = hashOf[query];
  var body = { variables: variables || {} };
  if (hash) body.extensions = persistedQuery(hash);
  if (!hash || withText) body.query = query;
  return body;
}

var APPS = { CUSTOMER: true, SELLER: true };

// callmeError makes the Error that request() and subscribe() report: message
// from the first GraphQL error, code from its extensions.code, and all errors.
function callmeError(message, code, errors) {
  var err = new Error(message);
  err.name = 'CallmeError';
  err.code = code;
  err.errors = errors || [];
  return err;
}

function fromGraphQLErrors(errors) {
  var code = 'INTERNAL';
  for (var i = 0; i < errors.length; i++) {
    if (errors[i] && errors[i].extensions && errors[i].extensions.code) {
      code = errors[i].extensions.code;
      break;
    }
  }
  return callmeError((errors[0] && errors[0].message) || code, code, errors);
}

function copy(obj) {
  var out = {};
  if (obj) {
    for (var k in obj) {
      if (Object.prototype.hasOwnProperty.call(obj, k)) out[k] = obj[k];
    }
  }
  return out;
}

function noop() {}

// The mini-program's global wx, if any (read here, outside createClient, whose
// own `wx` shadows it).
function globalWx() {
  return typeof wx !== 'undefined' ? wx : undefined; // eslint-disable-line no-undef
}

// endpoints turns the server's base URL (or its /query URL) into the HTTP and
// WebSocket endpoints: https://host -> https://host/query, wss://host/query.
function endpoints(url, wsUrl) {
  if (!url) throw new Error('callme: createClient needs { url }');
  var base = String(url).replace(/\/+$/, '');
  var http = /\/query$/.test(base) ? base : base + '/query';
  return { http: http, ws: wsUrl || http.replace(/^http/, 'ws') };
}

// createWxWebSocket returns a class with the browser WebSocket interface that
// graphql-ws drives (constructor(url, protocols), readyState, protocol, send,
// close(code, reason), onopen/onmessage/onclose/onerror, static CONNECTING,
// OPEN, CLOSING, CLOSED), backed by wx.connectSocket.
//
// A wx socket error is reported as a close with code 1006, the way a browser
// follows its error event with a close: graphql-ws then reconnects instead of
// giving up. A close() whose onClose never comes (the network is gone) is
// completed after closeTimeout ms, so reconnecting is not held up.
function createWxWebSocket(wx, options) {
  var closeTimeout = (options && options.closeTimeout) || 3000;

  function WxWebSocket(url, protocols) {
    var self = this;
    var list = protocols == null ? [] : typeof protocols === 'string' ? [protocols] : protocols.slice();
    this.url = url;
    this.protocol = '';
    this.extensions = '';
    this.binaryType = 'arraybuffer';
    this.readyState = WxWebSocket.CONNECTING;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    this._done = false;
    this._closeTimer = null;
    this._task = null;
    try {
      this._task = wx.connectSocket({
        url: url,
        protocols: list,
        fail: function (res) {
          self._finish(1006, 'connectSocket failed: ' + ((res && res.errMsg) || 'unknown'), false);
        }
      });
    } catch (e) {
      setTimeout(function () {
        self._finish(1006, 'connectSocket threw: ' + (e && e.message), false);
      }, 0);
      return;
    }
    var task = this._task;
    task.onOpen(function (res) {
      if (self._done || self.readyState !== WxWebSocket.CONNECTING) return;
      var header = (res && res.header) || {};
      self.protocol = header['Sec-WebSocket-Protocol'] || header['sec-websocket-protocol'] || list[0] || '';
      self.readyState = WxWebSocket.OPEN;
      if (self.onopen) self.onopen({ type: 'open', target: self });
    });
    task.onMessage(function (res) {
      if (self.readyState !== WxWebSocket.OPEN) return;
      if (self.onmessage) self.onmessage({ type: 'message', data: res && res.data, target: self });
    });
    task.onError(function (res) {
      self._finish(1006, (res && res.errMsg) || 'socket error', false);
    });
    task.onClose(function (res) {
      var code = (res && res.code) || 1005;
      self._finish(code, (res && res.reason) || '', code === 1000);
    });
  }

  WxWebSocket.CONNECTING = 0;
  WxWebSocket.OPEN = 1;
  WxWebSocket.CLOSING = 2;
  WxWebSocket.CLOSED = 3;
  WxWebSocket.prototype.CONNECTING = 0;
  WxWebSocket.prototype.OPEN = 1;
  WxWebSocket.prototype.CLOSING = 2;
  WxWebSocket.prototype.CLOSED = 3;

  WxWebSocket.prototype.send = function (data) {
    var self = this;
    if (this.readyState === WxWebSocket.CONNECTING) throw new Error('WebSocket is still connecting');
    if (this.readyState !== WxWebSocket.OPEN) return; // like a browser: dropped once closing
    this._task.send({
      data: data,
      fail: function () {
        // The connection is dead: close it so graphql-ws reconnects.
        self.close(4499, 'send failed');
      }
    });
  };

  WxWebSocket.prototype.close = function (code, reason) {
    var self = this;
    if (this._done || this.readyState === WxWebSocket.CLOSING) return;
    this.readyState = WxWebSocket.CLOSING;
    // wx accepts 1000 or 3000..4999 only.
    var wxCode = code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000;
    try {
      if (this._task) this._task.close({ code: wxCode, reason: reason || '', fail: noop });
    } catch (e) {
      // closing anyway below
    }
    this._closeTimer = setTimeout(function () {
      self._finish(code || 1005, reason || '', false);
    }, closeTimeout);
  };

  WxWebSocket.prototype._finish = function (code, reason, wasClean) {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._closeTimer);
    this.readyState = WxWebSocket.CLOSED;
    if (this.onclose) this.onclose({ type: 'close', code: code, reason: reason, wasClean: !!wasClean, target: this });
  };

  return WxWebSocket;
}

// defaultResume tells how subscribe() resumes a document: calledNumbers with an
// $after variable resumes from data.calledNumbers.seq.
function defaultResume(query) {
  if (!/\bcalledNumbers\b/.test(query) || !/\$after\b/.test(query)) return null;
  return {
    variable: 'after',
    seq: function (data) {
      return data && data.calledNumbers ? data.calledNumbers.seq : undefined;
    }
  };
}

// createClient makes a client of one callme server.
//
// options:
//   url          the server, e.g. 'https://q.example.com' (requests go to /query)
//   wsUrl        WebSocket endpoint; default: url with http -> ws, + /query
//   wx           the wx API object; default: the global wx
//   app          'CUSTOMER' (default) or 'SELLER': whose token request() sends
//   storageKey   prefix of the storage keys; the session of an app is kept under
//                storageKey + app (default 'callme.session.')
//   timeout      wx.request timeout in ms (default 15000)
//   keepAlive    ms between client pings on the socket (default 10000; 0: none)
//   pongTimeout  ms to wait for the pong before the socket counts as dead (5000)
//   retryBaseMs, retryMaxMs   reconnect backoff: base * 2^attempt, capped,
//                with jitter (defaults 1000 and 30000)
//   lazyCloseTimeout  ms the socket stays open after the last unsubscribe (0)
//   devOpenid    log in as this openid with the code dev:<openid> instead of
//                wx.login's (only a server with dev login accepts it): for
//                running the app in the developer tools against a dev server
function createClient(options) {
  options = options || {};
  var wx = options.wx || globalWx();
  if (!wx) throw new Error('callme: no wx object: pass createClient({ wx: wx })');
  var ends = endpoints(options.url, options.wsUrl);
  var app = options.app || 'CUSTOMER';
  if (!APPS[app]) throw new Error('callme: app must be CUSTOMER or SELLER');
  var storagePrefix = options.storageKey || 'callme.session.';
  var timeout = options.timeout || 15000;
  var keepAlive = options.keepAlive === undefined ? 10000 : options.keepAlive;
  var pongTimeout = options.pongTimeout || 5000;
  var retryBaseMs = options.retryBaseMs || 1000;
  var retryMaxMs = options.retryMaxMs || 30000;
  var logins = {}; // app -> login in flight

  // ---- sessions

  function session(a) {
    try {
      var s = wx.getStorageSync(storagePrefix + (a || app));
      return s && s.token ? s : null;
    } catch (e) {
      return null;
    }
  }

  function token() {
    var s = session(app);
    return s ? s.token : '';
  }

  function wxLogin() {
    if (options.devOpenid) return Promise.resolve('dev:' + options.devOpenid);
    return new Promise(function (resolve, reject) {
      wx.login({
        success: function (res) {
          if (res && res.code) resolve(res.code);
          else reject(callmeError('wx.login gave no code', 'WX_LOGIN_FAILED'));
        },
        fail: function (res) {
          reject(callmeError('wx.login failed: ' + ((res && res.errMsg) || 'unknown'), 'WX_LOGIN_FAILED'));
        }
      });
    });
  }

  // login runs wx.login and the login mutation for app (default: the client's),
  // keeps the session in storage and makes app the one request() uses.
  // Concurrent logins of one app share one round trip.
  function login(a) {
    a = a || app;
    if (!APPS[a]) return Promise.reject(new Error('callme: app must be CUSTOMER or SELLER'));
    app = a;
    if (logins[a]) return logins[a];
    var p = wxLogin()
      .then(function (code) {
        return execute(operations.Login, { input: { app: a, code: code } }, '');
      })
      .then(function (data) {
        wx.setStorageSync(storagePrefix + a, data.login);
        return data.login;
      });
    logins[a] = p;
    var clear = function () {
      if (logins[a] === p) delete logins[a];
    };
    p.then(clear, clear);
    return p;
  }

  // logout revokes the session on the server (best effort) and forgets it.
  function logout() {
    var t = token();
    try {
      wx.removeStorageSync(storagePrefix + app);
    } catch (e) {
      // nothing stored
    }
    if (!t) return Promise.resolve(false);
    return execute(operations.Logout, {}, t).then(
      function (data) {
        return data.logout;
      },
      function () {
        return false;
      }
    );
  }

  // ---- HTTP

  function post(query, variables, tok, withText) {
    return new Promise(function (resolve, reject) {
      var header = {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json'
      };
      if (tok) header.Authorization = 'Bearer ' + tok;
      wx.request({
        url: ends.http,
        method: 'POST',
        header: header,
        data: requestBody(query, variables, withText),
        dataType: 'json',
        timeout: timeout,
        success: function (res) {
          var body = res.data;
          if (typeof body === 'string') {
            try {
              body = JSON.parse(body);
            } catch (e) {
              // not JSON: reported below
            }
          }
          if (body && typeof body === 'object' && ('data' in body || 'errors' in body)) {
            resolve(body);
          } else {
            var err = callmeError('HTTP ' + res.statusCode + ' from ' + ends.http, 'HTTP_' + res.statusCode);
            err.statusCode = res.statusCode;
            reject(err);
          }
        },
        fail: function (res) {
          reject(callmeError('request failed: ' + ((res && res.errMsg) || 'network error'), 'NETWORK_ERROR'));
        }
      });
    });
  }

  function execute(query, variables, tok) {
    function result(body) {
      if (body.errors && body.errors.length) {
        var err = fromGraphQLErrors(body.errors);
        err.data = body.data;
        throw err;
      }
      return body.data;
    }
    return post(query, variables, tok).then(result).catch(function (err) {
      // The server does not know the hash (a server in "any" mode that has
      // not seen it yet, or one older than this kit): send the text with the
      // hash, as Apollo clients do. "any" registers it; "trusted" answers
      // PERSISTED_QUERY_REQUIRED unless the caller is an admin.
      if (err.code !== 'PERSISTED_QUERY_NOT_FOUND' || !hashOf[query]) throw err;
      return post(query, variables, tok, true).then(result);
    });
  }

  // request runs a query or mutation with the stored token and resolves to its
  // data. It rejects with an Error whose .code is the first error's
  // extensions.code (and .errors all of them). On UNAUTHENTICATED it logs in
  // again once and retries.
  function request(query, variables) {
    var sent = token();
    return execute(query, variables, sent).catch(function (err) {
      if (err.code !== 'UNAUTHENTICATED') throw err;
      var now = token();
      var fresh = now && now !== sent ? Promise.resolve() : login(app);
      return fresh.then(function () {
        return execute(query, variables, token());
      });
    });
  }

  // ---- subscriptions

  var ws = null; // the graphql-ws client, made on the first subscribe
  var socketToken = null; // the token the current socket was opened with
  var activeSocket = null;
  var pongTimer = null;
  var waiting = []; // resolvers of backoff waits, for wake()

  function retryWait(retries) {
    var ms = Math.min(retryMaxMs, retryBaseMs * Math.pow(2, retries));
    ms = ms / 2 + (Math.random() * ms) / 2;
    return new Promise(function (resolve) {
      var timer;
      function done() {
        clearTimeout(timer);
        var i = waiting.indexOf(done);
        if (i >= 0) waiting.splice(i, 1);
        resolve();
      }
      timer = setTimeout(done, ms);
      waiting.push(done);
    });
  }

  // The subscribe messages go through this replacer: a resumable subscription
  // gets $after = the last seq it delivered, on its first send and on every
  // resend after a reconnect; a shipped document goes by its hash.
  function replacer(key, value) {
    if (key === '' && value && value.type === 'subscribe' && value.payload && value.payload.__callme) {
      var state = value.payload.__callme;
      return {
        id: value.id,
        type: value.type,
        payload: requestBody(value.payload.query, state.variablesToSend(), state.withText)
      };
    }
    return value;
  }

  function socketClient() {
    if (ws) return ws;
    ws = graphqlWs.createClient({
      url: ends.ws,
      webSocketImpl: createWxWebSocket(wx, { closeTimeout: options.closeTimeout }),
      lazy: true,
      lazyCloseTimeout: options.lazyCloseTimeout || 0,
      keepAlive: keepAlive,
      retryAttempts: Infinity,
      retryWait: retryWait,
      shouldRetry: function () {
        return true;
      },
      connectionParams: function () {
        socketToken = token();
        return socketToken ? { authToken: socketToken } : {};
      },
      jsonMessageReplacer: replacer,
      on: {
        connected: function (socket) {
          activeSocket = socket;
        },
        closed: function () {
          activeSocket = null;
          clearTimeout(pongTimer);
        },
        ping: function (received) {
          if (received || !pongTimeout) return;
          clearTimeout(pongTimer);
          pongTimer = setTimeout(function () {
            // No pong: the connection is dead (the phone slept, the network
            // changed). Close it; graphql-ws reconnects and resubscribes.
            if (activeSocket && activeSocket.readyState === 1) activeSocket.close(4408, 'pong timeout');
          }, pongTimeout);
        },
        pong: function (received) {
          if (received) clearTimeout(pongTimer);
        }
      }
    });
    return ws;
  }

  // subscribe starts a subscription and returns a function that ends it.
  // onEvent(data) gets each result's data; onError(err) gets an Error with
  // .code (FORBIDDEN, UNAUTHENTICATED, ... or CONNECTION_CLOSED for a socket
  // closed for good), after which the subscription is over. Connection losses
  // are not errors: the socket reconnects with backoff and resubscribes.
  //
  // A calledNumbers subscription (one with an $after variable) resumes: every
  // resubscribe sends after = the last seq delivered, and events with seq <= it
  // are dropped, so each call arrives exactly once and in order across
  // reconnects. Before any event, a resubscribe sends after = 0 (today's calls).
  // opts.resume = false turns this off; { variable, seq(data) } sets it up for
  // another document.
  function subscribe(query, variables, onEvent, onError, opts) {
    opts = opts || {};
    onEvent = onEvent || noop;
    onError =
      onError ||
      function (err) {
        if (typeof console !== 'undefined') console.error('callme subscription error', err);
      };
    var resume = opts.resume === false ? null : opts.resume || defaultResume(query);
    var vars = copy(variables);
    var state = {
      lastSeq: resume && typeof vars[resume.variable] === 'number' ? vars[resume.variable] : null,
      sends: 0,
      withText: false,
      variablesToSend: function () {
        var v = copy(vars);
        if (resume) {
          if (state.lastSeq !== null) v[resume.variable] = state.lastSeq;
          else if (state.sends > 0) v[resume.variable] = 0;
        }
        state.sends++;
        return v;
      }
    };
    var stopped = false;
    var relogged = false;
    var dispose = null;

    function fail(err) {
      if (stopped) return;
      stopped = true;
      if (dispose) dispose();
      onError(err);
    }

    function start() {
      if (stopped) return;
      var payload = { query: query, variables: vars };
      Object.defineProperty(payload, '__callme', { value: state, enumerable: false });
      dispose = socketClient().subscribe(payload, {
        next: function (result) {
          if (stopped) return;
          if (result.errors && result.errors.length && !result.data) {
            handleError(fromGraphQLErrors(result.errors));
            return;
          }
          if (resume) {
            var seq = resume.seq(result.data);
            if (typeof seq === 'number') {
              if (state.lastSeq !== null && seq <= state.lastSeq) return; // seen already
              state.lastSeq = seq;
            }
          }
          onEvent(result.data, result);
        },
        error: function (err) {
          if (stopped) return;
          if (Array.isArray(err)) {
            handleError(fromGraphQLErrors(err));
          } else if (err && typeof err.code === 'number' && 'reason' in err) {
            var e = callmeError('connection closed: ' + err.code + ' ' + (err.reason || ''), 'CONNECTION_CLOSED');
            e.closeCode = err.code;
            fail(e);
          } else {
            var e2 = err instanceof Error ? err : new Error(String(err));
            if (!e2.code) e2.code = 'INTERNAL';
            fail(e2);
          }
        },
        complete: function () {
          if (!stopped && opts.onComplete) opts.onComplete();
        }
      });
    }

    // UNAUTHENTICATED: log in again once, reconnect with the new token if the
    // socket still has the old one, and subscribe again.
    // PERSISTED_QUERY_NOT_FOUND: subscribe again with the text (see execute).
    function handleError(err) {
      if (err.code === 'PERSISTED_QUERY_NOT_FOUND' && hashOf[query] && !state.withText) {
        state.withText = true;
        if (dispose) dispose();
        start();
        return;
      }
      if (err.code !== 'UNAUTHENTICATED' || relogged) return fail(err);
      relogged = true;
      if (dispose) dispose();
      login(app).then(function () {
        if (stopped) return;
        if (ws && activeSocket && socketToken !== token()) ws.terminate();
        start();
      }, fail);
    }

    start();
    return function unsubscribe() {
      if (stopped) return;
      stopped = true;
      if (dispose) dispose();
    };
  }

  // wake ends the current reconnect backoff wait at once: call it from
  // App.onShow and wx.onNetworkStatusChange so a phone that wakes up does not
  // wait out a long backoff.
  function wake() {
    var w = waiting.slice();
    for (var i = 0; i < w.length; i++) w[i]();
  }

  // close ends every subscription and the socket.
  function close() {
    var c = ws;
    ws = null;
    activeSocket = null;
    clearTimeout(pongTimer);
    wake();
    return c ? c.dispose() : Promise.resolve();
  }

  return {
    login: login,
    logout: logout,
    session: function () {
      return session(app);
    },
    app: function () {
      return app;
    },
    request: request,
    subscribe: subscribe,
    wake: wake,
    close: close,
    endpoints: ends
  };
}

module.exports = {
  createClient: createClient,
  createWxWebSocket: createWxWebSocket,
  operations: operations,
  endpoints: endpoints
};
