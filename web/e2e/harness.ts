// Starts what the end-to-end tests drive: bin/berth on a free loopback
// port with plain HTTP and data in a temp dir, and Debian's Chromium
// (never a downloaded browser) with a fresh profile.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const screenshotDir = process.env.BERTH_UI_SCREENSHOTS ?? join(repoRoot, '.tmp/ui-screenshots');
const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

export interface Berth {
  url: string;
  host: string;
  password: string;
  stop: () => Promise<void>;
}

/** startBerth starts bin/berth; setup runs first with its data directory and binary (e.g. to import a vulnerability database). */
export async function startBerth(setup?: (dataDir: string, bin: string) => void): Promise<Berth> {
  const bin = process.env.BERTH_BIN ?? join(repoRoot, 'bin/berth');
  const dir = mkdtempSync(join(tmpdir(), 'berth-ui-e2e-'));
  setup?.(dir, bin);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const password = 'Harbor12345';
  const logDir = join(repoRoot, '.tmp/ui-e2e');
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, 'berth.log'));
  const proc: ChildProcess = spawn(bin, ['serve', '--addr', host, '--data-dir', dir, '--tls=off'], {
    env: { ...process.env, BERTH_ADMIN_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.pipe(log);
  proc.stderr?.pipe(log);
  const url = `http://${host}`;
  let exited = false;
  proc.once('exit', () => (exited = true));
  // Wait for /healthz, bounded: 300 tries of up to 100 ms apart.
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`berth exited at start; see .tmp/ui-e2e/berth.log`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (i >= 300) throw new Error('berth did not become healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
  const index = await (await fetch(`${url}/`)).text();
  if (!index.includes('id="root"')) {
    proc.kill('SIGTERM');
    throw new Error(`${bin} was built without the web UI (make build builds it; NO_UI=1 skips it)`);
  }
  return {
    url,
    host,
    password,
    stop: async () => {
      if (!exited) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// playwright-core gives chromium.launch a fresh temporary --user-data-dir
// of its own (and refuses one passed in args), removed on close.
export async function launchBrowser(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
    },
  };
}

/** docker runs the docker CLI against the test daemon (BERTH_TEST_DOCKER_HOST). */
export async function docker(args: string[], opts: { input?: string; config?: string } = {}): Promise<string> {
  const dockerHost = process.env.BERTH_TEST_DOCKER_HOST;
  if (!dockerHost) throw new Error('BERTH_TEST_DOCKER_HOST is not set');
  const env = { ...process.env, DOCKER_HOST: dockerHost, ...(opts.config ? { DOCKER_CONFIG: opts.config } : {}) };
  if (opts.input !== undefined) {
    return new Promise((res, rej) => {
      const p = spawn('docker', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`docker ${args.join(' ')}: ${err || out}`))));
      p.stdin.end(opts.input);
    });
  }
  try {
    const { stdout } = await run('docker', args, { env, timeout: 120_000 });
    return stdout;
  } catch (e) {
    const x = e as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')}: ${x.stderr || x.message}`);
  }
}

export interface OIDCProvider {
  issuer: string;
  stop: () => Promise<void>;
}

/**
 * startOIDCProvider builds and starts the test OpenID provider
 * (internal/testutil/oidctest/cmd/oidc-provider: zitadel/oidc's example
 * OP) on a free loopback port, with client "berth" / "berth-secret" for
 * redirect and users as "name:password:group,group".
 */
export async function startOIDCProvider(redirect: string, users: string[]): Promise<OIDCProvider> {
  const bin = join(repoRoot, '.tmp/oidc-provider');
  await run('go', ['build', '-o', bin, './internal/testutil/oidctest/cmd/oidc-provider'], { cwd: repoRoot, env: { ...process.env, CGO_ENABLED: '0' }, timeout: 300_000 });
  const args = ['-redirect', redirect, ...users.flatMap((u) => ['-user', u])];
  // Its standard input stays open; the provider ends when it closes (with this process at the latest).
  const proc = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let exited = false;
  proc.once('exit', () => (exited = true));
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const issuer = await new Promise<string>((res, rej) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        proc.stdout?.off('data', onData);
        res(out.slice(0, nl).trim());
      }
    };
    proc.stdout?.on('data', onData);
    proc.once('exit', (code) => rej(new Error(`oidc-provider exited (${code}): ${err}`)));
  });
  return {
    issuer,
    stop: async () => {
      if (!exited) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
    },
  };
}
