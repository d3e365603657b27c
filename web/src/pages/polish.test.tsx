// Administration → Configuration, robot editing, the artifact's build
// history and overview, global labels and project quotas, against a
// stubbed API: what the pages show and what they send.
import { describe, expect, test, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import App from '../App';
import { stubAPI } from '../test/stub';

// Typing into dialogs is slow on a loaded CI machine; these are not timing tests.
vi.setConfig({ testTimeout: 30_000 });

const admin = { user_id: 1, username: 'admin', sysadmin_flag: true };
const project = { project_id: 3, name: 'lib', metadata: { public: 'false' }, current_user_role_id: 1, repo_count: 1 };
const all = (resources: string[]) => resources.flatMap((r) => ['read', 'list', 'create', 'update', 'delete', 'pull', 'push'].map((action) => ({ resource: r, action })));
const base = { 'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } }, 'GET /api/v2.0/users/current': { body: admin } };

function at(path: string) {
  window.history.replaceState(null, '', path);
  return render(<App />);
}

describe('administration → configuration', () => {
  test('no auth mode here: a link to Authentication; creation rights and robot prefix are saved', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/configurations': {
        body: {
          auth_mode: { value: 'db_auth', editable: true },
          project_creation_restriction: { value: 'everyone', editable: true },
          robot_name_prefix: { value: 'robot$', editable: true },
        },
      },
      'PUT /api/v2.0/configurations': { status: 200 },
    });
    at('/admin/configuration');
    const prefix = await screen.findByLabelText('Robot name prefix');
    expect(screen.queryByLabelText('Auth mode')).toBeNull();
    expect(screen.getByRole('link', { name: 'Authentication settings' }).getAttribute('href')).toBe('/admin/authentication');
    await user.selectOptions(screen.getByLabelText('Project creation'), 'adminonly');
    await user.clear(prefix);
    await user.type(prefix, 'bot+');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByText('Configuration saved');
    const body = JSON.parse(sent.find((s) => s.method === 'PUT')!.body!);
    expect(body).toMatchObject({ project_creation_restriction: 'adminonly', robot_name_prefix: 'bot+' });
    expect('auth_mode' in body).toBe(false);
  });

  test('an API error on save is shown', async () => {
    const user = userEvent.setup();
    stubAPI({
      ...base,
      'GET /api/v2.0/configurations': { body: { robot_name_prefix: { value: 'robot$', editable: true } } },
      'PUT /api/v2.0/configurations': { status: 400, body: { errors: [{ code: 'BAD_REQUEST', message: 'bad prefix' }] } },
    });
    at('/admin/configuration');
    await screen.findByLabelText('Robot name prefix');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('Bad prefix')).toBeTruthy();
  });
});

