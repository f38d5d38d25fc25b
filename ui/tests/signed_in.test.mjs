// The web UI against a real berth with access control on, signed in as an administrator and
// as each project role: every page and action, sessions, CSRF, keyboard use, axe-core in both
// themes, screenshots, and the requests and time each page view costs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminPassword, startBerth } from './lib/berth.mjs';
import { checkAxe, launch, newUser, setTheme, settle, shoot, signIn, visit } from './lib/browser.mjs';
import { fill, password, users } from './lib/fixture.mjs';
import { Client } from './lib/registry.mjs';

let berth;
let browser;
let data;
let admin; // the administrator's browser context
const views = []; // {page, role, requests, ms}

// Opens route as user, checks it in both themes (axe-core, screenshot), and records the API
// requests and the time of the page view.
async function review(user, role, route, name) {
  const view = await visit(user, route);
  views.push({ page: name, role, route, requests: view.requests.length, list: view.requests, ms: view.ms });
  for (const theme of ['light', 'dark']) {
    await setTheme(user.page, theme);
    await checkAxe(user.page, `${name} (${theme})`, { colorsOnly: theme === 'dark' });
    await shoot(user.page, `${name}-${theme}`);
  }
  await setTheme(user.page, 'light');
  return view;
}

async function as(role) {
  const user = await newUser(browser, berth.url);
  const name = role === 'admin' ? 'admin' : users[role];
  await signIn(user.page, name, role === 'admin' ? adminPassword : password(name));
  return user;
}

before(async () => {
  // No grace for unreferenced blobs: the garbage collection test sees what the deletions freed.
  berth = await startBerth({ accessControl: true, env: { BERTH_GC_BLOB_GRACE: '0s' } });
  data = await fill(berth);
  browser = await launch();
});

after(async () => {
  const out = process.env.BERTH_UI_SCREENSHOTS;
  if (out && views.length > 0) {
    writeFileSync(join(out, 'page-views.json'), JSON.stringify(views, null, 2));
  }
  for (const v of views) {
    console.log(`# page view ${v.page} as ${v.role}: ${v.requests} API requests, ${v.ms} ms`);
  }
  await browser?.close();
  await berth?.stop();
});

describe('signed out', () => {
  test('the sign-in form has labelled fields and refuses a wrong password', async () => {
    const user = await newUser(browser, berth.url);
    await user.page.goto('/projects/team');
    await user.page.getByLabel('Username').waitFor();
    for (const theme of ['light', 'dark']) {
      await setTheme(user.page, theme);
      await checkAxe(user.page, `sign-in (${theme})`);
      await shoot(user.page, `sign-in-${theme}`);
    }
    await user.page.getByLabel('Username').fill('admin');
    await user.page.getByLabel('Password').fill('wrong-password');
    await user.page.getByRole('button', { name: 'Sign in' }).click();
    await user.page.getByRole('alert').filter({ hasText: /UNAUTHORIZED/ }).waitFor();
    // The right one opens the page that was asked for.
    await user.page.getByLabel('Password').fill(adminPassword);
    await user.page.getByRole('button', { name: 'Sign in' }).click();
    await user.page.getByRole('heading', { name: /^team/ }).waitFor();
    assert.deepEqual(user.problems, []);
    await user.context.close();
  });
});

