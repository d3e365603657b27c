// The UI as a person uses it, against a real berth and real docker:
// sign in, create a project, push an image, see it, describe it, make a
// robot and log in with it, edit its permissions, look at an artifact's
// build history, add a member and look as that member, delete
// tags through the confirmation, run GC, sign out.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { docker, launchBrowser, screenshotDir, startBerth, type Berth } from './harness';

let berth: Berth;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let ctx: BrowserContext;
let page: Page;
const project = `e2e${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'berth-ui-e2e-work-'));
let robotName = '';
let robotSecret = '';
const pageErrors: string[] = [];

async function shot(name: string) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
}

async function signIn(p: Page, user: string, password: string) {
  await p.goto(`${berth.url}/`);
  await p.getByLabel('Username').fill(user);
  await p.getByLabel('Password', { exact: true }).fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Projects' }).waitFor();
}

function adminAuth(): string {
  return `Basic ${Buffer.from(`admin:${berth.password}`).toString('base64')}`;
}

/** An image tarball without a Docker build: docker import of a small tar. */
function imageTar(name: string, content: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hello.txt'), content);
  const tar = join(work, `${name}.tar`);
  execFileSync('tar', ['-C', dir, '-cf', tar, 'hello.txt']);
  return tar;
}

beforeAll(async () => {
  berth = await startBerth();
  ({ browser, close: closeBrowser } = await launchBrowser());
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(10_000);
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await closeBrowser?.();
  await berth?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('berth UI', () => {
  test('unknown paths serve the app, which sends a signed-out user to sign in', async () => {
    await page.goto(`${berth.url}/projects/${project}?tab=members`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/account/sign-in');
    expect(new URL(page.url()).searchParams.get('redirect')).toBe(`/projects/${project}?tab=members`);
  });

  test('a wrong password shows the API error', async () => {
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/\S/);
    await shot('sign-in');
  });

  test('admin signs in and creates a project', async () => {
    await signIn(page, 'admin', berth.password);
    await page.getByRole('button', { name: '+ New Project' }).click();
    const dialog = page.getByRole('dialog', { name: 'New Project' });
    await dialog.getByLabel('Project name').fill(project);
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: project }).waitFor();
    await page.getByRole('tab', { name: 'Repositories' }).waitFor();
    await page.getByText('No repositories yet').waitFor();
  });

  test('an image pushed with docker appears in the project', async () => {
    const ref = `${berth.host}/${project}/app`;
    const cfg = join(work, 'docker-admin');
    mkdirSync(cfg, { recursive: true });
    await docker(['login', berth.host, '-u', 'admin', '--password-stdin'], { input: berth.password, config: cfg });
    await docker(['import', imageTar('v1', 'hello from berth v1\n'), `${ref}:v1`], { config: cfg });
    await docker(['push', `${ref}:v1`], { config: cfg });
    await docker(['import', imageTar('v2', 'hello from berth v2\n'), `${ref}:v2`], { config: cfg });
    await docker(['push', `${ref}:v2`], { config: cfg });
    await docker(['rmi', `${ref}:v1`, `${ref}:v2`], { config: cfg });

    await page.getByRole('button', { name: 'Refresh repositories' }).click();
    const link = page.getByRole('link', { name: `${project}/app` });
    await link.waitFor();
    await shot('project-repositories');
    await link.click();
    await page.getByRole('table', { name: 'Artifacts' }).waitFor();
    await page.getByText('v1', { exact: true }).waitFor();
    await page.getByText('v2', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: /^Copy pull command for v1/ }).count()).toBe(1);
  });

  test('a second tag is added to an artifact', async () => {
    const row = page.getByRole('row').filter({ has: page.getByText('v1', { exact: true }) });
    await row.getByRole('button', { name: /^Add tag to/ }).click();
    await row.getByLabel('New tag').fill('stable');
    await row.getByRole('button', { name: 'Add' }).click();
    await page.getByText('stable', { exact: true }).waitFor();
    await shot('repository-artifacts');
  });

  test('a global label is put on an artifact', async () => {
    const r = await fetch(`${berth.url}/api/v2.0/labels`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`admin:${berth.password}`).toString('base64')}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'qa-passed', scope: 'g', color: '#00aa00' }),
    });
    expect(r.status).toBe(201);
    const row = page.getByRole('row').filter({ has: page.getByText('v1', { exact: true }) });
    await row.getByRole('button', { name: /^Labels of/ }).click();
    const dialog = page.getByRole('dialog', { name: /^Labels of/ });
    // The box follows the API: it turns on once berth has added the label.
    await dialog.getByRole('checkbox', { name: /qa-passed/ }).click();
    await expect.poll(() => dialog.getByRole('checkbox', { name: /qa-passed/ }).isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await row.getByText('qa-passed').waitFor();
  });

  test('the description is edited and rendered as safe Markdown', async () => {
    await page.getByRole('tab', { name: 'Info' }).click();
    await page.getByRole('button', { name: 'Edit description' }).click();
    await page.getByLabel('Description (Markdown supported)').fill('# The app\n\nSay **hello**.\n\n<script>window.__x=1</script><img src=x onerror="window.__x=2">');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'The app' }).waitFor();
    expect(await page.locator('.markdown strong').textContent()).toBe('hello');
    expect(await page.locator('.markdown script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __x?: number }).__x)).toBeUndefined();
    await shot('repository-info');
    await page.reload();
    await page.getByRole('heading', { name: 'The app' }).waitFor();
  });

  test("an artifact's overview has the pull command by digest, and its build history lists the image's steps", async () => {
    const r = await fetch(`${berth.url}/api/v2.0/projects/${project}/repositories/app/artifacts/v2`, { headers: { Authorization: adminAuth() } });
    expect(r.status).toBe(200);
    const digest = ((await r.json()) as { digest: string }).digest;
    await page.goto(`${berth.url}/projects/${project}/artifact/${encodeURIComponent(digest)}/app?tab=overview`);
    await expect.poll(() => page.getByLabel('Pull command by digest', { exact: true }).textContent()).toBe(`docker pull ${berth.host}/${project}/app@${digest}`);
    await page.getByRole('tab', { name: 'Build History' }).click();
    const steps = page.getByRole('table', { name: 'Build history steps' });
    await steps.waitFor();
    expect(await steps.getByRole('row').count()).toBeGreaterThan(1);
    await shot('artifact-build-history');
  });

  test('a robot account is created, its secret shown once, and docker logs in with it', async () => {
    await page.goto(`${berth.url}/projects/${project}?tab=robots`);
    await page.getByRole('button', { name: '+ New Robot Account' }).click();
    const dialog = page.getByRole('dialog', { name: 'New robot account' });
    await dialog.getByLabel('Name', { exact: true }).fill('ci');
    await dialog.getByLabel('Description').fill('pulls for CI');
    await dialog.getByLabel('push repository').check();
    await dialog.getByRole('button', { name: 'Create' }).click();
    const shown = page.getByRole('dialog', { name: 'Robot account created' });
    robotName = await shown.getByLabel('Robot name').inputValue();
    robotSecret = await shown.getByLabel('Robot secret').inputValue();
    expect(robotName).toContain('ci');
    expect(robotSecret.length).toBeGreaterThan(10);
    await shot('robot-secret');
    await shown.getByRole('button', { name: 'Close' }).first().click();
    await page.getByRole('cell', { name: robotName, exact: true }).waitFor();

    const cfg = join(work, 'docker-robot');
    mkdirSync(cfg, { recursive: true });
    const out = await docker(['login', berth.host, '-u', robotName, '--password-stdin'], { input: robotSecret, config: cfg });
    expect(out).toMatch(/Login Succeeded/);
    await docker(['pull', `${berth.host}/${project}/app:v2`], { config: cfg });
    await docker(['rmi', `${berth.host}/${project}/app:v2`], { config: cfg });
  });

  test('a robot is disabled, and its pull secret is a dockerconfigjson Secret', async () => {
    await page.getByRole('button', { name: `Disable ${robotName}` }).click();
    await page.getByRole('button', { name: `Enable ${robotName}` }).waitFor();
    await page.getByRole('button', { name: `Kubernetes pull secret for ${robotName}` }).click();
    const dialog = page.getByRole('dialog', { name: /Kubernetes pull secret/ });
    await dialog.getByRole('button', { name: 'Create pull secret' }).click();
    const text = await dialog.getByLabel('Pull secret manifest').textContent();
    const secret = JSON.parse(text ?? '{}') as { kind?: string; type?: string };
    expect(secret.kind).toBe('Secret');
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    await dialog.getByRole('button', { name: 'Close' }).last().click();
  });

  test("a robot's description, expiry and permissions are edited, and berth keeps them", async () => {
    const row = page.getByRole('row').filter({ hasText: robotName });
    await row.getByText('Disabled', { exact: true }).waitFor();
    await row.getByRole('button', { name: `Edit ${robotName}` }).click();
    const dialog = page.getByRole('dialog', { name: `Edit ${robotName}` });
    expect(await dialog.getByLabel('push repository').isChecked()).toBe(true);
    await dialog.getByLabel('Description').fill('builds and cleans up');
    await dialog.getByLabel('Never expires').check();
    await dialog.getByLabel('delete artifact', { exact: true }).check();
    await dialog.getByLabel('push repository').uncheck();
    await shot('robot-edit');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByText(`Saved ${robotName}`).waitFor();
    const pr = await fetch(`${berth.url}/api/v2.0/projects/${project}`, { headers: { Authorization: adminAuth() } });
    const projectId = ((await pr.json()) as { project_id: number }).project_id;
    const q = encodeURIComponent(`Level=project,ProjectID=${projectId}`);
    const r = await fetch(`${berth.url}/api/v2.0/robots?q=${q}&page_size=100`, { headers: { Authorization: adminAuth() } });
    expect(r.status).toBe(200);
    const robot = ((await r.json()) as { name: string; description: string; duration: number; disable: boolean; permissions: { access: { resource: string; action: string }[] }[] }[]).find(
      (x) => x.name === robotName,
    )!;
    expect(robot).toMatchObject({ description: 'builds and cleans up', duration: -1, disable: true });
    const access = robot.permissions.flatMap((p) => p.access.map((a) => `${a.action} ${a.resource}`));
    expect(access).toContain('delete artifact');
    expect(access).not.toContain('push repository');
  });

  test('a member is added as guest and sees the project read-only', async () => {
    // A local user to add, made through the admin page.
    await page.goto(`${berth.url}/admin/users`);
    await page.getByRole('button', { name: '+ New User' }).click();
    const nu = page.getByRole('dialog', { name: 'New user' });
    await nu.getByLabel('Username').fill('guest1');
    await nu.getByLabel('Email').fill('guest1@example.invalid');
    await nu.getByLabel('Password', { exact: true }).fill('Guest12345');
    await nu.getByLabel('Confirm password').fill('Guest12345');
    await nu.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('cell', { name: 'guest1', exact: true }).waitFor();

    await page.goto(`${berth.url}/projects/${project}?tab=members`);
    await page.getByRole('button', { name: '+ User' }).click();
    const dialog = page.getByRole('dialog', { name: 'New member' });
    await dialog.getByLabel('Username').fill('guest1');
    await dialog.getByLabel('Developer').check();
    await dialog.getByRole('button', { name: 'Add' }).click();
    const role = page.getByLabel('Role of guest1');
    await role.waitFor();
    expect(await role.inputValue()).toBe('2');
    await role.selectOption({ label: 'Guest' });
    await page.getByText('guest1 is now Guest').waitFor();
    await shot('project-members');
    await page.getByRole('tab', { name: 'Summary' }).click();
    const guests = page.locator('.summary > div').filter({ has: page.getByText('Guests', { exact: true }) });
    await expect.poll(() => guests.locator('dd').textContent()).toBe('1');

    const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    other.setDefaultTimeout(10_000);
    const gp = await other.newPage();
    await signIn(gp, 'guest1', 'Guest12345');
    await gp.getByRole('link', { name: project }).click();
    await gp.getByRole('tab', { name: 'Members' }).waitFor();
    // A guest reads members and robots but cannot change them, and has no
    // configuration or logs.
    expect(await gp.getByRole('tab', { name: 'Configuration' }).count()).toBe(0);
    expect(await gp.getByRole('tab', { name: 'Logs' }).count()).toBe(0);
    await gp.getByRole('tab', { name: 'Members' }).click();
    await gp.getByRole('cell', { name: 'guest1' }).waitFor();
    expect(await gp.getByRole('button', { name: '+ User' }).count()).toBe(0);
    await gp.getByRole('tab', { name: 'Repositories' }).click();
    await gp.getByRole('link', { name: `${project}/app` }).click();
    await gp.getByText('v2', { exact: true }).waitFor();
    expect(await gp.getByRole('button', { name: /^Delete / }).count()).toBe(0);
    expect(await gp.getByRole('button', { name: /^Add tag/ }).count()).toBe(0);
    await gp.getByRole('tab', { name: 'Info' }).click();
    await gp.getByRole('heading', { name: 'The app' }).waitFor();
    expect(await gp.getByRole('button', { name: 'Edit description' }).count()).toBe(0);
    // No administration for a non-admin.
    expect(await gp.getByRole('link', { name: 'Users' }).count()).toBe(0);
    await other.close();
  });

  test('deleting an artifact confirms with every tag of its digest', async () => {
    await page.goto(`${berth.url}/projects/${project}/repositories/app`);
    const row = page.getByRole('row').filter({ has: page.getByText('stable', { exact: true }) });
    await row.getByRole('button', { name: 'Delete tag stable' }).click();
    let dialog = page.getByRole('dialog', { name: 'Confirm tag deletion' });
    const tagItems = await dialog.getByRole('listitem').allTextContents();
    expect(tagItems.sort()).toEqual(['app:stable (removed)', 'app:v1'].sort());
    await shot('delete-tag-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    await row.getByRole('button', { name: /^Delete artifact/ }).click();
    dialog = page.getByRole('dialog', { name: 'Confirm artifact deletion' });
    const items = await dialog.getByRole('listitem').allTextContents();
    expect(items.sort()).toEqual(['app:stable', 'app:v1']);
    await dialog.getByRole('button', { name: 'Delete artifact' }).click();
    await dialog.waitFor({ state: 'detached' });
    // The table reloads after the deletion: the row and both tags go away.
    await page.getByText('v1', { exact: true }).waitFor({ state: 'detached' });
    expect(await page.getByText('stable', { exact: true }).count()).toBe(0);
    await page.getByText('v2', { exact: true }).waitFor();
  });

  test('global search finds the project and the repository', async () => {
    // By keyboard: "/" focuses the search box from anywhere on the page.
    await page.locator('body').click({ position: { x: 5, y: 700 } });
    await page.keyboard.press('/');
    await page.keyboard.type(project);
    await page.keyboard.press('Enter');
    await page.getByRole('table', { name: 'Matching projects' }).getByRole('link', { name: project }).waitFor();
    await page.getByRole('table', { name: 'Matching repositories' }).getByRole('link', { name: `${project}/app` }).waitFor();
  });

  test('garbage collection runs from the admin page and its log opens', async () => {
    await page.goto(`${berth.url}/admin/gc`);
    await page.getByRole('button', { name: 'GC Now' }).click();
    await page.getByText('Garbage collection started').waitFor();
    const table = page.getByRole('table', { name: 'GC history' });
    // The run is asynchronous: refresh the history until it has finished
    // (bounded by the poll's timeout).
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh history' }).click();
          await table.getByRole('row').nth(1).getByRole('cell').nth(3).waitFor();
          return (await table.getByRole('row').nth(1).getByRole('cell').nth(3).textContent()) ?? '';
        },
        { timeout: 60_000, interval: 500 },
      )
      .toMatch(/success|error|fail|stopped/i);
    expect(await table.getByRole('row').nth(1).getByRole('cell').nth(3).textContent()).toMatch(/success/i);
    await shot('admin-gc');
    await table.getByRole('button', { name: /^Log of job/ }).first().click();
    const log = page.getByRole('dialog', { name: /Log of GC job/ });
    await expect.poll(async () => (await log.getByLabel('GC log').textContent())?.length ?? 0).toBeGreaterThan(0);
    await log.getByRole('button', { name: 'Close' }).last().click();
  });

  test('a system robot covering all projects logs in with docker', async () => {
    await page.goto(`${berth.url}/admin/robots`);
    await page.getByRole('button', { name: '+ New Robot Account' }).click();
    const dialog = page.getByRole('dialog', { name: 'New robot account' });
    await dialog.getByLabel('Name', { exact: true }).fill('sysbot');
    await dialog.getByLabel('system list project').check();
    await dialog.getByRole('button', { name: 'Create' }).click();
    const shown = page.getByRole('dialog', { name: 'Robot account created' });
    const name = await shown.getByLabel('Robot name').inputValue();
    const secret = await shown.getByLabel('Robot secret').inputValue();
    await shot('admin-robot-secret');
    await shown.getByRole('button', { name: 'Close' }).first().click();
    await page.getByRole('row').filter({ hasText: name }).getByRole('cell', { name: 'All projects' }).waitFor();
    const cfg = join(work, 'docker-sysbot');
    mkdirSync(cfg, { recursive: true });
    expect(await docker(['login', berth.host, '-u', name, '--password-stdin'], { input: secret, config: cfg })).toMatch(/Login Succeeded/);
    await docker(['pull', `${berth.host}/${project}/app:v2`], { config: cfg });
    await docker(['rmi', `${berth.host}/${project}/app:v2`], { config: cfg });
  });

  test('system configuration is saved, and its banner shows on every page', async () => {
    await page.goto(`${berth.url}/admin/configuration`);
    await page.getByLabel('Banner message').fill('Maintenance on Sunday');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Configuration saved').waitFor();
    await page.goto(`${berth.url}/projects`);
    await page.getByText('Maintenance on Sunday').waitFor();
    await page.goto(`${berth.url}/admin/configuration`);
    await expect.poll(() => page.getByLabel('Banner message').inputValue()).toBe('Maintenance on Sunday');
    await page.getByLabel('Banner message').fill('');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Configuration saved').waitFor();
  });

  test('dark mode toggles and the projects list still renders', async () => {
    await page.goto(`${berth.url}/projects`);
    await page.getByRole('button', { name: /Switch to (dark|light) mode/ }).click();
    await page.getByRole('link', { name: project }).waitFor();
    const theme = await page.evaluate(() => document.documentElement.dataset.theme);
    expect(['dark', 'light']).toContain(theme);
    if (theme !== 'dark') await page.getByRole('button', { name: 'Switch to dark mode' }).click();
    await shot('projects-dark');
    // The new admin page in dark mode: the global label made earlier, as a chip.
    await page.goto(`${berth.url}/admin/labels`);
    await page.getByRole('table', { name: 'Labels' }).getByText('qa-passed').waitFor();
    await shot('labels-dark');
    await page.getByRole('button', { name: 'Switch to light mode' }).click();
    await shot('projects');
  });

  test('on a narrow screen the layout folds without the page scrolling sideways', async () => {
    await page.setViewportSize({ width: 600, height: 900 });
    await page.goto(`${berth.url}/projects/${project}/repositories/app`);
    await page.getByText('v2', { exact: true }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).waitFor();
    await shot('narrow-repository');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('sign out ends the session', async () => {
    await page.getByRole('button', { name: /^admin/ }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const r = await page.request.get(`${berth.url}/api/v2.0/users/current`);
    expect(r.status()).toBe(401);
  });
});

test('no script errors in the page, and screenshots were written', () => {
  expect(pageErrors).toEqual([]);
  expect(readFileSync(join(screenshotDir, 'projects.png')).length).toBeGreaterThan(1000);
});
