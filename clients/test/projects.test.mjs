// The example mini-programs are complete projects for WeChat's developer
// tools: every page of app.json has its four files and is a Component(),
// every event handler a template binds exists, every operation a page uses
// is one of the kit's, and each project's callme/ is the kit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { exampleProjects, kitFiles } from '../scripts/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const kit = join(here, '../miniprogram');
const operations = createRequire(import.meta.url)('../miniprogram/operations.js');
const read = (...p) => readFileSync(join(...p), 'utf8');
const json = (...p) => JSON.parse(read(...p));

for (const project of exampleProjects) {
  const root = join(kit, 'examples', project);

  test(`${project}: project.config.json, app.json and sitemap.json`, () => {
    const config = json(root, 'project.config.json');
    assert.equal(config.compileType, 'miniprogram');
    assert.equal(config.appid, 'touristappid', 'a placeholder appid: each deployment sets its own');
    const appJson = json(root, 'app.json');
    assert.ok(appJson.pages.length >= 2);
    for (const tab of appJson.tabBar?.list || []) assert.ok(appJson.pages.includes(tab.pagePath), tab.pagePath);
    assert.ok(json(root, appJson.sitemapLocation).rules.length);
    for (const f of ['app.js', 'app.wxss', 'config.js']) assert.ok(existsSync(join(root, f)), f);
    assert.match(read(root, 'app.js'), /callme\.createClient\(\{ url: config\.url, app: '(CUSTOMER|SELLER)', devOpenid: config\.devOpenid \}\)/);
  });

  test(`${project}: callme/ is the kit`, () => {
    for (const f of kitFiles) assert.ok(read(root, 'callme', f) === read(kit, f), `${project}/callme/${f} differs: npm run build --prefix clients`);
  });

  for (const page of json(root, 'app.json').pages) {
    test(`${project}: ${page}`, () => {
      for (const ext of ['js', 'json', 'wxml', 'wxss']) assert.ok(existsSync(join(root, `${page}.${ext}`)), `${page}.${ext}`);
      assert.deepEqual(json(root, `${page}.json`).usingComponents, {}, 'a Component() page declares usingComponents');
      const js = read(root, `${page}.js`);
      assert.match(js, /^Component\(\{$/m);
      assert.doesNotMatch(js, /\bPage\(/);
      // Handlers bound in the template are methods of the page.
      for (const [, handler] of read(root, `${page}.wxml`).matchAll(/\bbind:?\w+="(\w+)"/g)) {
        assert.match(js, new RegExp(`^ {4}${handler}: function`, 'm'), `${page}: no method ${handler}`);
      }
      for (const [, name] of js.matchAll(/\bops\.(\w+)/g)) assert.ok(operations[name], `${page}: no operation ${name} in the kit`);
    });
  }
}