describe('as an administrator', () => {
  before(async () => {
    admin = await as('admin');
  });

  test('projects: every project with its kind, repositories and storage', async () => {
    const view = await review(admin, 'admin', '/', 'projects');
    const row = admin.page.getByRole('row', { name: /^team/ });
    await row.waitFor();
    const cells = await row.getByRole('cell').allTextContents();
    assert.equal(cells[0], 'private');
    assert.equal(cells[1], 'hosted');
    assert.equal(cells[2], '4', `team holds team/web, team/tools/cli, team/many, team/old: ${cells}`);
    assert.ok(view.requests.length <= 2, `projects page made ${view.requests}`);
  });

  test('projects: create one, then delete it with what it deletes spelled out', async () => {
    const page = admin.page;
    await visit(admin, '/');
    await page.getByText('New project').click();
    await page.getByLabel('Project name').fill('made-in-ui');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('link', { name: 'made-in-ui' }).waitFor();

    await page.getByRole('button', { name: 'Delete project scratch' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete project scratch?' });
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /1 repositories/);
    await dialog.getByRole('button', { name: 'Delete project' }).click();
    await page.getByRole('link', { name: 'scratch' }).waitFor({ state: 'detached' });
    await data.admin.api('GET', 'projects/scratch', undefined, 404);
  });

  test('project: repositories filtered and sorted by the server', async () => {
    const view = await review(admin, 'admin', '/projects/team', 'project-repositories');
    const page = admin.page;
    const names = () => page.locator('table tbody th').allTextContents();
    assert.deepEqual(await names(), ['team/many', 'team/old', 'team/tools/cli', 'team/web']);
    assert.ok(view.requests.length <= 3, `project page made ${view.requests}`);
    await page.getByRole('button', { name: 'Name' }).click(); // now descending
    await page.waitForFunction(() => document.querySelector('table tbody th')?.textContent === 'team/web');
    await page.getByLabel('Filter repositories').fill('tools');
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length === 1);
    assert.deepEqual(await names(), ['team/tools/cli']);
    assert.match(page.url(), /q=tools/);
  });

  test('project: members added, given another role and removed', async () => {
    await review(admin, 'admin', '/projects/team?tab=members', 'project-members');
    const page = admin.page;
    assert.equal(await page.getByLabel(`Role of ${users.reader}`).inputValue(), 'reader');
    await page.getByLabel('Username').fill('max');
    await page.getByLabel('Role', { exact: true }).selectOption('maintainer');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByLabel('Role of max').waitFor();
    assert.equal(await page.getByLabel('Role of max').inputValue(), 'maintainer');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/members/max') && r.request().method() === 'PUT'),
      page.getByLabel('Role of max').selectOption('writer'),
    ]);
    const members = await data.admin.api('GET', 'projects/team/members');
    assert.equal(members.find((m) => m.user === 'max')?.role, 'writer');
    await page.getByRole('button', { name: 'Remove max' }).click();
    await page.getByLabel('Role of max').waitFor({ state: 'detached' });
  });

  test('project: a robot is created and its token shown once', async () => {
    await review(admin, 'admin', '/projects/team?tab=robots', 'project-robots');
    const page = admin.page;
    await page.getByLabel('Robot name').fill('ci');
    await page.getByLabel('Robot role').selectOption('writer');
    await page.getByRole('button', { name: 'Create robot' }).click();
    const token = await page.locator('.token code.secret').textContent();
    assert.match(token, /^brb_/);
    // The token works for the registry.
    const robot = new Client(berth.url, 'robot$ci', token);
    const tags = await robot.fetch('GET', '/v2/team/web/tags/list');
    assert.equal(tags.status, 200);
    await page.getByRole('button', { name: 'Copy the robot token' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    await page.getByRole('button', { name: 'Done, hide the token' }).click();
    await visit(admin, '/projects/team?tab=robots');
    assert.equal(await page.getByText(token).count(), 0);
    await page.getByRole('rowheader', { name: /robot\$ci/ }).waitFor();
  });

  test('project: settings (quota, immutable tags), usage, retention preview and run', async () => {
    await review(admin, 'admin', '/projects/ret?tab=settings', 'project-settings');
    const page = admin.page;
    await page.getByLabel('Storage quota in GB (empty: no limit)').fill('2');
    await page.getByLabel('Immutable tag patterns, one per line').fill('r1');
    await page.getByRole('button', { name: 'Save quota and immutable tags' }).click();
    await page.getByText('Saved.').waitFor();
    const settings = await data.admin.api('GET', 'projects/ret/settings');
    assert.deepEqual(settings.quota, { bytes: 2e9, repositories: null });
    assert.deepEqual(settings.immutable_tags, ['r1']);

    // Keep the last 1: r3 stays, r1 is immutable, so r2 goes, and the preview says so live.
    await page.getByLabel('Keep the last N tags per repository').fill('1');
    const preview = page.locator('.preview');
    await preview.filter({ hasText: /1 tags and/ }).waitFor();
    assert.match(await preview.textContent(), /ret\/app:r2/);
    await page.getByRole('button', { name: 'Save and run now' }).click();
    await page.getByText(/Retention ran: deleted 1 tags/).waitFor();
    const tags = await (await data.admin.fetch('GET', '/v2/ret/app/tags/list')).json();
    assert.deepEqual(tags.tags.sort(), ['r1', 'r3']);
    const kept = await data.admin.api('GET', 'projects/ret/settings');
    assert.equal(kept.retention.rules.keep_last, 1);
    assert.deepEqual(kept.quota, { bytes: 2e9, repositories: null }, 'saving the retention kept the quota');
  });

  test('repository: tags paged and sorted by the server, digests copied, pull commands', async () => {
    const view = await review(admin, 'admin', '/repositories/team/many', 'repository');
    const page = admin.page;
    assert.ok(view.requests.length <= 3, `repository page made ${view.requests}`);
    assert.equal(await page.locator('table.tags tbody tr').count(), 50);
    await page.getByText('1–50 of 60').waitFor();
    await page.getByRole('button', { name: 'Tag' }).click();
    await page.waitForFunction(() => document.querySelector('table.tags tbody th')?.textContent?.startsWith('build-1'));
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('51–60 of 60').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('table.tags tbody tr').length === 10);
    // Each page is one request: never one per tag.
    assert.ok(admin.requests.every((r) => !r.includes('/manifests/')), admin.requests.join('\n'));

    await page.locator('table.tags tbody tr').first().getByRole('button', { name: /Copy the digest of/ }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), data.build.digest);

    for (const [client, pattern] of [
      ['docker', /^docker pull 127\.0\.0\.1:\d+\/team\/many:build-\d+$/],
      ['podman', /^podman pull --tls-verify=false 127\.0\.0\.1:\d+\/team\/many:/],
      ['skopeo', /^skopeo copy --src-tls-verify=false docker:\/\/127\.0\.0\.1:\d+\/team\/many:/],
      ['oras', /^oras pull --plain-http 127\.0\.0\.1:\d+\/team\/many:/],
    ]) {
      await page.getByRole('button', { name: client, exact: true }).click();
      await page.getByRole('button', { name: `Copy the ${client} pull command` }).click();
      assert.match(await page.evaluate(() => navigator.clipboard.readText()), pattern);
    }
  });

  test('repository: multi-select delete names what it deletes', async () => {
    const page = admin.page;
    await visit(admin, '/repositories/team/many?sort=name&order=asc');
    await page.getByLabel('Select tag build-1', { exact: true }).check();
    await page.getByLabel('Select tag build-10', { exact: true }).check();
    await page.getByRole('button', { name: 'Delete selected (2)' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete 2 tags?' });
    await dialog.waitFor();
    const names = await dialog.getByRole('listitem').allTextContents();
    assert.deepEqual(names, ['team/many:build-1', 'team/many:build-10']);
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Deleted 2 tags and 0 manifests.').waitFor();
    const tags = (await (await data.admin.fetch('GET', '/v2/team/many/tags/list')).json()).tags;
    assert.equal(tags.length, 58);
    assert.ok(!tags.includes('build-1') && !tags.includes('build-10'));

    // Manifests: every tag on them goes.
    await visit(admin, '/repositories/team/old');
    await page.getByLabel('Select tag old-1', { exact: true }).check();
    await page.getByRole('button', { name: 'Delete selected (1)' }).click();
    const second = page.getByRole('dialog', { name: /Delete/ });
    await second.getByLabel(/The manifests/).check();
    assert.match((await second.getByRole('listitem').allTextContents()).join(), /team\/old@sha256:[0-9a-f]{64} \(old-1\)/);
    await second.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Deleted 0 tags and 1 manifests.').waitFor();
    const left = (await (await data.admin.fetch('GET', '/v2/team/old/tags/list')).json()).tags;
    assert.deepEqual(left, ['old-2']);
  });

  test('image: an index shows its platforms', async () => {
    const view = await review(admin, 'admin', '/repositories/team/web/-/v1', 'image-index');
    assert.ok(view.requests.length <= 2, `image page made ${view.requests}`);
    const page = admin.page;
    const platforms = await page.locator('table tbody th').allTextContents();
    assert.deepEqual(platforms.sort(), ['linux/amd64', 'linux/arm64/v8']);
    await page.getByRole('link', { name: /^[0-9a-f]{12}$/ }).first().click();
    await page.getByRole('heading', { name: 'Layers and history' }).waitFor();
  });

  test('image: layers with history, the config, labels and referrers by type', async () => {
    const view = await review(admin, 'admin', '/repositories/team/tools/cli/-/v1', 'image');
    assert.ok(view.requests.length <= 2, `image page made ${view.requests}`);
    const page = admin.page;
    const text = await page.locator('main').textContent();
    for (const expected of ['/bin/sh -c make step-1', '/bin/sh -c make step-3', 'berth-cli', 'APP_MODE=production', '["/app/server"]', '2026-12-01T10:00:09Z']) {
      assert.ok(text.includes(expected), `image page lacks ${expected}`);
    }
    assert.equal(await page.locator('table.layers tbody tr').count(), 4, 'one ENV entry and three layers');
    await page.getByRole('heading', { name: 'application/vnd.dev.cosign.artifact.sig.v1+json' }).waitFor();
    await page.getByRole('heading', { name: 'application/spdx+json' }).waitFor();
    await page.getByText(/org.example.sbom.format=spdx/).waitFor();
    // The signature's page links back to what it signs.
    await page.locator('ul.referrers a').first().click();
    await page.getByText('Refers to').waitFor();
  });

  test('search finds repositories and tags', async () => {
    const view = await review(admin, 'admin', '/search?q=cli', 'search');
    assert.ok(view.requests.length <= 2, `search made ${view.requests}`);
    const page = admin.page;
    await page.getByRole('link', { name: 'team/tools/cli', exact: true }).waitFor();
    await page.getByLabel('Repository or tag').fill('build-5');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: 'team/many:build-5', exact: true }).waitFor();
  });

  test('administration: users created, made admin, password reset, unlocked', async () => {
    await review(admin, 'admin', '/admin', 'admin-users');
    const page = admin.page;
    await page.getByLabel('New username').fill('nina');
    await page.getByLabel('Initial password').fill('nina-Password-1');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('User nina created.').waitFor();
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/users/nina') && r.request().method() === 'PATCH'),
      page.getByLabel('nina is an administrator').check(),
    ]);
    assert.equal((await data.admin.api('GET', 'users')).find((u) => u.name === 'nina').admin, true);
    await page.getByRole('button', { name: 'Reset password of nina' }).click();
    await page.getByLabel('New password for nina').fill('nina-Password-2');
    await page.getByRole('button', { name: 'Set password', exact: true }).click();
    await page.getByText(/The password of nina was reset/).waitFor();
    assert.equal((await new Client(berth.url, 'nina', 'nina-Password-2').fetch('GET', '/api/v1/me')).status, 200);
    await page.getByRole('button', { name: 'Unlock nina' }).click();
    await page.getByText('nina is unlocked.').waitFor();
  });

  test('administration: all robots, garbage collection, proxies, system', async () => {
    await review(admin, 'admin', '/admin?tab=robots', 'admin-robots');
    await admin.page.getByRole('rowheader', { name: /robot\$ci/ }).waitFor();
    await admin.page.getByRole('button', { name: 'Revoke ci' }).click();
    await admin.page.getByText('revoked').waitFor();

    await review(admin, 'admin', '/admin?tab=gc', 'admin-gc');
    const page = admin.page;
    await page.getByRole('button', { name: 'Preview (dry run)' }).click();
    const preview = page.getByTestId('gc-preview');
    await preview.waitFor();
    // The deletions above left a manifest, its config and layer unreachable.
    assert.match(await preview.textContent(), /would remove \d+ manifests, [1-9]\d* blobs, [\d.]+ (B|KB|MB)/);
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByText('Garbage collection finished.').waitFor();
    await page.locator('table tbody tr').nth(1).waitFor(); // the dry run and the run
    await shoot(page, 'admin-gc-after-light');

    await review(admin, 'admin', '/admin?tab=proxies', 'admin-proxies');
    await review(admin, 'admin', '/admin?tab=system', 'admin-system');
    const facts = await admin.page.locator('dl.facts').textContent();
    assert.match(facts, /sqlite/);
    assert.match(facts, /filesystem/);
  });

  test('a phone-sized screen shows the pages without sideways scrolling of the page', async () => {
    const phone = await newUser(browser, berth.url, { viewport: { width: 390, height: 844 } });
    await signIn(phone.page, 'admin', adminPassword);
    for (const [route, name] of [
      ['/', 'phone-projects'],
      ['/repositories/team/tools/cli/-/v1', 'phone-image'],
    ]) {
      await visit(phone, route);
      await shoot(phone.page, `${name}-light`);
      const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${route} is ${overflow}px wider than the phone`);
      await checkAxe(phone.page, name);
    }
    await phone.context.close();
  });
});

describe('roles', () => {
  test('the owner manages members and robots of the project', async () => {
    const owner = await as('owner');
    await visit(owner, '/projects/team');
    const tabs = await owner.page.getByRole('navigation', { name: 'Project sections' }).getByRole('link').allTextContents();
    assert.deepEqual(tabs, ['Repositories', 'Members', 'Robots', 'Settings']);
    await visit(owner, '/projects/team?tab=robots');
    await owner.page.getByLabel('Robot name').fill('owners-bot');
    await owner.page.getByRole('button', { name: 'Create robot' }).click();
    assert.match(await owner.page.locator('.token code.secret').textContent(), /^brb_/);
    // Not an administrator: no Administration link, no project deletion.
    assert.equal(await owner.page.getByRole('link', { name: 'Administration' }).count(), 0);
    await visit(owner, '/');
    assert.equal(await owner.page.getByRole('button', { name: /Delete project/ }).count(), 0);
    await owner.context.close();
  });

  test('a writer browses and pushes but sees only what its role allows', async () => {
    const writer = await as('writer');
    await visit(writer, '/projects/team');
    const tabs = await writer.page.getByRole('navigation', { name: 'Project sections' }).getByRole('link').allTextContents();
    assert.deepEqual(tabs, ['Repositories', 'Settings']);
    const can = (await new Client(berth.url, users.writer, password(users.writer)).api('GET', 'repositories/team/web')).can;
    await visit(writer, '/repositories/team/web');
    assert.equal(await writer.page.getByRole('button', { name: /Delete selected/ }).count(), can.delete ? 1 : 0);
    await writer.context.close();
  });

  test('a reader sees no delete button, and the API refuses the delete anyway', async () => {
    const reader = await as('reader');
    await review(reader, 'reader', '/repositories/team/web', 'repository-reader');
    assert.equal(await reader.page.getByRole('button', { name: /Delete selected/ }).count(), 0);
    assert.equal(await reader.page.getByRole('checkbox').count(), 0);
    const status = await reader.page.evaluate(async () => {
      const session = await (await fetch('/api/v1/session')).json();
      const response = await fetch('/api/v1/repositories/team/web/-/delete', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'berth-ui', 'X-CSRF-Token': session.csrf_token },
        body: JSON.stringify({ tags: ['latest'], manifests: [] }),
      });
      return response.status;
    });
    assert.equal(status, 403);
    const tags = (await (await data.admin.fetch('GET', '/v2/team/web/tags/list')).json()).tags;
    assert.ok(tags.includes('latest'));
    // Settings are read-only for a reader.
    await visit(reader, '/projects/team?tab=settings');
    assert.equal(await reader.page.getByRole('button', { name: /Save/ }).count(), 0);
    await reader.context.close();
  });
});

describe('sessions and CSRF', () => {
  test('a password change ends the sessions of that user', async () => {
    const max = await as('other');
    await visit(max, '/');
    await admin.page.goto('about:blank');
    await visit(admin, '/admin');
    await admin.page.getByRole('button', { name: 'Reset password of max' }).click();
    await admin.page.getByLabel('New password for max').fill('max-Password-2');
    await admin.page.getByRole('button', { name: 'Set password', exact: true }).click();
    await admin.page.getByText(/The password of max was reset/).waitFor();
    // max's next call gets 401 and the sign-in form, with no browser password dialog.
    await max.page.getByRole('link', { name: 'Search' }).click();
    await max.page.getByLabel('Repository or tag').fill('web');
    await max.page.getByRole('button', { name: 'Search', exact: true }).click();
    await max.page.getByLabel('Username').waitFor();
    await max.context.close();
  });

  test('a cookie-only state-changing call without the CSRF header is refused', async () => {
    const result = await admin.page.evaluate(async () => {
      const session = await (await fetch('/api/v1/session')).json();
      const without = await fetch('/api/v1/projects', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'csrf-probe' }),
      });
      const withToken = await fetch('/api/v1/projects', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token },
        body: JSON.stringify({ name: 'csrf-probe' }),
      });
      return { without: without.status, body: await without.json(), withToken: withToken.status };
    });
    assert.equal(result.without, 403);
    assert.equal(result.body.errors[0].code, 'DENIED');
    assert.equal(result.withToken, 201);
  });

  test('signing out ends the session', async () => {
    const writer = await as('writer');
    const cookie = (await writer.context.cookies()).find((c) => c.name === 'berth_session');
    assert.ok(cookie, 'signing in set the berth_session cookie');
    await writer.page.getByRole('button', { name: 'Sign out' }).click();
    await writer.page.getByLabel('Username').waitFor();
    // The old cookie, sent again, is no session any more (ended on the server, not only dropped).
    const replay = await fetch(`${berth.url}/api/v1/session`, { headers: { Cookie: `berth_session=${cookie.value}` } });
    assert.equal((await replay.json()).signed_in, false);
    await writer.context.close();
  });
});

describe('keyboard', () => {
  test('tab to a project and open it; tab to the theme switch and use it', async () => {
    const page = admin.page;
    await visit(admin, '/');
    await page.locator('body').focus();
    const reach = async (predicate, what) => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(predicate)) {
          const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
          assert.notEqual(outline, 'none', `${what} has no visible focus`);
          return;
        }
      }
      assert.fail(`Tab never reached ${what}`);
    };
    await reach(() => document.activeElement?.textContent === 'team' && document.activeElement.tagName === 'A', 'the team link');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /^team/ }).waitFor();
    assert.match(page.url(), /\/projects\/team$/);
    await page.locator('body').focus();
    const before = await page.evaluate(() => document.documentElement.dataset.theme);
    await reach(() => document.activeElement?.getAttribute('aria-label')?.startsWith('Switch to'), 'the theme switch');
    await page.keyboard.press('Space');
    assert.notEqual(await page.evaluate(() => document.documentElement.dataset.theme), before);
    // Remembered: a reload keeps it.
    await page.reload();
    assert.notEqual(await page.evaluate(() => document.documentElement.dataset.theme), before);
    await setTheme(page, 'light');
  });
});
