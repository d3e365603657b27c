// Pages rendered in the whole app (router, session, toasts) against a
// stubbed API: what a user sees and what the UI sends.
import { describe, expect, test } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import App, { resolve } from '../App';
import { safeRedirect } from './SignIn';
import { stubAPI } from '../test/stub';

const admin = { user_id: 1, username: 'admin', sysadmin_flag: true };
const guest = { user_id: 2, username: 'guest1', sysadmin_flag: false };
const project = { project_id: 3, name: 'lib', metadata: { public: 'false' }, current_user_role_id: 1, repo_count: 1 };
const all = (resources: string[]) => resources.flatMap((r) => ['read', 'list', 'create', 'update', 'delete', 'pull', 'push'].map((action) => ({ resource: r, action })));

function at(path: string) {
  window.history.replaceState(null, '', path);
  return render(<App />);
}

test('the route table resolves each page, longest pattern first', () => {
  expect(resolve('/projects')?.route.title).toBe('Projects');
  expect(resolve('/projects/lib')?.params).toEqual({ project: 'lib' });
  expect(resolve('/projects/lib/repositories/a/b')?.params).toEqual({ project: 'lib', repo: 'a/b' });
  expect(resolve('/admin/gc')?.route.access).toBe('admin');
  expect(resolve('/nope')).toBeNull();
});

test('safeRedirect only follows same-site paths', () => {
  expect(safeRedirect('/projects/lib?tab=members')).toBe('/projects/lib?tab=members');
  for (const bad of ['//evil.example', 'https://evil.example', '/\\evil', null, '/account/sign-in']) expect(safeRedirect(bad)).toBe('/projects');
});

describe('sign in', () => {
  test('OIDC mode offers the provider first, then the local form', async () => {
    const user = userEvent.setup();
    stubAPI({ 'GET /api/v2.0/systeminfo': { body: { auth_mode: 'oidc_auth', oidc_provider_name: '' } }, 'GET /api/v2.0/users/current': { status: 401, body: { errors: [{ code: 'UNAUTHORIZED', message: 'x' }] } } });
    at('/projects');
    const link = await screen.findByRole('link', { name: 'Login via OIDC provider' });
    expect(link.getAttribute('href')).toBe('/c/oidc/login?redirect_url=%2Fprojects');
    expect(screen.queryByLabelText('Username')).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Sign in with a local account' }));
    expect(screen.getByLabelText('Username')).toBeTruthy();
  });

  test('a failed sign-in shows the API error and keeps the form', async () => {
    const user = userEvent.setup();
    stubAPI({
      'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } },
      'GET /api/v2.0/users/current': { status: 401, body: { errors: [{ code: 'UNAUTHORIZED', message: 'x' }] } },
      'POST /c/login': { status: 401, body: { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] } },
    });
    at('/account/sign-in');
    expect(screen.queryByRole('link', { name: /OIDC/ })).toBeNull();
    await user.type(await screen.findByLabelText('Username'), 'admin');
    await user.type(screen.getByLabelText('Password'), 'nope');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Invalid username or password');
  });
});

test('projects list asks the API for the page, sort and name filter', async () => {
  const user = userEvent.setup();
  const sent = stubAPI({
    'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } },
    'GET /api/v2.0/users/current': { body: admin },
    'GET /api/v2.0/projects': { body: [project], headers: { 'X-Total-Count': '61' } },
  });
  at('/projects');
  await screen.findByRole('link', { name: 'lib' });
  expect(screen.getByText('1 – 25 of 61 items')).toBeTruthy();
  await user.click(within(screen.getByRole('columnheader', { name: /Creation Time/ })).getByRole('button'));
  await user.type(screen.getByRole('searchbox', { name: 'Filter projects by name' }), 'li{Enter}');
  await user.click(screen.getByRole('button', { name: 'Next page' }));
  await screen.findByText('26 – 50 of 61 items');
  const last = new URL(sent.filter((s) => s.url.startsWith('/api/v2.0/projects')).at(-1)!.url, 'http://x').searchParams;
  expect(Object.fromEntries(last)).toEqual({ page: '2', page_size: '25', sort: 'creation_time', name: 'li' });
});

