// startServer builds callme (once per process) into a temporary directory and
// runs it on 127.0.0.1 with port 0 and SQLite in that directory. It resolves
// when /healthz answers, with the base URL read from the "callme listening" log
// line. stop() kills it; so does the exit of the test process.
//
// The server runs in trusted mode (-documents trusted, the production default):
// only the kit's documents run, except for admins, as they would for real
// mini-programs. gql() sends the kit's documents by hash.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let built = null; // { dir, bin }

const require = createRequire(import.meta.url);
export const operations = require('../miniprogram/operations.js');
const hashes = require('../miniprogram/hashes.js');
const hashOf = new Map(Object.keys(operations).map((name) => [operations[name], hashes[name]]));

function build() {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'callme-clients-'));
  const bin = join(dir, 'callme');
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
  built = { dir, bin };
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return built;
}

export async function startServer({ timeoutMs = 60_000, documents = 'trusted' } = {}) {
  const { dir, bin } = build();
  const db = join(mkdtempSync(join(dir, 'db-')), 'callme.db');
  const env = { ...process.env };
  // The embedded defaults (dev login on, admin "admin"), but for -documents.
  for (const k of Object.keys(env)) if (k.startsWith('CALLME_')) delete env[k];
  const proc = spawn(bin, ['-addr', '127.0.0.1:0', '-db', `sqlite:${db}`, '-documents', documents], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.on('exit', kill);
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`callme did not log its URL within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    const onData = (chunk) => {
      log += chunk;
      const m = /msg="callme listening" url=(http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/+$/, ''));
      }
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`callme exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {}
    if (i > 100) throw new Error(`callme at ${url} not healthy:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(kill, 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

// gql posts one GraphQL operation with fetch (for setting up test data outside
// the kit) and throws on errors, with .code = extensions.code. The kit's
// documents go by their persisted-query hash alone; others as text (which a
// trusted server runs for admins only).
export async function gql(url, query, variables = {}, token = '') {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const hash = hashOf.get(query);
  const req = hash ? { variables, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } } : { query, variables };
  const res = await fetch(`${url}/query`, { method: 'POST', headers, body: JSON.stringify(req) });
  const body = await res.json();
  if (body.errors?.length) {
    const err = new Error(`${body.errors[0].message} (${JSON.stringify(query.slice(0, 60))})`);
    err.code = body.errors[0].extensions?.code;
    err.errors = body.errors;
    throw err;
  }
  return body.data;
}

export async function devLogin(url, app, openid) {
  const d = await gql(url, operations.Login, { input: { app, code: `dev:${openid}` } });
  return d.login.token;
}

// createStall: the admin creates a paid, closed stall nobody has claimed yet
// (free text: admins may). Returns { sellerId, inviteCode }.
export async function createStall(url, { name = 'Noodles', prefix = 'A' } = {}) {
  const admin = await devLogin(url, 'SELLER', 'admin');
  const created = await gql(
    url,
    'mutation($i: CreateSellerInput!) { createSeller(input: $i) { seller { id } inviteCode } }',
    { i: { name, prefix, paidUntil: '2030-01-01T00:00:00Z' } },
    admin,
  );
  return { sellerId: created.createSeller.seller.id, inviteCode: created.createSeller.inviteCode };
}

// setUpStall: createStall, then its owner claims it through the SELLER app and
// opens it (the kit's documents). Returns { sellerId, ownerToken }.
export async function setUpStall(url, { name = 'Noodles', prefix = 'A', owner = 'owner' } = {}) {
  const { sellerId, inviteCode } = await createStall(url, { name, prefix });
  const ownerToken = await devLogin(url, 'SELLER', owner);
  await gql(url, operations.ClaimSeller, { inviteCode }, ownerToken);
  await gql(url, operations.SetOpen, { sellerId, open: true }, ownerToken);
  return { sellerId, ownerToken };
}
