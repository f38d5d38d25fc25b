// The web UI with access control off: no sign-in, a banner saying the registry is open, and
// the pages work for anyone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth } from './lib/berth.mjs';
import { checkAxe, launch, newUser, setTheme, shoot, visit } from './lib/browser.mjs';
import { Client } from './lib/registry.mjs';

let berth;
let browser;

before(async () => {
  berth = await startBerth({ accessControl: false });
  const anyone = new Client(berth.url);
  await anyone.pushImage('open/app', 'v1', { layers: 1 });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await berth?.stop();
});

test('open mode: no sign-in, the banner, the pages work', async () => {
  const user = await newUser(browser, berth.url);
  const view = await visit(user, '/');
  console.log(`# page view projects (open mode): ${view.requests.length} API requests, ${view.ms} ms`);
  const page = user.page;
  await page.getByRole('note').filter({ hasText: /Access control is off/ }).waitFor();
  assert.equal(await page.getByLabel('Username').count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  await page.getByRole('link', { name: 'open', exact: true }).click();
  await page.getByRole('link', { name: 'open/app' }).click();
  await page.getByRole('link', { name: 'v1' }).waitFor();
  for (const theme of ['light', 'dark']) {
    await setTheme(page, theme);
    await checkAxe(page, `open mode (${theme})`);
    await shoot(page, `open-mode-${theme}`);
  }
  assert.deepEqual(user.problems, []);
  await user.context.close();
});
