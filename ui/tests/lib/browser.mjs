// Debian's chromium driven by playwright-core (nothing downloads a browser), with the checks
// every page gets: axe-core finds no serious or critical violation, a screenshot per theme
// lands in the build folder, and the requests each page view makes are counted.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.BERTH_UI_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

const screenshots = process.env.BERTH_UI_SCREENSHOTS;
if (screenshots) {
  mkdirSync(screenshots, { recursive: true });
}

// A browser context for one user: its own cookies, a theme, and a log of the API requests its
// pages make, and of any error the page logs (a CSP refusal shows up there).
export async function newUser(browser, base, { theme = 'light', viewport } = {}) {
  const context = await browser.newContext({
    baseURL: base,
    colorScheme: theme,
    viewport: viewport ?? { width: 1280, height: 860 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/v2/')) {
      requests.push(`${request.method()} ${url.pathname}${url.search}`);
    }
  });
  page.on('console', (message) => {
    // A refused request (401, 403) is logged by the browser as a failed resource; the tests
    // check those themselves. Anything else that is an error is a problem.
    if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) {
      problems.push(message.text());
    }
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  return { context, page, requests, problems };
}

// Opens a hash route and waits until no "Loading…" is left; returns the API requests it made
// and how long it took.
export async function visit(user, route) {
  user.requests.length = 0;
  // A full load each time (not a hash change), so that the count and the time are those of
  // opening the page: the session, then the page's own requests.
  await user.page.goto('about:blank');
  user.requests.length = 0;
  const started = performance.now();
  await user.page.goto(route);
  await shown(user.page);
  const ms = Math.round(performance.now() - started);
  await settle(user.page);
  return { requests: [...user.requests], ms };
}

// The page is shown: a heading, and nothing still loading.
async function shown(page) {
  await page.waitForFunction(
    () => document.querySelector('main h1') && ![...document.querySelectorAll('main [role="status"]')].some((e) => e.textContent.includes('Loading')),
  );
}

export async function settle(page) {
  await page.waitForLoadState('networkidle');
  await shown(page);
}

// colorsOnly: the page was checked in full in the other theme, and a theme changes only colours,
// so only the colour rules run again (axe-core takes seconds on a busy machine).
export async function checkAxe(page, what, { colorsOnly = false } = {}) {
  const builder = new AxeBuilder({ page });
  if (colorsOnly) {
    builder.withRules(['color-contrast', 'link-in-text-block']);
  }
  const results = await builder.analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`),
    [],
    `axe-core violations on ${what}`,
  );
}

export async function shoot(page, name) {
  if (screenshots) {
    await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  }
}

// Switches the page's theme with the switch in the header, as a user would.
export async function setTheme(page, theme) {
  const current = await page.evaluate(() => document.documentElement.dataset.theme);
  if (current !== theme) {
    await page.getByRole('button', { name: /Switch to (light|dark) theme/ }).click();
  }
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
}

export async function signIn(page, username, password) {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
