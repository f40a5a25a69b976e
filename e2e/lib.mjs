// Shared by the e2e tests: build and run the real callme binary on SQLite,
// talk GraphQL to it, and drive Debian's headless Chromium (playwright-core)
// with every request that would leave this machine blocked and recorded.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// setup makes a temporary directory (binary, database, browser profile), a
// directory for artifacts (screenshots, server logs; E2E_ARTIFACTS to choose
// it) and builds the binary.
export async function setup(name) {
  const work = await mkdtemp(path.join(tmpdir(), `callme-e2e-${name}-`));
  const artifacts = process.env.E2E_ARTIFACTS || (await mkdtemp(path.join(tmpdir(), `callme-e2e-${name}-artifacts-`)));
  await mkdir(artifacts, { recursive: true });
  console.log(`# artifacts (screenshots, server logs): ${artifacts}`);
  const bin = path.join(work, 'callme');
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: repo, stdio: 'inherit' });
  return { work, artifacts, bin, db: path.join(work, 'callme.db') };
}

// ---------------------------------------------------------------------------
// The server.

let logCount = 0;

// startServer runs the binary on addr (127.0.0.1:0 for any port) and resolves
// when it listens: { proc, base, port }.
export async function startServer({ bin, db, artifacts }, addr, extraArgs = []) {
  const logFile = path.join(artifacts, `server-${process.pid}-${++logCount}.log`);
  const log = createWriteStream(logFile);
  const proc = spawn(bin, ['-addr', addr, '-db', `sqlite:${db}`, '-log-level', 'debug', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stderr.pipe(log);
  let out = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s; log: ${logFile}`)), 30000);
    proc.on('exit', (code) => reject(new Error(`server exited (${code}) before listening; log: ${logFile}`)));
    proc.stdout.on('data', (chunk) => {
      log.write(chunk);
      out += chunk;
      const m = out.match(/msg="callme listening" url=(http:\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  proc.stdout.on('data', (chunk) => log.write(chunk));
  return { proc, base, port: Number(new URL(base).port) };
}

// freePort finds a port to run a server on, for flags that must name its
// address up front (-public-url).
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

export async function stopServer(s, signal = 'SIGTERM') {
  if (!s || s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = once(s.proc, 'exit');
  s.proc.kill(signal);
  await exited;
}

// gql sends a document as text (the test server accepts any document; the
// pages under test send hashes only). RATE_LIMITED is waited out.
export async function gql(base, query, variables = {}, token = '') {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(new URL('query', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = await res.json();
    if (body.errors && body.errors.length) {
      if (attempt < 20 && body.errors.some((e) => e.extensions && e.extensions.code === 'RATE_LIMITED')) {
        await sleep(300);
        continue;
      }
      throw new Error(`${query.trim().split('\n')[0]}: ${JSON.stringify(body.errors)}`);
    }
    return body.data;
  }
}

export const login = async (base, app, code) =>
  (await gql(base, 'mutation($i: LoginInput!) { login(input: $i) { token } }', { i: { app, code } })).login.token;

// ---------------------------------------------------------------------------
// The browser.

export const isLocal = (url) => {
  try {
    const u = new URL(url);
    if (!/^(https?|wss?):$/.test(u.protocol)) return true; // data:, blob:, about:
    return ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
};

// launch starts Chromium with a fresh profile. Every request to another host
// is aborted and listed in blocked; uncaught page errors and CSP violations
// are listed too, for a final test to assert empty.
export async function launch(work, { viewport = { width: 1920, height: 1080 }, initScripts = [] } = {}) {
  const context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport,
    locale: 'zh-CN',
  });
  // textDocuments: requests from pages that carried a document's text rather
  // than only its persisted hash (a server in trusted mode refuses them).
  const b = { context, blocked: [], pageErrors: [], cspViolations: [], textDocuments: [] };
  const sendsText = (body) => {
    try {
      const msg = JSON.parse(body);
      const p = msg && (msg.payload || msg);
      return typeof p.query === 'string' && p.query !== '';
    } catch {
      return false;
    }
  };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    b.blocked.push(url);
    return route.abort('blockedbyclient');
  });
  for (const s of initScripts) await context.addInitScript(s);
  for (const p of context.pages()) await p.close();
  b.newPage = async () => {
    const page = await context.newPage();
    page.on('pageerror', (err) => b.pageErrors.push(`${page.url()}: ${err.message}`));
    page.on('console', (msg) => {
      if (/Content.Security.Policy|Refused to/i.test(msg.text())) b.cspViolations.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('request', (req) => {
      if (req.method() === 'POST' && new URL(req.url()).pathname === '/query' && sendsText(req.postData() || '')) {
        b.textDocuments.push(`${page.url()}: ${req.postData()}`);
      }
    });
    page.on('websocket', (ws) => {
      if (!isLocal(ws.url())) b.blocked.push(`websocket ${ws.url()}`);
      ws.on('framesent', (f) => {
        if (typeof f.payload === 'string' && sendsText(f.payload)) b.textDocuments.push(`${page.url()} (ws): ${f.payload}`);
      });
    });
    return page;
  };
  return b;
}

// axe runs axe-core (from e2e/node_modules, injected as a script) on the page
// with the WCAG 2 A and AA rules and returns the serious and critical
// violations, each as "rule: target (summary)".
const require = createRequire(import.meta.url);
let axeSource = null;
export async function axe(page) {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // addScriptTag would be refused by the pages' CSP; evaluate is not.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] }),
  );
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')} — ${n.failureSummary.split('\n').slice(1).join(' ').trim()}`));
}

// screenshot saves a PNG into the artifacts and, when E2E_SCREENSHOTS names
// a directory (docs/screenshots/ for the README), there too under its name.
export async function screenshot(page, artifacts, name, options = {}) {
  const file = path.join(artifacts, `${name}.png`);
  const buf = await page.screenshot({ path: file, ...options });
  if (process.env.E2E_SCREENSHOTS) {
    await mkdir(process.env.E2E_SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(process.env.E2E_SCREENSHOTS, `${name}.png`), ...options });
  }
  return buf;
}
