// OIDC single sign-on as a person uses it, against a real berth, a real
// OpenID provider (zitadel/oidc's example OP, run by
// internal/testutil/oidctest/cmd/oidc-provider) and real docker: sign in
// through the provider's login form, copy the CLI secret from the profile
// and docker login and push with it where the user's provider group is a
// member; a user of the admin group administers berth; with automatic
// onboarding off a new user picks a name first.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { docker, launchBrowser, screenshotDir, startBerth, startOIDCProvider, type Berth, type OIDCProvider } from './harness';

let berth: Berth;
let op: OIDCProvider;
let browser: Browser;
let closeBrowser: () => Promise<void>;
const contexts: BrowserContext[] = [];
const project = `oidc${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'berth-ui-e2e-oidc-'));
const pageErrors: string[] = [];
let cliSecret = '';

async function shot(p: Page, name: string) {
  mkdirSync(screenshotDir, { recursive: true });
  await p.screenshot({ path: join(screenshotDir, `${name}.png`) });
}

/** apiCall calls berth's API as the built-in admin with basic auth, as a script would. */
async function apiCall(method: string, path: string, body?: unknown): Promise<Response> {
  const r = await fetch(`${berth.url}/api/v2.0${path}`, {
    method,
    headers: { Authorization: `Basic ${Buffer.from(`admin:${berth.password}`).toString('base64')}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r;
}

/** newPage opens a page in a fresh browser context (its own cookies), which may use the clipboard. */
async function newPage(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(10_000);
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: berth.url });
  contexts.push(ctx);
  const p = await ctx.newPage();
  p.on('pageerror', (e) => pageErrors.push(e.message));
  return p;
}

/** providerLogin goes from berth's sign-in page through the provider's login form. */
async function providerLogin(p: Page, user: string, password: string) {
  await p.goto(`${berth.url}/`);
  await p.getByRole('link', { name: 'Login via Example IdP' }).click();
  await p.waitForURL((u) => u.origin === op.issuer);
  await p.getByLabel('Username:').fill(user);
  await p.getByLabel('Password:').fill(password);
  await p.getByRole('button', { name: 'Login' }).click();
}

beforeAll(async () => {
  berth = await startBerth();
  op = await startOIDCProvider(`${berth.url}/c/oidc/callback`, ['alice:pw-alice:e2e-devs', 'bob:pw-bob:registry-admins', 'carol:pw-carol:ops']);
  await apiCall('PUT', '/configurations', {
    auth_mode: 'oidc_auth',
    oidc_name: 'Example IdP',
    oidc_endpoint: op.issuer,
    oidc_client_id: 'berth',
    oidc_client_secret: 'berth-secret',
    oidc_scope: 'openid,profile,email',
    oidc_groups_claim: 'groups',
    oidc_admin_group: 'registry-admins',
    oidc_auto_onboard: true,
  });
  // A private project whose only member (besides admin) is the provider's group e2e-devs, as developer.
  await apiCall('POST', '/projects', { project_name: project, metadata: { public: 'false' } });
  await apiCall('POST', `/projects/${project}/members`, { role_id: 2, member_group: { group_name: 'e2e-devs', group_type: 3 } });
  ({ browser, close: closeBrowser } = await launchBrowser());
});

afterAll(async () => {
  await closeBrowser?.();
  await op?.stop();
  await berth?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('OIDC sign-in in the UI', () => {
  test('alice signs in through the provider and lands in berth as herself', async () => {
    const p = await newPage();
    await providerLogin(p, 'alice', 'pw-alice');
    await p.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(new URL(p.url()).origin).toBe(berth.url);
    const menu = p.getByRole('button', { name: /^alice/ });
    expect(await menu.textContent()).toMatch(/^alice\b/);
    // Her group's project is hers to see; she is no administrator.
    await p.getByRole('link', { name: project }).waitFor();
    expect(await p.getByRole('heading', { name: 'Administration' }).count()).toBe(0);
    await shot(p, 'oidc-signed-in');

    await menu.click();
    await p.getByRole('menuitem', { name: 'User Profile' }).click();
    const secret = p.getByRole('region', { name: 'CLI secret' });
    await secret.waitFor();
    await secret.getByRole('button', { name: 'Show' }).click();
    const shown = ((await secret.getByLabel('Secret', { exact: true }).textContent()) ?? '').trim();
    expect(shown).toMatch(/^\S{16,}$/);
    await secret.getByRole('button', { name: 'Copy secret' }).click();
    await secret.getByText('Copied', { exact: true }).waitFor();
    cliSecret = await p.evaluate(() => navigator.clipboard.readText());
    expect(cliSecret).toBe(shown);
    // No local password for an OIDC user.
    expect(await p.getByRole('form', { name: 'Change password' }).count()).toBe(0);
    await shot(p, 'oidc-cli-secret');
  });

  test('docker logs in with the copied CLI secret and pushes into the group project', async () => {
    const cfg = join(work, 'docker');
    mkdirSync(cfg, { recursive: true });
    await expect(docker(['login', berth.host, '-u', 'alice', '--password-stdin'], { input: 'pw-alice', config: cfg })).rejects.toThrow(/unauthorized|401/i);
    await docker(['login', berth.host, '-u', 'alice', '--password-stdin'], { input: cliSecret, config: cfg });
    const dir = join(work, 'img');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'hello.txt'), 'hello from alice\n');
    execFileSync('tar', ['-C', dir, '-cf', join(work, 'img.tar'), 'hello.txt']);
    const ref = `${berth.host}/${project}/app:v1`;
    await docker(['import', join(work, 'img.tar'), ref], { config: cfg });
    try {
      await docker(['push', ref], { config: cfg });
    } finally {
      await docker(['rmi', ref], { config: cfg });
    }
    const arts = (await (await apiCall('GET', `/projects/${project}/repositories/app/artifacts`)).json()) as { tags?: { name: string }[] }[];
    expect(arts.flatMap((a) => (a.tags ?? []).map((t) => t.name))).toEqual(['v1']);
  });

  test('bob of the admin group sees the Administration menu', async () => {
    const p = await newPage();
    await providerLogin(p, 'bob', 'pw-bob');
    await p.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(await p.getByRole('button', { name: /^bob/ }).textContent()).toMatch(/^bob\b/);
    await p.getByRole('heading', { name: 'Administration' }).waitFor();
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await p.getByRole('cell', { name: 'alice', exact: true }).waitFor();
    await shot(p, 'oidc-admin');
  });

  test('with automatic onboarding off a new user chooses a user name first', async () => {
    await apiCall('PUT', '/configurations', { oidc_auto_onboard: false });
    const p = await newPage();
    await providerLogin(p, 'carol', 'pw-carol');
    await p.waitForURL(`${berth.url}/c/oidc/onboard`);
    const name = p.getByLabel('User name');
    expect(await name.inputValue()).toBe('carol');
    await name.fill('carol-e2e');
    await shot(p, 'oidc-onboard');
    await p.getByRole('button', { name: 'Create my account' }).click();
    await p.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(await p.getByRole('button', { name: /^carol-e2e/ }).textContent()).toMatch(/^carol-e2e\b/);
    // Not in e2e-devs: once the list shows the public library, the private project is not in it.
    await p.getByRole('link', { name: 'library', exact: true }).waitFor();
    expect(await p.getByRole('link', { name: project }).count()).toBe(0);
  });

  test('no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
