// GraphQL for the board, the console and the ticket page: documents go by
// their persisted-query hash only (a server in trusted mode runs nothing
// else), over HTTP for queries and mutations and over graphql-transport-ws for
// subscriptions.
import { createClient } from 'graphql-ws/client';

export const ENDPOINT = document.documentElement.dataset.endpoint || '/query';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// documents maps each operation name of a persisted-operations.json (written
// by go generate) to the extensions that name it by hash.
export function documents(persisted) {
  const out = {};
  for (const [hash, text] of Object.entries(persisted)) {
    const name = /^\s*(?:query|mutation|subscription)\s+(\w+)/.exec(text)[1];
    out[name] = { persistedQuery: { version: 1, sha256Hash: hash } };
  }
  return out;
}

// backoff: 0.5 s, 1 s, 2 s, … up to max (10 s), ±25 % jitter so that many
// phones do not reconnect in lockstep after a server restart.
export function backoff(attempt, max = 10000) {
  const base = Math.min(max, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

// GraphQLError carries the server's errors; message says each with its code.
export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => (codeOf(e) ? `${e.message} (${codeOf(e)})` : e.message)).join('; '));
    this.errors = errors;
  }

  get code() {
    return codeOf(this.errors[0]);
  }
}

export const codeOf = (e) => (e && e.extensions && e.extensions.code) || '';

export function errorCode(err) {
  if (err instanceof GraphQLError) return err.code;
  if (Array.isArray(err)) return codeOf(err[0]);
  return '';
}

// gql runs one document over HTTP. A partial answer (data and errors) is
// returned with its errors in .errors; no data at all throws. onResponse(res,
// sentAt, receivedAt) sees the HTTP response first (the board reads the
// server's clock from its Date header).
export async function gql(extensions, variables = {}, token = '', { onResponse } = {}) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const sentAt = Date.now();
  const res = await fetch(ENDPOINT, {
    method: 'POST',
    headers,
    body: JSON.stringify({ variables, extensions }),
    cache: 'no-store',
    credentials: 'omit',
  });
  if (onResponse) onResponse(res, sentAt, Date.now());
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not GraphQL: a proxy's error page, say
  }
  if (!body || (!body.data && !body.errors)) throw new Error(`HTTP ${res.status}`);
  if (body.errors && body.errors.length) {
    if (!body.data || Object.values(body.data).every((v) => v === null)) throw new GraphQLError(body.errors);
  }
  return body.data;
}

// Stream follows one subscription for good: graphql-ws retries every lost
// connection with backoff; an error or the end of the stream (a server
// shutting down) starts a fresh client, unless stop(err) says to give up.
// variables() is read on every (re)subscription, so a resume cursor in it
// always holds the latest value. onConn gets 'connecting', 'live' (connected:
// the subscription is sent right after) and 'reconnecting'. Errors in a
// result without data restart the stream unless onErrors takes them. Waits
// grow to maxBackoff.
export class Stream {
  constructor({
    extensions,
    variables,
    token = () => '',
    onData,
    onConn = () => {},
    onErrors = null,
    stop = () => false,
    maxBackoff = 10000,
  }) {
    Object.assign(this, { extensions, variables, token, onData, onConn, onErrors, stop, maxBackoff });
    this.client = null;
    this.attempt = 0;
    this.closed = false;
    this.timer = 0;
  }

  start() {
    if (this.closed) return;
    const url = new URL(ENDPOINT, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket = null;
    let pongTimer = 0;
    const payload = { query: '', variables: this.variables(), extensions: this.extensions };
    const client = createClient({
      url: url.href,
      lazy: true,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: (retries) => sleep(backoff(retries, this.maxBackoff)),
      connectionParams: () => {
        payload.variables = this.variables(); // resubscription after a reconnect
        const token = this.token();
        return token ? { authToken: token } : {};
      },
      keepAlive: 10000,
      // graphql-ws wants a query string; the server gets only the hash.
      jsonMessageReplacer: (key, value) =>
        key === 'payload' && value && value.extensions && value.query === '' ? { variables: value.variables, extensions: value.extensions } : value,
      on: {
        connecting: () => this.onConn('connecting'),
        connected: (s) => {
          socket = s;
          this.attempt = 0;
          this.onConn('live');
        },
        closed: () => {
          clearTimeout(pongTimer);
          socket = null;
          if (!this.closed) this.onConn('reconnecting');
        },
        // No pong within 5 s of a ping: a dead link (Wi-Fi gone without a
        // close). Close it and reconnect.
        ping: (received) => {
          if (received) return;
          clearTimeout(pongTimer);
          pongTimer = setTimeout(() => {
            if (socket && socket.readyState === WebSocket.OPEN) socket.close(4408, 'Pong timeout');
          }, 5000);
        },
        pong: (received) => {
          if (received) clearTimeout(pongTimer);
        },
      },
    });
    this.client = client;
    client.subscribe(payload, {
      next: (result) => {
        if (result.data) this.onData(result.data);
        else if (result.errors && this.onErrors) this.onErrors(result.errors);
        else if (result.errors) this.restart(result.errors);
      },
      error: (err) => this.restart(err),
      complete: () => this.restart(null),
    });
  }

  restart(err) {
    if (this.client) this.client.dispose();
    this.client = null;
    if (this.closed) return;
    if (this.stop(err)) {
      this.closed = true;
      return;
    }
    this.onConn('reconnecting');
    this.timer = setTimeout(() => this.start(), backoff(this.attempt++, this.maxBackoff));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.client) this.client.dispose();
    this.client = null;
  }
}

// h builds an element: h('li', {class: 'x', onclick: f, dataset: {id}}, child, 'text', …).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}