describe('repository artifacts', () => {
  const artifacts = [
    { digest: 'sha256:' + 'a'.repeat(64), size: 2048, tags: [{ name: 'v1' }, { name: 'stable' }], references: [{ child_digest: 'sha256:' + 'c'.repeat(64), platform: { os: 'linux', architecture: 'arm64' } }] },
    { digest: 'sha256:' + 'b'.repeat(64), size: 1024, tags: [{ name: 'v2' }], accessories: [{ type: 'signature.cosign' }] },
  ];
  function stubs(perms: { resource: string; action: string }[]) {
    return stubAPI({
      'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } },
      'GET /api/v2.0/users/current': { body: admin },
      'GET /api/v2.0/projects/lib': { body: project },
      'GET /api/v2.0/users/current/permissions': { body: perms },
      'GET /api/v2.0/projects/lib/repositories/team%252Fapp/artifacts': { body: artifacts, headers: { 'X-Total-Count': '2' } },
      'DELETE /api/v2.0/projects/lib/repositories/team%252Fapp/artifacts/sha256%3Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': { status: 200 },
    });
  }

  test('deleting an artifact lists every tag of its digest first', async () => {
    const user = userEvent.setup();
    const sent = stubs(all(['artifact', 'tag', 'repository']));
    at('/projects/lib/repositories/team/app');
    await user.click(await screen.findByRole('button', { name: 'Delete artifact sha256:aaaaaaaaaaaa' }));
    const dialog = screen.getByRole('dialog', { name: 'Confirm artifact deletion' });
    expect(within(dialog).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['team/app:v1', 'team/app:stable']);
    await user.click(within(dialog).getByRole('button', { name: 'Delete artifact' }));
    await screen.findByText('Deleted sha256:aaaaaaaaaaaa');
    expect(sent.some((s) => s.method === 'DELETE' && s.url.includes('/repositories/team%252Fapp/artifacts/sha256%3A'))).toBe(true);
  });

  test('shows the signed badge, platforms, and the per-tag pull command', async () => {
    const user = userEvent.setup();
    stubs(all(['artifact', 'tag']));
    at('/projects/lib/repositories/team/app');
    const row = (await screen.findByText('v2')).closest('tr')!;
    expect(within(row).getByText('Signed')).toBeTruthy();
    expect(within(row).getByRole('button', { name: 'Copy pull command for v2' }).getAttribute('title')).toBe(`docker pull ${window.location.host}/lib/team/app:v2`);
    await user.selectOptions(screen.getByRole('combobox', { name: 'Pull with' }), 'podman');
    expect(within(row).getByRole('button', { name: 'Copy pull command for v2' }).getAttribute('title')).toBe(`podman pull ${window.location.host}/lib/team/app:v2`);
    expect(localStorage.getItem('berth.pullRuntime')).toBe('podman');
    await user.click(screen.getByRole('button', { name: /Show the 1 platforms/ }));
    expect(within(screen.getByRole('table', { name: /Platforms of/ })).getByText('linux/arm64')).toBeTruthy();
  });

  test('without delete permission there is nothing to delete', async () => {
    stubs([{ resource: 'artifact', action: 'list' }]);
    at('/projects/lib/repositories/team/app');
    await screen.findByText('v2');
    expect(screen.queryByRole('button', { name: /^Delete/ })).toBeNull();
    expect(screen.queryByRole('button', { name: /^Add tag/ })).toBeNull();
  });
});

test('a new robot secret is shown once with copy and export', async () => {
  const user = userEvent.setup();
  const sent = stubAPI({
    'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } },
    'GET /api/v2.0/users/current': { body: admin },
    'GET /api/v2.0/projects/lib': { body: project },
    'GET /api/v2.0/projects/lib/summary': { body: {} },
    'GET /api/v2.0/users/current/permissions': { body: all(['robot', 'member', 'repository']) },
    'GET /api/v2.0/robots': { body: [], headers: { 'X-Total-Count': '0' } },
    'POST /api/v2.0/robots': { status: 201, body: { id: 9, name: 'robot$lib+ci', secret: 's3cr3t-value' } },
  });
  at('/projects/lib?tab=robots');
  await user.click(await screen.findByRole('button', { name: '+ New Robot Account' }));
  const dialog = screen.getByRole('dialog', { name: 'New robot account' });
  await user.type(within(dialog).getByLabelText('Name'), 'ci');
  await user.click(within(dialog).getByLabelText('push repository'));
  await user.click(within(dialog).getByRole('button', { name: 'Create' }));
  const shown = await screen.findByRole('dialog', { name: 'Robot account created' });
  expect((within(shown).getByLabelText('Robot secret') as HTMLInputElement).value).toBe('s3cr3t-value');
  expect(within(shown).getByRole('button', { name: 'Export to file' })).toBeTruthy();
  const body = JSON.parse(sent.find((s) => s.method === 'POST')!.body!);
  expect(body).toMatchObject({ name: 'ci', level: 'project', duration: 30, permissions: [{ kind: 'project', namespace: 'lib' }] });
  expect(body.permissions[0].access).toEqual(expect.arrayContaining([{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }]));
});

test('administration is hidden from, and refused to, non-admins', async () => {
  stubAPI({ 'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } }, 'GET /api/v2.0/users/current': { body: guest } });
  at('/admin/users');
  expect((await screen.findByRole('alert')).textContent).toMatch(/Only system administrators/);
  expect(screen.queryByRole('link', { name: 'Users' })).toBeNull();
});

test('garbage collection: a dry run asks for dry_run, and the history shows the result', async () => {
  const user = userEvent.setup();
  const sent = stubAPI({
    'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } },
    'GET /api/v2.0/users/current': { body: admin },
    'GET /api/v2.0/system/gc': { body: [{ id: 4, job_kind: 'MANUAL', job_status: 'Success', job_parameters: '{"dry_run":true}' }], headers: { 'X-Total-Count': '1' } },
    'GET /api/v2.0/system/gc/schedule': { body: { schedule: { type: 'None' } } },
    'POST /api/v2.0/system/gc/schedule': { status: 201 },
  });
  at('/admin/gc');
  const row = (await screen.findByRole('cell', { name: 'Success' })).closest('tr')!;
  expect(within(row).getByText('Yes')).toBeTruthy();
  await user.click(screen.getByRole('checkbox', { name: /untagged/ }));
  await user.click(screen.getByRole('button', { name: 'Dry Run' }));
  await screen.findByText('Dry run started');
  const body = JSON.parse(sent.find((s) => s.method === 'POST')!.body!);
  expect(body).toEqual({ schedule: { type: 'Manual' }, parameters: { dry_run: true, delete_untagged: false } });
});