describe('robot accounts: edit after creation', () => {
  const ci = {
    id: 9,
    name: 'robot$lib+ci',
    description: 'old',
    level: 'project',
    duration: 30,
    disable: true,
    expires_at: Math.floor(Date.now() / 1000) + 10 * 86400,
    permissions: [{ kind: 'project', namespace: 'lib', access: [{ resource: 'repository', action: 'pull' }] }],
  };

  test('a project robot: disabled is shown; description, expiry and permissions are sent with PUT', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/projects/lib': { body: project },
      'GET /api/v2.0/projects/lib/summary': { body: {} },
      'GET /api/v2.0/users/current/permissions': { body: all(['robot', 'member', 'repository']) },
      'GET /api/v2.0/robots': { body: [ci], headers: { 'X-Total-Count': '1' } },
      'PUT /api/v2.0/robots/9': { status: 200 },
    });
    at('/projects/lib?tab=robots');
    const row = (await screen.findByText('robot$lib+ci')).closest('tr')!;
    expect(within(row).getByText('Disabled')).toBeTruthy();
    await user.click(within(row).getByRole('button', { name: 'Edit robot$lib+ci' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit robot$lib+ci' });
    expect((within(dialog).getByLabelText('pull repository') as HTMLInputElement).checked).toBe(true);
    await user.clear(within(dialog).getByLabelText('Description'));
    await user.type(within(dialog).getByLabelText('Description'), 'builds');
    await user.click(within(dialog).getByLabelText('Never expires'));
    await user.click(within(dialog).getByLabelText('push repository'));
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    await screen.findByText('Saved robot$lib+ci');
    const put = sent.find((s) => s.method === 'PUT')!;
    const body = JSON.parse(put.body!);
    expect(body).toMatchObject({ name: 'robot$lib+ci', description: 'builds', duration: -1, disable: true, permissions: [{ kind: 'project', namespace: 'lib' }] });
    expect(body.permissions[0].access).toEqual([
      { resource: 'repository', action: 'pull' },
      { resource: 'repository', action: 'push' },
    ]);
  });

  test('a system robot keeps its system permissions and projects; a refused save shows the error', async () => {
    const user = userEvent.setup();
    const sys = {
      id: 4,
      name: 'robot$ops',
      level: 'system',
      duration: -1,
      permissions: [
        { kind: 'system', namespace: '/', access: [{ resource: 'catalog', action: 'read' }] },
        { kind: 'project', namespace: 'lib', access: [{ resource: 'repository', action: 'pull' }] },
      ],
    };
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/robots': { body: [sys], headers: { 'X-Total-Count': '1' } },
      'PUT /api/v2.0/robots/4': { status: 403, body: { errors: [{ code: 'FORBIDDEN', message: 'not allowed' }] } },
    });
    at('/admin/robots');
    await user.click(await screen.findByRole('button', { name: 'Edit robot$ops' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit robot$ops' });
    expect((within(dialog).getByLabelText('system read catalog') as HTMLInputElement).checked).toBe(true);
    expect((within(dialog).getByLabelText('Projects') as HTMLInputElement).value).toBe('lib');
    expect((within(dialog).getByLabelText('Never expires') as HTMLInputElement).checked).toBe(true);
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    expect(await within(dialog).findByText('Not allowed')).toBeTruthy();
    expect(JSON.parse(sent.find((s) => s.method === 'PUT')!.body!).permissions).toEqual(sys.permissions);
  });
});

describe('artifact: overview and build history', () => {
  const D = 'sha256:' + 'd'.repeat(64);
  const artPath = `/api/v2.0/projects/lib/repositories/team%252Fapp/artifacts/${encodeURIComponent(D)}`;
  const art = {
    digest: D,
    type: 'IMAGE',
    manifest_media_type: 'application/vnd.oci.image.manifest.v1+json',
    size: 2048,
    project_id: 3,
    tags: [{ name: 'v1' }],
    extra_attrs: { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'] } },
    annotations: { 'org.opencontainers.image.source': 'https://git.example/app' },
    addition_links: { build_history: { href: `${artPath}/additions/build_history` } },
  };
  const stubs = {
    ...base,
    'GET /api/v2.0/users/current/permissions': { body: all(['artifact']) },
    [`GET ${artPath}`]: { body: art },
  };

  test('overview: summary, config, annotations and the pull command by digest', async () => {
    stubAPI(stubs);
    at(`/projects/lib/artifact/${encodeURIComponent(D)}/team/app?tab=overview`);
    const pull = await screen.findByLabelText('Pull command by digest');
    expect(pull.textContent).toBe(`docker pull ${window.location.host}/lib/team/app@${D}`);
    expect(screen.getByRole('button', { name: 'Copy pull command by digest' })).toBeTruthy();
    expect(screen.getByText('application/vnd.oci.image.manifest.v1+json')).toBeTruthy();
    expect(screen.getByText('amd64')).toBeTruthy();
    expect(screen.getByText(/"PATH=\/bin"/)).toBeTruthy();
    expect(screen.getByText('https://git.example/app')).toBeTruthy();
  });

  test('build history: the steps, keyboard-reachable tabs, and an API error', async () => {
    const user = userEvent.setup();
    let fail = false;
    stubAPI({
      ...stubs,
      [`GET ${artPath}/additions/build_history`]: () =>
        fail
          ? { status: 500, body: { errors: [{ code: 'UNKNOWN', message: 'blob unreadable' }] } }
          : {
              body: [
                { created: '2026-01-02T03:04:05Z', created_by: '/bin/sh -c #(nop) ADD file:abc in / ' },
                { created: '2026-01-02T03:04:06Z', created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
                { created: '2026-01-02T03:04:07Z', comment: 'Imported from -' },
              ],
            },
    });
    at(`/projects/lib/artifact/${encodeURIComponent(D)}/team/app?tab=overview`);
    await screen.findByLabelText('Pull command by digest');
    const tab = screen.getByRole('tab', { name: 'Build History' });
    tab.focus();
    await user.keyboard('{Enter}');
    const table = await screen.findByRole('table', { name: 'Build history steps' });
    expect(within(table).getByText('ADD file:abc in /')).toBeTruthy();
    expect(within(table).getByText('CMD ["sh"]')).toBeTruthy();
    expect(within(table).getByText('empty')).toBeTruthy();
    expect(within(table).getByText('no command recorded')).toBeTruthy();
    expect(within(table).getByText('Imported from -')).toBeTruthy();
    fail = true;
    await user.click(screen.getByRole('button', { name: 'Refresh build history' }));
    expect(await screen.findByText('Blob unreadable')).toBeTruthy();
  });
});

describe('administration → labels', () => {
  test('lists global labels; creates, edits and deletes one', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/labels': { body: [{ id: 5, name: 'prod', color: '#ff0000', scope: 'g', description: 'live' }], headers: { 'X-Total-Count': '1' } },
      'POST /api/v2.0/labels': { status: 201 },
      'PUT /api/v2.0/labels/5': { status: 200 },
      'DELETE /api/v2.0/labels/5': { status: 200 },
    });
    at('/admin/labels');
    expect(await screen.findByText('live')).toBeTruthy();
    expect(sent.find((s) => s.url.startsWith('/api/v2.0/labels?'))!.url).toContain('scope=g');
    await user.click(screen.getByRole('button', { name: '+ New Label' }));
    const dialog = screen.getByRole('dialog', { name: 'New label' });
    await user.type(within(dialog).getByLabelText('Label name'), 'beta');
    await user.type(within(dialog).getByLabelText('Description'), 'try me');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    await screen.findByText('Saved label beta');
    expect(JSON.parse(sent.find((s) => s.method === 'POST')!.body!)).toEqual({ name: 'beta', description: 'try me', color: '#0072c6', scope: 'g' });

    await user.click(screen.getByRole('button', { name: 'Edit label prod' }));
    const edit = screen.getByRole('dialog', { name: 'Edit label prod' });
    await user.clear(within(edit).getByLabelText('Description'));
    await user.type(within(edit).getByLabelText('Description'), 'production');
    await user.click(within(edit).getByRole('button', { name: 'Save' }));
    await screen.findByText('Saved label prod');
    expect(JSON.parse(sent.find((s) => s.method === 'PUT')!.body!)).toMatchObject({ id: 5, name: 'prod', description: 'production', color: '#ff0000', scope: 'g' });

    await user.click(screen.getByRole('button', { name: 'Delete label prod' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Delete label' })).getByRole('button', { name: /Delete/ }));
    await screen.findByText('Deleted label prod');
    expect(sent.some((s) => s.method === 'DELETE' && s.url === '/api/v2.0/labels/5')).toBe(true);
  });

  test('a refused label shows the API error in the dialog', async () => {
    const user = userEvent.setup();
    stubAPI({
      ...base,
      'GET /api/v2.0/labels': { body: [], headers: { 'X-Total-Count': '0' } },
      'POST /api/v2.0/labels': { status: 409, body: { errors: [{ code: 'CONFLICT', message: 'label prod already exists' }] } },
    });
    at('/admin/labels');
    await screen.findByText('No global labels.');
    await user.click(screen.getByRole('button', { name: '+ New Label' }));
    const dialog = screen.getByRole('dialog', { name: 'New label' });
    await user.type(within(dialog).getByLabelText('Label name'), 'prod');
    await user.keyboard('{Enter}');
    expect(await within(dialog).findByText('Label prod already exists')).toBeTruthy();
  });
});

describe('project quota', () => {
  const stubs = {
    ...base,
    'GET /api/v2.0/projects/lib': { body: project },
    'GET /api/v2.0/users/current/permissions': { body: all(['repository']) },
  };

  test('the summary shows usage; a system admin sets the quota with PUT /quotas/{project id}', async () => {
    const user = userEvent.setup();
    let hard = 1024 ** 3;
    const sent = stubAPI({
      ...stubs,
      'GET /api/v2.0/projects/lib/summary': () => ({ body: { repo_count: 1, quota: { hard: { storage: hard }, used: { storage: 512 * 1024 ** 2 } } } }),
      'PUT /api/v2.0/quotas/3': (s) => {
        hard = JSON.parse(s.body!).hard.storage;
        return { status: 200 };
      },
    });
    at('/projects/lib?tab=summary');
    const meter = await screen.findByRole('meter', { name: 'Quota usage' });
    expect(meter.getAttribute('value')).toBe(String(512 * 1024 ** 2));
    expect(within(screen.getByRole('meter', { name: 'Quota usage' }).closest('dd')!).getByText(/512.0 MiB of 1.00 GiB/)).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Edit project quota' }));
    const dialog = screen.getByRole('dialog', { name: 'Quota of lib' });
    await user.clear(within(dialog).getByLabelText('Quota amount'));
    await user.type(within(dialog).getByLabelText('Quota amount'), '2');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    await screen.findByText('Quota of lib saved');
    expect(JSON.parse(sent.find((s) => s.method === 'PUT')!.body!)).toEqual({ hard: { storage: 2 * 1024 ** 3 } });
    expect((await screen.findAllByText(/512.0 MiB of 2.00 GiB/)).length).toBeGreaterThan(0);
  });

  test('a bad amount is refused before sending', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({ ...stubs, 'GET /api/v2.0/projects/lib/summary': { body: { quota: { hard: { storage: -1 }, used: { storage: 0 } } } } });
    at('/projects/lib?tab=summary');
    await user.click(await screen.findByRole('button', { name: 'Edit project quota' }));
    const dialog = screen.getByRole('dialog', { name: 'Quota of lib' });
    await user.clear(within(dialog).getByLabelText('Quota amount'));
    await user.type(within(dialog).getByLabelText('Quota amount'), '0');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    expect(await within(dialog).findByText(/must be -1 \(unlimited\) or a positive number/)).toBeTruthy();
    expect(sent.some((s) => s.method === 'PUT')).toBe(false);
  });
});
