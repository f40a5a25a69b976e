// Builds the front-end bundles that the Go package callme/web embeds:
//
//   npm ci --prefix web && npm run --prefix web build   # writes web/assets/
//   npm run --prefix web check                          # fails if web/assets/ is stale
//
// Sources are in web/src/; web/assets/ is generated (committed, so that
// `go build` needs no Node). The output depends only on the sources and the
// exact versions in package-lock.json: building twice gives the same bytes.
import * as esbuild from 'esbuild';
import { mkdtemp, mkdir, readFile, readdir, rm, copyFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes('--check');
const assets = path.join(here, 'assets');
const out = check ? await mkdtemp(path.join(tmpdir(), 'callme-web-')) : assets;

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  charset: 'utf8',
  legalComments: 'eof',
  sourcemap: false,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

async function build() {
  for (const dir of ['board', 'console', 'ticket', 'playground']) {
    if (!check) await rm(path.join(out, dir), { recursive: true, force: true });
    await mkdir(path.join(out, dir), { recursive: true });
  }

  // The board runs for weeks on TV browsers and tablets that are rarely
  // updated: aim low.
  await esbuild.build({
    ...common,
    entryPoints: ['src/board/board.js'],
    outfile: path.join(out, 'board/board.js'),
    format: 'iife',
    target: ['es2017', 'chrome61', 'safari14.1', 'firefox78'],
  });
  await esbuild.build({
    ...common,
    entryPoints: ['src/board/board.css'],
    outfile: path.join(out, 'board/board.css'),
    target: ['chrome61', 'safari14.1', 'firefox78'],
  });
  await copyFile(path.join(here, 'src/board/index.html'), path.join(out, 'board/index.html'));

  // The staff console (a counter's tablet) and the ticket page (students'
  // phones, including WeChat's built-in browser): a few years back.
  for (const page of ['console', 'ticket']) {
    const target = ['es2018', 'chrome70', 'safari14.1', 'firefox78'];
    await esbuild.build({
      ...common,
      entryPoints: [`src/${page}/${page}.js`],
      outfile: path.join(out, `${page}/${page}.js`),
      format: 'iife',
      target,
    });
    await esbuild.build({
      ...common,
      entryPoints: [`src/${page}/${page}.css`],
      outfile: path.join(out, `${page}/${page}.css`),
      target: target.slice(1),
    });
    await copyFile(path.join(here, `src/${page}/index.html`), path.join(out, `${page}/index.html`));
  }

  // GraphiQL is for developers' browsers. Its CSS comes out next to the JS
  // (playground.css).
  await esbuild.build({
    ...common,
    entryPoints: ['src/playground/playground.jsx'],
    outfile: path.join(out, 'playground/playground.js'),
    format: 'iife',
    jsx: 'automatic',
    target: ['es2020', 'chrome90', 'safari15', 'firefox90'],
  });
  await copyFile(path.join(here, 'src/playground/index.html'), path.join(out, 'playground/index.html'));
}

async function files(dir, base = dir) {
  const found = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) found.push(...(await files(p, base)));
    else found.push(path.relative(base, p));
  }
  return found.sort();
}

try {
  await build();
  const built = await files(out);
  if (!check) {
    for (const f of built) console.log(`  web/assets/${f}  ${(await stat(path.join(out, f))).size} bytes`);
  } else {
    const committed = await files(assets).catch(() => []);
    const problems = [];
    for (const f of new Set([...built, ...committed])) {
      if (!built.includes(f)) problems.push(`web/assets/${f}: not produced by the build (remove it)`);
      else if (!committed.includes(f)) problems.push(`web/assets/${f}: missing (run the build and commit it)`);
      else {
        const [a, b] = await Promise.all([readFile(path.join(out, f)), readFile(path.join(assets, f))]);
        if (!a.equals(b)) problems.push(`web/assets/${f}: differs from a fresh build (${b.length} committed, ${a.length} built)`);
      }
    }
    if (problems.length) {
      console.error('web bundles are out of date:\n  ' + problems.join('\n  '));
      console.error('hint: npm ci --prefix web && npm run --prefix web build, then commit web/assets/');
      process.exitCode = 1;
    } else {
      console.log(`web bundles: up to date (${built.length} files match a fresh build)`);
    }
  }
} finally {
  if (check) await rm(out, { recursive: true, force: true });
}
