// The security features as a person uses them, against a real berth and
// real docker: scan a pushed image and read its (empty) vulnerability
// report, turn on cosign content trust and see the unsigned image
// refused, and switch berth to OIDC and see the provider's sign-in button.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { docker, launchBrowser, repoRoot, screenshotDir, startBerth, type Berth } from './harness';

let berth: Berth;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let ctx: BrowserContext;
let page: Page;
const project = `sec${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'berth-ui-e2e-sec-'));
const cfg = join(work, 'docker');
const pageErrors: string[] = [];
let v1Page = '';

async function shot(name: string) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
}

/** apiCall calls berth's API as admin with basic auth, as a script would. */
async function apiCall(method: string, path: string, body?: unknown): Promise<Response> {
  const r = await fetch(`${berth.url}/api/v2.0${path}`, {
    method,
    headers: { Authorization: `Basic ${Buffer.from(`admin:${berth.password}`).toString('base64')}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r;
}

async function signIn(p: Page) {
  await p.goto(`${berth.url}/`);
  await p.getByLabel('Username').fill('admin');
  await p.getByLabel('Password', { exact: true }).fill(berth.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Projects' }).waitFor();
}

beforeAll(async () => {
  // A one-record OSV database that matches nothing, so that scans run and find nothing.
  const osv = join(work, 'osv.json');
  writeFileSync(
    osv,
    JSON.stringify({
      id: 'BERTH-E2E-0001',
      modified: '2026-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'Debian:12', name: 'berth-e2e-nothing' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0' }] }] }],
    }),
  );
  // Two findings for the Alpine busybox of the "vuln" image below.
  const osvVuln = (id: string, cve: string, fixed: string, severity: string) =>
    JSON.stringify({
      id,
      aliases: [cve],
      modified: '2026-01-01T00:00:00Z',
      summary: `e2e finding ${cve}`,
      affected: [{ package: { ecosystem: 'Alpine:v3.19', name: 'busybox' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] }],
      database_specific: { severity },
      references: [{ type: 'ADVISORY', url: `https://example.com/${cve}` }],
    });
  writeFileSync(join(work, 'osv-high.json'), osvVuln('BERTH-E2E-0002', 'CVE-2099-0002', '1.36.1-r20', 'HIGH'));
  writeFileSync(join(work, 'osv-low.json'), osvVuln('BERTH-E2E-0003', 'CVE-2099-0003', '1.36.1-r30', 'LOW'));
  berth = await startBerth((dataDir, bin) =>
    execFileSync(bin, ['scanner', 'import', osv, join(work, 'osv-high.json'), join(work, 'osv-low.json'), '--data-dir', dataDir], { stdio: 'pipe' }),
  );
  ({ browser, close: closeBrowser } = await launchBrowser());
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(10_000);
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await apiCall('POST', '/projects', { project_name: project, metadata: { public: 'false' } });
  // A one-file image: nothing for the scanner to find.
  const dir = join(work, 'img');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hello.txt'), 'hello from berth\n');
  execFileSync('tar', ['-C', dir, '-cf', join(work, 'img.tar'), 'hello.txt']);
  mkdirSync(cfg, { recursive: true });
  const ref = `${berth.host}/${project}/app:v1`;
  await docker(['login', berth.host, '-u', 'admin', '--password-stdin'], { input: berth.password, config: cfg });
  await docker(['import', join(work, 'img.tar'), ref], { config: cfg });
  await docker(['push', ref], { config: cfg });
  await docker(['rmi', ref], { config: cfg });
  // An "Alpine 3.19" image whose apk database lists an old busybox.
  const vdir = join(work, 'vuln');
  mkdirSync(join(vdir, 'etc'), { recursive: true });
  mkdirSync(join(vdir, 'lib/apk/db'), { recursive: true });
  writeFileSync(join(vdir, 'etc/os-release'), 'ID=alpine\nVERSION_ID=3.19.1\nNAME="Alpine Linux"\n');
  writeFileSync(join(vdir, 'lib/apk/db/installed'), 'P:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n\n');
  execFileSync('tar', ['-C', vdir, '-cf', join(work, 'vuln.tar'), 'etc', 'lib']);
  const vref = `${berth.host}/${project}/app:vuln`;
  await docker(['import', join(work, 'vuln.tar'), vref], { config: cfg });
  await docker(['push', vref], { config: cfg });
  await docker(['rmi', vref], { config: cfg });
});

