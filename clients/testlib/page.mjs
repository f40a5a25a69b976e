// loadPage runs an example page's index.js the way the mini-program runtime
// does (Page(), getApp(), the wx global, require relative to the file) and
// returns the page instance, with a setData that keeps this.data up to date.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';

export function loadPage(file, { wx, app }) {
  let def = null;
  const sandbox = {
    Page: (d) => (def = d),
    getApp: () => app,
    wx,
    require: createRequire(file),
    console,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    Promise,
  };
  vm.runInNewContext(readFileSync(file, 'utf8'), sandbox, { filename: file });
  const page = Object.create(def);
  page.data = JSON.parse(JSON.stringify(def.data || {}));
  page.setData = function (patch) {
    for (const [path, value] of Object.entries(patch)) {
      const keys = path.split('.');
      let obj = this.data;
      for (const k of keys.slice(0, -1)) obj = obj[k];
      obj[keys.at(-1)] = value;
    }
  };
  return page;
}
