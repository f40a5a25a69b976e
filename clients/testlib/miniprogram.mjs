// The example mini-programs (miniprogram/examples/{customer,seller}) in
// miniprogram-simulate, WeChat's component test tool: it compiles each page's
// WXML with WeChat's own compiler (wcc, shipped in miniprogram-compiler),
// runs its Component() in j-component/exparser, the mini-program component
// system, and renders it into a jsdom document. The page's `wx` is a fake wx
// (fakewx.mjs) whose request and connectSocket are real HTTP and WebSocket,
// so the pages run against a real callme.
//
// WeChat gives a mini-program one global wx and one getApp(): so does this,
// one app per process (node --test runs each test file in its own process).
//
//   const app = launchApp('customer', { wx, url })   // app.js, onLaunch, onShow
//   const page = app.open('pages/ticket/index', { id }) // render, onLoad, onShow
//   page.text(), page.textOf('.status'), page.data, page.tap('.call-next'), page.tapIn('.ticket', 'A001', '.recall'),
//   page.input('.note', '不要辣'), page.close()       // onUnload
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';

const require = createRequire(import.meta.url);
export const examples = join(dirname(fileURLToPath(import.meta.url)), '..', 'miniprogram', 'examples');

let simulate = null;
let current = null; // the launched app

// miniprogram-simulate wants a browser: window, document and the DOM event
// classes it constructs (Node's own Event is not jsdom's).
function setUp() {
  if (simulate) return simulate;
  const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
  globalThis.window = dom.window;
  globalThis.document = dom.window.document;
  for (const k of ['Event', 'CustomEvent', 'TouchEvent', 'HTMLElement', 'Element', 'Node']) {
    Object.defineProperty(globalThis, k, { value: dom.window[k], configurable: true, writable: true });
  }
  simulate = require('miniprogram-simulate');
  // The runtime's other globals, resolved at call time against the app.
  globalThis.getApp = () => current && current.instance;
  globalThis.getCurrentPages = () => (current ? current.pages.slice() : []);
  return simulate;
}

// launchApp loads a project's app.js the way the runtime does, with its
// config.url pointing at the test server (and the other fields of config, e.g.
// devOpenid, as given), and runs onLaunch and onShow.
// wx replaces the global wx: it is not merged with miniprogram-simulate's
// stubs, so a page calling an API the fake does not provide fails.
export function launchApp(project, { wx, url, config = {} }) {
  setUp();
  if (current) current.close();
  const root = join(examples, project);
  globalThis.wx = wx;
  let def = null;
  globalThis.App = (d) => {
    def = d;
  };
  Object.assign(require(join(root, 'config.js')), { devOpenid: '' }, config, { url });
  const appFile = require.resolve(join(root, 'app.js'));
  delete require.cache[appFile];
  require(appFile);
  if (!def) throw new Error(`${project}/app.js did not call App()`);
  const app = { root, instance: def, pages: [], wx };
  current = app;
  def.onLaunch?.({ path: '', query: {}, scene: 1001 });
  def.onShow?.({ path: '', query: {}, scene: 1001 });
  app.open = (route, query = {}) => openPage(app, route, query);
  app.close = () => {
    for (const p of app.pages.slice()) p.close();
    def.callme?.close();
    if (current === app) current = null;
  };
  return app;
}

function openPage(app, route, query) {
  const id = simulate.load(join(app.root, route), { rootPath: app.root });
  const comp = simulate.render(id);
  comp.attach(document.createElement('parent-wrapper'));
  const inst = comp.instance;
  const page = {
    route,
    comp,
    instance: inst,
    get data() {
      return comp.data;
    },
    text: () => comp.dom.textContent.replace(/\s+/g, ' ').trim(),
    // The text of the first node matching selector ('' when there is none).
    textOf(selector) {
      const c = comp.querySelector(selector);
      return c ? c.dom.textContent.replace(/\s+/g, ' ').trim() : '';
    },
    // One node by selector (the first, or the one whose text includes `text`).
    find(selector, text) {
      const all = comp.querySelectorAll(selector);
      const hit = text === undefined ? all[0] : all.find((c) => c.dom.textContent.includes(text));
      if (!hit) throw new Error(`${route}: no ${selector}${text === undefined ? '' : ` with "${text}"`} in: ${page.text()}`);
      return hit;
    },
    has(selector, text) {
      return comp.querySelectorAll(selector).some((c) => text === undefined || c.dom.textContent.includes(text));
    },
    tap(selector, text) {
      page.find(selector, text).dispatchEvent('tap');
    },
    // Tap `button` inside the `row` (e.g. a queue row) whose text includes text.
    tapIn(row, text, button) {
      const r = page.find(row, text);
      const b = comp.querySelectorAll(button).find((c) => r.dom.contains(c.dom));
      if (!b) throw new Error(`${route}: no ${button} in the ${row} with "${text}": ${r.dom.textContent}`);
      b.dispatchEvent('tap');
    },
    input(selector, value) {
      page.find(selector).dispatchEvent('input', { detail: { value, cursor: value.length } });
    },
    change(selector, value) {
      page.find(selector).dispatchEvent('change', { detail: { value } });
    },
    close() {
      const i = app.pages.indexOf(page);
      if (i < 0) return;
      app.pages.splice(i, 1);
      inst.onUnload?.();
      comp.detach();
    },
  };
  app.pages.push(page);
  inst.onLoad?.(query);
  inst.onShow?.();
  return page;
}

// The route and query of a wx.navigateTo/redirectTo url. Like the runtime,
// the query's values reach onLoad as written, still URI-encoded.
export function parseUrl(url) {
  const [path, qs = ''] = url.split('?');
  const query = {};
  for (const pair of qs.split('&').filter(Boolean)) {
    const i = pair.indexOf('=');
    query[i < 0 ? pair : pair.slice(0, i)] = i < 0 ? '' : pair.slice(i + 1);
  }
  return { route: path.replace(/^\//, ''), query };
}
