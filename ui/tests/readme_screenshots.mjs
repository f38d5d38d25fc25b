// Remakes the README's screenshots (docs/images/ui-*.png) from the browser tests' registry:
//   BERTH_BINARY=build/release/berth node ui/tests/readme_screenshots.mjs
// Not a test: run it by hand when the UI's look changes.
import { join } from 'node:path';
import { adminPassword, startBerth } from './lib/berth.mjs';
import { launch, newUser, setTheme, signIn, visit } from './lib/browser.mjs';
import { fill } from './lib/fixture.mjs';

const out = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../docs/images');
const berth = await startBerth();
const browser = await launch();
try {
  await fill(berth);
  const user = await newUser(browser, berth.url, { viewport: { width: 1100, height: 640 } });
  await signIn(user.page, 'admin', adminPassword);
  for (const [route, name, theme] of [
    ['/', 'ui-projects', 'light'],
    ['/repositories/team/web', 'ui-repository', 'light'],
    ['/repositories/team/tools/cli/-/v1', 'ui-image', 'dark'],
  ]) {
    await visit(user, route);
    await setTheme(user.page, theme);
    await user.page.screenshot({ path: join(out, `${name}.png`) });
  }
} finally {
  await browser.close();
  await berth.stop();
}
