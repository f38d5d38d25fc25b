// Starts a real `berth serve` for the browser tests: port 0 and a port file (the server picks
// its port), a private data directory, stopped with SIGTERM at the end. The binary comes from
// the ctest registration ($BERTH_BINARY).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const adminPassword = 'admin-Secret-123';

export async function startBerth({ accessControl = true, env = {} } = {}) {
  const binary = process.env.BERTH_BINARY;
  if (!binary || !existsSync(binary)) {
    throw new Error(`BERTH_BINARY must name the berth binary under test, got '${binary}'`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-ui-'));
  const portFile = join(dir, 'port');
  const log = createWriteStream(join(dir, 'server.log'));
  const child = spawn(
    binary,
    ['serve', '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), '--port-file', portFile],
    {
      env: {
        ...process.env,
        BERTH_AUTH_ENABLED: accessControl ? 'true' : 'false',
        ...(accessControl ? { BERTH_ADMIN_PASSWORD: adminPassword } : {}),
        BERTH_LOG_ACCESS: 'false',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  let port = null;
  for (let i = 0; i < 600 && port === null; i++) {
    if (exited) {
      throw new Error(`berth exited at start (${JSON.stringify(exited)}): ${readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000)}`);
    }
    if (existsSync(portFile)) {
      const text = readFileSync(portFile, 'utf8').trim();
      if (text) {
        port = Number(text);
      }
    }
    if (port === null) {
      await sleep(50);
    }
  }
  if (port === null) {
    child.kill('SIGKILL');
    throw new Error('berth wrote no port file within 30 s');
  }
  const url = `http://127.0.0.1:${port}`;
  const server = {
    url,
    host: `127.0.0.1:${port}`,
    dir,
    logText: () => readFileSync(join(dir, 'server.log'), 'utf8'),
    async stop() {
      if (!exited) {
        const done = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([done, sleep(20000)]);
        if (!exited) {
          child.kill('SIGKILL');
        }
      }
      if (!process.env.BERTH_UI_KEEP) {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return server;
}
