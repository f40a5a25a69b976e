// GraphQL-over-HTTP spec audit (https://graphql.github.io/graphql-over-http/)
// using the reference suite from graphql-http (pinned in package-lock.json).
//
//   npm ci --prefix .ci/audit
//   node .ci/audit/audit.mjs http://127.0.0.1:8080/query
//
// Prints one line per audit:
//   PASS <id> <name>   the audit passed
//   FAIL <id> <name>   a MUST audit failed (or the audit could not run at all)
//   WARN <id> <name>   a SHOULD (or MAY) audit was not met; informational only
// followed by the reason and a short look at the response for every non-PASS.
// The summary line counts only MUST audits; the exit status is 1 if any MUST
// audit failed, 2 on bad usage.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql endpoint URL, e.g. http://127.0.0.1:8080/query>');
  process.exit(2);
}

const TIMEOUT_MS = Number(process.env.AUDIT_TIMEOUT_MS || 15000);

// Every request gets a timeout, so a hung server fails the audit instead of CI.
const fetchFn = (input, init = {}) =>
  fetch(input, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });

const level = (name) => name.split(' ', 1)[0]; // MUST | SHOULD | MAY

// describe returns a one-line summary of a failing audit's response and
// releases its body (graphql-http hands back unconsumed responses).
async function describe(res) {
  if (!res) return '';
  let out = `HTTP ${res.status}, content-type: ${res.headers.get('content-type') ?? '(none)'}`;
  try {
    if (!res.bodyUsed && res.body) {
      let text = await res.text();
      text = text.replace(/\s+/g, ' ').trim();
      if (text.length > 300) text = text.slice(0, 300) + '…';
      out += `, body: ${text || '(empty)'}`;
    }
  } catch (err) {
    out += `, body unreadable: ${err?.message ?? err}`;
  } finally {
    if (!res.bodyUsed && res.body) await res.body.cancel().catch(() => {});
  }
  return out;
}

const counts = {
  MUST: { ok: 0, bad: 0 },
  SHOULD: { ok: 0, bad: 0 },
  MAY: { ok: 0, bad: 0 },
};
let fatal = 0; // audits that threw instead of returning a result
let fatalNonMust = 0;

for (const audit of serverAudits({ url, fetchFn })) {
  const lvl = level(audit.name);
  const c = counts[lvl] ?? (counts[lvl] = { ok: 0, bad: 0 });
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    // graphql-http throws (rather than returning a result) only on fatal
    // problems, e.g. the server is unreachable: always a failure.
    fatal++;
    if (lvl === 'MUST') c.bad++;
    else fatalNonMust++;
    console.log(`FAIL ${audit.id} ${audit.name}`);
    console.log(`     error: ${err?.message ?? err}${err?.cause ? ` (${err.cause.message ?? err.cause})` : ''}`);
    continue;
  }
  if (result.status === 'ok') {
    c.ok++;
    console.log(`PASS ${audit.id} ${audit.name}`);
    continue;
  }
  c.bad++;
  const tag = result.status === 'error' ? 'FAIL' : 'WARN';
  console.log(`${tag} ${audit.id} ${audit.name}`);
  console.log(`     reason: ${result.reason}`);
  const detail = await describe(result.response);
  if (detail) console.log(`     got: ${detail}`);
}

// A MUST audit that failed, or any audit that could not run, fails the audit.
const failed = counts.MUST.bad + fatalNonMust;

console.log('');
console.log(
  `audit: ${counts.MUST.ok} passed, ${failed} failed (MUST)` +
    ` | SHOULD: ${counts.SHOULD.ok} ok, ${counts.SHOULD.bad} warn` +
    ` | MAY: ${counts.MAY.ok} ok, ${counts.MAY.bad} not met` +
    (fatal ? ` | ${fatal} could not run (counted as failed)` : ''),
);
process.exit(failed > 0 ? 1 : 0);