afterAll(async () => {
  await closeBrowser?.();
  await berth?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('security features in the UI', () => {
  test('scan an image from the Artifacts tab and open its vulnerability report', async () => {
    await signIn(page);
    await page.goto(`${berth.url}/projects/${project}/repositories/app`);
    const row = page.getByRole('row').filter({ hasText: 'v1' });
    await row.getByText('Not scanned').waitFor();
    await row.getByRole('button', { name: /^Scan / }).click();
    // The scan runs as a job; refresh until it is done (bounded).
    const done = row.getByRole('link', { name: 'No vulnerabilities' });
    for (let i = 0; ; i++) {
      try {
        await done.waitFor({ timeout: 1000 });
        break;
      } catch (e) {
        if (i >= 60) throw e;
      }
      await page.getByRole('button', { name: 'Refresh artifacts' }).click();
    }
    await shot('artifacts-scanned');
    await done.click();
    await page.getByRole('tab', { name: 'Vulnerabilities', selected: true }).waitFor();
    v1Page = page.url();
    await page.getByRole('region', { name: 'Vulnerabilities' }).getByText('No vulnerabilities').waitFor();
    expect(await page.getByText(/Scanned by/).textContent()).toMatch(/Scanned by \S+/);
    await shot('vulnerability-report');
    await page.getByRole('tab', { name: 'Signatures' }).click();
    await page.getByText('Not signed.').waitFor();
  });


  test('the report of a vulnerable image lists its findings and filters them by severity', async () => {
    await page.goto(`${berth.url}/projects/${project}/repositories/app`);
    const row = page.getByRole('row').filter({ has: page.getByText('vuln', { exact: true }) });
    await row.getByRole('button', { name: /^Scan / }).click();
    const summary = row.getByRole('link', { name: /^Vulnerabilities of / });
    for (let i = 0; ; i++) {
      try {
        await summary.waitFor({ timeout: 1000 });
        break;
      } catch (e) {
        if (i >= 60) throw e;
      }
      await page.getByRole('button', { name: 'Refresh artifacts' }).click();
    }
    expect(await summary.textContent()).toMatch(/2 total, 2 fixable/);
    expect(await row.getByRole('img', { name: '1 High, 1 Low' }).count()).toBe(1);
    await summary.click();
    const table = page.getByRole('table', { name: 'Vulnerability report' });
    await table.waitFor();
    const first = table.getByRole('row').nth(1);
    expect(await first.getByRole('cell').allTextContents()).toEqual(['CVE-2099-0002', 'High', 'busybox', '1.36.1-r15', '1.36.1-r20', 'example.com · osv.dev']);
    await shot('vulnerability-findings');
    await page.getByRole('combobox', { name: 'Filter by severity' }).selectOption('Low');
    await expect.poll(() => table.getByRole('row').count()).toBe(2);
    expect(await table.getByRole('row').nth(1).getByRole('cell').first().textContent()).toBe('CVE-2099-0003');
  });

  test('generate an SBOM, download it, and oras pulls it with the command the page gives', async () => {
    await page.goto(v1Page);
    await page.getByRole('tab', { name: 'SBOM' }).click();
    await page.getByText('No SBOM generated.').waitFor();
    await page.getByRole('button', { name: 'Generate SBOM' }).click();
    const copy = page.getByRole('button', { name: 'Copy SBOM download command' });
    for (let i = 0; ; i++) {
      try {
        await copy.waitFor({ timeout: 1000 });
        break;
      } catch (e) {
        if (i >= 60) throw e;
      }
      await page.getByRole('button', { name: 'Refresh SBOM' }).click();
    }
    await shot('sbom');
    const cmd = (await copy.getAttribute('title')) ?? '';
    expect(cmd).toMatch(new RegExp(`^oras pull ${berth.host}/${project}/app@sha256:[0-9a-f]{64}$`));
    const out = join(work, 'sbom');
    mkdirSync(out, { recursive: true });
    execFileSync(join(repoRoot, '.tmp/tools/oras'), [...cmd.split(' ').slice(1), '--plain-http', '-u', 'admin', '-p', berth.password, '-o', out], { stdio: 'pipe' });
    const files = readdirSync(out);
    expect(files.length).toBe(1);
    const pulled = readFileSync(join(out, files[0]!));
    expect(JSON.parse(pulled.toString('utf8'))).toBeTypeOf('object');

    // Download: the session fetches the same document through the API.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download SBOM' }).click()]);
    expect(dl.suggestedFilename()).toMatch(/^sbom\.(spdx|cdx)\.json$/);
    const saved = join(work, 'downloaded-' + dl.suggestedFilename());
    await dl.saveAs(saved);
    const doc = JSON.parse(readFileSync(saved, 'utf8')) as { spdxVersion?: string; bomFormat?: string };
    expect(doc.spdxVersion?.startsWith('SPDX-') || doc.bomFormat === 'CycloneDX').toBe(true);
    expect(readFileSync(saved).equals(pulled)).toBe(true);
  });

  test('Interrogation Services shows the built-in scanner and its database', async () => {
    await page.goto(`${berth.url}/admin/interrogation-services`);
    const table = page.getByRole('table', { name: 'Scanners' });
    await table.getByRole('cell', { name: 'Default', exact: true }).waitFor();
    const name = (await table.getByRole('button', { name: /^Details of / }).first().textContent()) ?? '';
    await table.getByRole('button', { name: `Details of ${name}` }).click();
    expect(await page.getByLabel('Vulnerability database').textContent()).toMatch(/osv\.json/);
    await shot('interrogation-services');
    await page.getByRole('button', { name: 'Close' }).click();
  });

  test('a cosign key is trusted in the UI; the image it signs shows Signed and Verified', async () => {
    // cosign's own key pair, kept in a private home (legacy .sig tag scheme, no transparency log).
    const home = join(work, 'cosign');
    mkdirSync(home, { recursive: true });
    const env = { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: home, NO_COLOR: '1', DOCKER_CONFIG: join(home, '.docker'), COSIGN_PASSWORD: 'e2e-signing' };
    const cosign = (args: string[]) => execFileSync(join(repoRoot, '.tmp/tools/cosign'), args, { cwd: home, env, stdio: 'pipe' }).toString();
    cosign(['generate-key-pair']);
    cosign(['login', berth.host, '-u', 'admin', '-p', berth.password]);
    await page.goto(`${berth.url}/projects/${project}?tab=configuration`);
    const keys = page.getByRole('region', { name: 'Trusted keys' });
    await keys.getByText(/No trusted keys/).waitFor();
    await keys.getByLabel('Key name').fill('release');
    await keys.getByLabel('PEM', { exact: true }).fill(readFileSync(join(home, 'cosign.pub'), 'utf8'));
    await keys.getByRole('button', { name: 'Add key' }).click();
    await keys.getByRole('table', { name: 'Trusted keys' }).getByText('release').waitFor();
    const listed = (await (await apiCall('GET', `/projects/${project}/trust-keys`)).json()) as { name: string; type: string }[];
    expect(listed.map((k) => [k.name, k.type])).toEqual([['release', 'cosign']]);

    cosign(['sign', '--yes', '--key', 'cosign.key', '--allow-http-registry', '--new-bundle-format=false', '--use-signing-config=false', '--tlog-upload=false', `${berth.host}/${project}/app:v1`]);
    await page.goto(`${berth.url}/projects/${project}/repositories/app`);
    const row = page.getByRole('row').filter({ has: page.getByText('v1', { exact: true }) });
    await row.getByRole('link', { name: /^Signatures of / }).click();
    const sigs = page.getByRole('table', { name: 'Signatures' });
    await sigs.waitFor();
    const sig = sigs.getByRole('row').nth(1);
    expect(await sig.getByRole('cell').first().textContent()).toBe('cosign');
    await sig.getByText('Verified by release').waitFor();
    await shot('signatures');
  });

  test('cosign content trust turned on in the UI: the signed image pulls, the unsigned one is refused', async () => {
    await page.goto(`${berth.url}/projects/${project}?tab=configuration`);
    await page.getByRole('region', { name: 'Trusted keys' }).getByRole('table', { name: 'Trusted keys' }).waitFor();
    await page.getByRole('checkbox', { name: /^Cosign/ }).check();
    await page.getByRole('form', { name: 'Project configuration' }).getByRole('button', { name: 'Save' }).click();
    await page.getByText('Configuration saved').waitFor();
    await shot('project-security');
    const p = (await (await apiCall('GET', `/projects/${project}`)).json()) as { metadata?: Record<string, string> };
    expect(p.metadata?.enable_content_trust_cosign).toBe('true');
    await docker(['pull', `${berth.host}/${project}/app:v1`], { config: cfg });
    await docker(['rmi', `${berth.host}/${project}/app:v1`], { config: cfg });
    await expect(docker(['pull', `${berth.host}/${project}/app:vuln`], { config: cfg })).rejects.toThrow(/sign/i);
    await page.goto(`${berth.url}/projects/${project}/repositories/app`);
    const row = page.getByRole('row').filter({ has: page.getByText('vuln', { exact: true }) });
    await row.getByRole('cell', { name: 'No', exact: true }).waitFor();
  });

  test('with auth mode oidc_auth the sign-in page offers the provider', async () => {
    await apiCall('PUT', '/configurations', {
      auth_mode: 'oidc_auth',
      oidc_name: 'Dex',
      oidc_endpoint: 'https://idp.invalid',
      oidc_client_id: 'berth',
      oidc_client_secret: 'client-secret',
      oidc_scope: 'openid,profile',
    });
    await page.goto(`${berth.url}/admin/authentication`);
    await page.getByRole('region', { name: 'OIDC settings' }).waitFor();
    expect(await page.getByRole('button', { name: 'Copy redirect URI' }).getAttribute('title')).toBe(`${berth.url}/c/oidc/callback`);
    await shot('authentication');
    const anon = await browser.newContext();
    const p2 = await anon.newPage();
    await p2.goto(`${berth.url}/account/sign-in`);
    const link = p2.getByRole('link', { name: 'Login via Dex' });
    await link.waitFor();
    expect(await link.getAttribute('href')).toMatch(/^\/c\/oidc\/login/);
    await anon.close();
  });

  test('in OIDC mode an OIDC group is created and added to the project', async () => {
    await page.goto(`${berth.url}/admin/groups`);
    await page.getByRole('button', { name: '+ New Group' }).click();
    const dialog = page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Group name').fill('e2e-devs');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('cell', { name: 'e2e-devs', exact: true }).waitFor();
    await page.goto(`${berth.url}/projects/${project}?tab=members`);
    await page.getByRole('button', { name: '+ Group' }).click();
    const add = page.getByRole('dialog', { name: 'New group member' });
    await add.getByLabel('Group name').fill('e2e-devs');
    await add.getByLabel('Group role').selectOption({ label: 'Developer' });
    await add.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('table', { name: 'Members' }).getByText('e2e-devs').waitFor();
  });

  test('no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
