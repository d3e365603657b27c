// The single sign-on, scanning and content-trust pages against a stubbed
// API: what they show and what they send.
import { describe, expect, test } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import App, { resolve } from '../App';
import { stubAPI } from '../test/stub';

const admin = { user_id: 1, username: 'admin', sysadmin_flag: true };
const project = { project_id: 3, name: 'lib', metadata: { public: 'false' }, current_user_role_id: 1, repo_count: 1 };
const all = (resources: string[]) => resources.flatMap((r) => ['read', 'list', 'create', 'update', 'delete'].map((action) => ({ resource: r, action })));
const A = 'sha256:' + 'a'.repeat(64);
const B = 'sha256:' + 'b'.repeat(64);
const MIME = 'application/vnd.security.vulnerability.report; version=1.1';
const base = { 'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } }, 'GET /api/v2.0/users/current': { body: admin } };
const artPath = (d: string) => `/api/v2.0/projects/lib/repositories/team%252Fapp/artifacts/${encodeURIComponent(d)}`;

function at(path: string) {
  window.history.replaceState(null, '', path);
  return render(<App />);
}

test('the artifact page route takes the digest and the repository', () => {
  expect(resolve(`/projects/lib/artifact/${A}/team/app`)?.params).toEqual({ project: 'lib', reference: A, repo: 'team/app' });
});

describe('artifacts: scanning and signatures', () => {
  const scanned = {
    digest: A,
    tags: [{ name: 'v1' }],
    scan_overview: { [MIME]: { scan_status: 'Success', severity: 'High', summary: { total: 3, fixable: 1, summary: { High: 1, Low: 2 } } } },
  };
  const running = { digest: B, tags: [{ name: 'v2' }], scan_overview: { [MIME]: { scan_status: 'Running', complete_percent: 40 } } };
  const unscanned = { digest: 'sha256:' + 'c'.repeat(64), tags: [{ name: 'v3' }] };

  test('the table shows the summary, progress, "Not scanned", and scans and stops', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/projects/lib': { body: project },
      'GET /api/v2.0/users/current/permissions': { body: all(['artifact', 'scan']) },
      'GET /api/v2.0/projects/lib/repositories/team%252Fapp/artifacts': { body: [scanned, running, unscanned], headers: { 'X-Total-Count': '3' } },
      [`POST ${artPath(unscanned.digest)}/scan`]: { status: 202 },
      [`POST ${artPath(B)}/scan/stop`]: { status: 202 },
    });
    at('/projects/lib/repositories/team/app');
    const row1 = (await screen.findByText('v1')).closest('tr')!;
    expect(within(row1).getByText('3 total, 1 fixable')).toBeTruthy();
    expect(within(row1).getByRole('img', { name: '1 High, 2 Low' })).toBeTruthy();
    expect(within(row1).getByRole('link', { name: 'Vulnerabilities of aaaaaaaaaaaa' }).getAttribute('href')).toBe(`/projects/lib/artifact/${encodeURIComponent(A)}/team/app?tab=vulnerabilities`);
    const row2 = screen.getByText('v2').closest('tr')!;
    expect((within(row2).getByRole('progressbar', { name: 'Scan progress of bbbbbbbbbbbb' }) as HTMLProgressElement).value).toBe(40);
    await user.click(await within(row2).findByRole('button', { name: 'Stop scanning bbbbbbbbbbbb' }));
    const row3 = screen.getByText('v3').closest('tr')!;
    expect(within(row3).getByText('Not scanned')).toBeTruthy();
    await user.click(within(row3).getByRole('button', { name: 'Scan cccccccccccc' }));
    const posts = sent.filter((s) => s.method === 'POST').map((s) => [s.url, s.body]);
    expect(posts).toEqual([
      [`${artPath(B)}/scan/stop`, '{"scan_type":"vulnerability"}'],
      [`${artPath(unscanned.digest)}/scan`, '{"scan_type":"vulnerability"}'],
    ]);
  });

  test('no Scan button without the scan permission', async () => {
    stubAPI({
      ...base,
      'GET /api/v2.0/projects/lib': { body: project },
      'GET /api/v2.0/users/current/permissions': { body: [{ resource: 'artifact', action: 'list' }] },
      'GET /api/v2.0/projects/lib/repositories/team%252Fapp/artifacts': { body: [unscanned], headers: { 'X-Total-Count': '1' } },
    });
    at('/projects/lib/repositories/team/app');
    await screen.findByText('Not scanned');
    expect(screen.queryByRole('button', { name: /^Scan / })).toBeNull();
  });

  test('the vulnerability report lists findings, worst first, and filters by severity', async () => {
    const user = userEvent.setup();
    stubAPI({
      ...base,
      'GET /api/v2.0/users/current/permissions': { body: [] },
      [`GET ${artPath(A)}`]: { body: { ...scanned, project_id: 3 } },
      [`GET ${artPath(A)}/additions/vulnerabilities`]: {
        body: {
          [MIME]: {
            generated_at: '2026-11-26T10:00:00Z',
            scanner: { name: 'berth', version: '1.0' },
            severity: 'High',
            vulnerabilities: [
              { id: 'CVE-2024-0002', package: 'zlib', version: '1.2', fix_version: '', severity: 'Low', links: ['https://osv.dev/CVE-2024-0002'] },
              { id: 'CVE-2024-0001', package: 'openssl', version: '3.0.1', fix_version: '3.0.2', severity: 'High', links: ['https://osv.dev/CVE-2024-0001'] },
              { id: 'CVE-2024-0003', package: 'busybox', version: '1.36', severity: 'Low' },
            ],
          },
        },
      },
    });
    at(`/projects/lib/artifact/${encodeURIComponent(A)}/team/app`);
    const table = await screen.findByRole('table', { name: 'Vulnerability report' });
    const ids = () => within(table).getAllByRole('row').slice(1).map((r) => r.firstElementChild!.textContent);
    expect(ids()).toEqual(['CVE-2024-0001', 'CVE-2024-0002', 'CVE-2024-0003']);
    const first = within(table).getAllByRole('row')[1]!;
    expect(within(first).getByText('openssl')).toBeTruthy();
    expect(within(first).getByText('3.0.2')).toBeTruthy();
    expect(within(first).getByRole('link', { name: 'osv.dev' }).getAttribute('href')).toBe('https://osv.dev/CVE-2024-0001');
    await user.selectOptions(screen.getByRole('combobox', { name: 'Filter by severity' }), 'Low');
    expect(ids()).toEqual(['CVE-2024-0002', 'CVE-2024-0003']);
    await user.type(screen.getByRole('searchbox', { name: 'Filter by CVE or package' }), 'busy');
    expect(ids()).toEqual(['CVE-2024-0003']);
  });

  test('a clean report says so', async () => {
    stubAPI({
      ...base,
      'GET /api/v2.0/users/current/permissions': { body: [] },
      [`GET ${artPath(A)}`]: { body: { digest: A, project_id: 3, scan_overview: { [MIME]: { scan_status: 'Success', summary: { total: 0 } } } } },
      [`GET ${artPath(A)}/additions/vulnerabilities`]: { body: { [MIME]: { severity: 'None', vulnerabilities: [] } } },
    });
    at(`/projects/lib/artifact/${encodeURIComponent(A)}/team/app`);
    expect(await screen.findByText('No vulnerabilities')).toBeTruthy();
  });

  test('the SBOM tab generates one and gives the command that fetches it', async () => {
    const user = userEvent.setup();
    const S = 'sha256:' + 'e'.repeat(64);
    let generated = false;
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/users/current/permissions': { body: all(['scan']) },
      [`GET ${artPath(A)}`]: () => ({ body: { digest: A, project_id: 3, sbom_overview: generated ? { scan_status: 'Success', sbom_digest: S } : undefined } }),
      [`POST ${artPath(A)}/scan`]: () => ((generated = true), { status: 202 }),
    });
    at(`/projects/lib/artifact/${encodeURIComponent(A)}/team/app?tab=sbom`);
    await user.click(await screen.findByRole('button', { name: 'Generate SBOM' }));
    const copy = await screen.findByRole('button', { name: 'Copy SBOM download command' });
    expect(copy.getAttribute('title')).toBe(`oras pull ${window.location.host}/lib/team/app@${S}`);
    expect(sent.find((s) => s.method === 'POST')!.body).toBe('{"scan_type":"sbom"}');
  });

  test('the SBOM tab downloads the document through the API', async () => {
    const S = 'sha256:' + 'e'.repeat(64);
    stubAPI({
      ...base,
      'GET /api/v2.0/users/current/permissions': { body: [] },
      [`GET ${artPath(A)}`]: { body: { digest: A, project_id: 3, sbom_overview: { scan_status: 'Success', sbom_digest: S } } },
    });
    at(`/projects/lib/artifact/${encodeURIComponent(A)}/team/app?tab=sbom`);
    const dl = await screen.findByRole('link', { name: 'Download SBOM' });
    expect(dl.getAttribute('href')).toBe(`${artPath(S)}/additions/sbom`);
    expect(dl.hasAttribute('download')).toBe(true);
    // The command stays as the alternative; no Generate button without the permission.
    expect(screen.getByRole('button', { name: 'Copy SBOM download command' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Generate SBOM again' })).toBeNull();
  });

  test('the SBOM tab offers no download before an SBOM exists', async () => {
    stubAPI({
      ...base,
      'GET /api/v2.0/users/current/permissions': { body: [] },
      [`GET ${artPath(A)}`]: { body: { digest: A, project_id: 3, sbom_overview: { scan_status: 'Running' } } },
    });
    at(`/projects/lib/artifact/${encodeURIComponent(A)}/team/app?tab=sbom`);
    expect(await screen.findByText('SBOM: Running')).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Download SBOM' })).toBeNull();
  });

  test('the signatures tab shows who signed, when, and the key that verified it', async () => {
    stubAPI({
      ...base,
      'GET /api/v2.0/users/current/permissions': { body: [] },
      [`GET ${artPath(A)}`]: { body: { digest: A, project_id: 3 } },
      [`GET ${artPath(A)}/additions/signatures`]: {
        body: [
          { digest: B, format: 'cosign', kind: 'signature', signer: 'ci@example.com', signed_at: '2026-11-26T10:00:00Z', verified: true, trusted_by: 'release-key' },
          { digest: 'sha256:' + 'd'.repeat(64), format: 'notation', kind: 'signature', verified: false, problem: 'no trusted certificate' },
        ],
      },
    });
    at(`/projects/lib/artifact/${encodeURIComponent(A)}/team/app?tab=signatures`);
    const table = await screen.findByRole('table', { name: 'Signatures' });
    const [, cosign, notation] = within(table).getAllByRole('row');
    expect(within(cosign!).getByText('ci@example.com')).toBeTruthy();
    expect(within(cosign!).getByText('Verified by release-key')).toBeTruthy();
    expect(within(notation!).getByText('Not verified: no trusted certificate')).toBeTruthy();
  });
});

describe('administration', () => {
  test('authentication: OIDC settings, the redirect URI, the provider test, a write-only secret', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/configurations': {
        body: { auth_mode: { value: 'oidc_auth', editable: true }, oidc_endpoint: { value: 'https://idp.example', editable: true }, oidc_verify_cert: { value: true, editable: true } },
      },
      'GET /api/v2.0/system/oidc': { body: { redirect_url: 'https://berth.example/c/oidc/callback' } },
      'POST /api/v2.0/system/oidc/ping': { status: 200 },
      'PUT /api/v2.0/configurations': { status: 200 },
    });
    at('/admin/authentication');
    expect((await screen.findByRole('button', { name: 'Copy redirect URI' })).getAttribute('title')).toBe('https://berth.example/c/oidc/callback');
    await user.click(screen.getByRole('button', { name: 'Test OIDC server' }));
    expect(await screen.findByText('The OIDC provider answered.')).toBeTruthy();
    expect(JSON.parse(sent.find((s) => s.url.endsWith('/oidc/ping'))!.body!)).toEqual({ url: 'https://idp.example', verify_cert: true });
    await user.type(screen.getByLabelText('OIDC client ID'), 'berth');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByText('Authentication settings saved');
    const body = JSON.parse(sent.find((s) => s.method === 'PUT')!.body!);
    expect(body).toMatchObject({ auth_mode: 'oidc_auth', oidc_client_id: 'berth', oidc_endpoint: 'https://idp.example' });
    expect('oidc_client_secret' in body).toBe(false);
  });

  test('authentication: a locked mode is disabled and says why; LDAP has its test', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/configurations': { body: { auth_mode: { value: 'ldap_auth', editable: false }, ldap_url: { value: 'ldap://dir:389', editable: true } } },
      'GET /api/v2.0/system/oidc': { body: {} },
      'POST /api/v2.0/ldap/ping': { body: { success: true } },
    });
    at('/admin/authentication');
    await user.click(await screen.findByRole('button', { name: 'Test LDAP server' }));
    expect((screen.getByLabelText('Auth mode') as HTMLSelectElement).disabled).toBe(true);
    expect(screen.getByText(/Locked: users other than admin exist/)).toBeTruthy();
    expect(await screen.findByText('The LDAP server answered.')).toBeTruthy();
    expect(JSON.parse(sent.find((s) => s.url.endsWith('/ldap/ping'))!.body!)).toMatchObject({ ldap_url: 'ldap://dir:389' });
  });

  test('groups: list and create', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      'GET /api/v2.0/systeminfo': { body: { auth_mode: 'oidc_auth' } },
      'GET /api/v2.0/users/current': { body: admin },
      'GET /api/v2.0/usergroups': { body: [{ id: 1, group_name: 'devs', group_type: 3 }], headers: { 'X-Total-Count': '1' } },
      'POST /api/v2.0/usergroups': { status: 201 },
    });
    at('/admin/groups');
    const row = (await screen.findByText('devs')).closest('tr')!;
    expect(within(row).getByText('OIDC')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: '+ New Group' }));
    const dialog = screen.getByRole('dialog', { name: 'New group' });
    await user.type(within(dialog).getByLabelText('Group name'), 'ops');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    await screen.findByText('Created group ops');
    expect(JSON.parse(sent.find((s) => s.method === 'POST')!.body!)).toEqual({ group_name: 'ops', group_type: 3 });
  });

  test('groups: in database mode there is nothing to add, and why', async () => {
    stubAPI({ ...base, 'GET /api/v2.0/usergroups': { body: [], headers: { 'X-Total-Count': '0' } } });
    at('/admin/groups');
    expect(await screen.findByText(/Groups come from the identity provider/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: '+ New Group' })).toBeNull();
  });

  test('interrogation services: scanners, default, database age and source', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/scanners': {
        body: [
          { uuid: 'builtin', name: 'berth', url: 'internal', is_default: true, health: 'healthy' },
          { uuid: 'u2', name: 'trivy', url: 'http://trivy:8080', health: 'unhealthy' },
        ],
        headers: { 'X-Total-Count': '2' },
      },
      'PATCH /api/v2.0/scanners/u2': { status: 200 },
      'GET /api/v2.0/scanners/builtin/metadata': {
        body: { scanner: { name: 'berth' }, properties: { 'harbor.scanner-adapter/vulnerability-database-updated-at': '2026-11-20T00:00:00Z', 'berth.vulnerability-database-source': 'osv.zip' } },
      },
    });
    at('/admin/interrogation-services');
    await user.click(await screen.findByRole('button', { name: 'Set trivy as default' }));
    await screen.findByText('trivy is the default scanner');
    expect(JSON.parse(sent.find((s) => s.method === 'PATCH')!.body!)).toEqual({ is_default: true });
    await user.click(screen.getByRole('button', { name: 'Details of berth' }));
    expect((await screen.findByLabelText('Vulnerability database')).textContent).toMatch(/newest record .* days old\), from osv\.zip/);
  });

  test('interrogation services: scan now and the system allowlist', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/system/scanAll/schedule': { body: { schedule: { type: 'None' } } },
      'GET /api/v2.0/scans/all/metrics': { body: { total: 0 } },
      'POST /api/v2.0/system/scanAll/schedule': { status: 201 },
      'GET /api/v2.0/system/CVEAllowlist': { body: { items: [{ cve_id: 'CVE-2020-1' }] } },
      'PUT /api/v2.0/system/CVEAllowlist': { status: 200 },
    });
    at('/admin/interrogation-services?tab=vulnerability');
    await user.click(await screen.findByRole('button', { name: 'Scan now' }));
    await screen.findByText('Scan all started');
    const ids = (await screen.findByLabelText('CVE IDs')) as HTMLTextAreaElement;
    expect(ids.value).toBe('CVE-2020-1');
    await user.type(ids, '\nCVE-2021-2');
    await user.click(screen.getByRole('button', { name: 'Save allowlist' }));
    await screen.findByText('CVE allowlist saved');
    expect(JSON.parse(sent.find((s) => s.method === 'PUT')!.body!)).toMatchObject({ items: [{ cve_id: 'CVE-2020-1' }, { cve_id: 'CVE-2021-2' }], expires_at: null });
  });
});

describe('project configuration: trust keys and allowlist', () => {
  test('adds a pasted cosign key and deletes one', async () => {
    const user = userEvent.setup();
    const sent = stubAPI({
      ...base,
      'GET /api/v2.0/projects/lib': { body: project },
      'GET /api/v2.0/projects/lib/summary': { body: {} },
      'GET /api/v2.0/users/current/permissions': { body: all(['metadata', 'configuration', 'scanner']) },
      'GET /api/v2.0/projects/lib/scanner': { body: { uuid: 'builtin', name: 'berth' } },
      'GET /api/v2.0/projects/lib/scanner/candidates': { body: [{ uuid: 'builtin', name: 'berth' }] },
      'GET /api/v2.0/system/CVEAllowlist': { body: { items: [] } },
      'GET /api/v2.0/projects/lib/trust-keys': { body: [{ id: 7, type: 'notation', name: 'root-ca', fingerprint: 'SHA256:abc' }] },
      'POST /api/v2.0/projects/lib/trust-keys': { status: 201 },
      'DELETE /api/v2.0/projects/lib/trust-keys/7': { status: 200 },
    });
    at('/projects/lib?tab=configuration');
    const keys = await screen.findByRole('table', { name: 'Trusted keys' });
    expect(within(keys).getByText('Notation certificate')).toBeTruthy();
    expect(screen.getByText(/Scans use/).textContent).toMatch(/berth/);
    await user.type(screen.getByLabelText('Key name'), 'release');
    await user.type(screen.getByLabelText('PEM'), '-----BEGIN PUBLIC KEY-----');
    await user.click(screen.getByRole('button', { name: 'Add key' }));
    await screen.findByText('Trusted release');
    expect(JSON.parse(sent.find((s) => s.method === 'POST')!.body!)).toEqual({ type: 'cosign', name: 'release', pem: '-----BEGIN PUBLIC KEY-----' });
    await user.click(screen.getByRole('button', { name: 'Delete key root-ca' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Delete trusted key' })).getByRole('button', { name: 'Delete' }));
    await screen.findByText('Deleted root-ca');
  });
});

test('profile: an OIDC user regenerates the CLI secret', async () => {
  const user = userEvent.setup();
  const sent = stubAPI({
    'GET /api/v2.0/systeminfo': { body: { auth_mode: 'oidc_auth' } },
    'GET /api/v2.0/users/current': { body: { user_id: 5, username: 'alice', oidc_user_meta: { secret: 'old-secret' } } },
    'PUT /api/v2.0/users/5/cli_secret': { body: { secret: 'new-secret' } },
  });
  at('/account/profile');
  const section = await screen.findByRole('region', { name: 'CLI secret' });
  await user.click(within(section).getByRole('button', { name: 'Regenerate secret' }));
  await user.click(within(screen.getByRole('dialog', { name: 'Regenerate the CLI secret' })).getByRole('button', { name: 'Regenerate' }));
  expect((await within(section).findByLabelText('Secret')).textContent).toBe('new-secret');
  expect(JSON.parse(sent.find((s) => s.method === 'PUT')!.body!)).toEqual({ secret: '' });
});

test('members: a group is added by name', async () => {
  const user = userEvent.setup();
  const sent = stubAPI({
    'GET /api/v2.0/systeminfo': { body: { auth_mode: 'oidc_auth' } },
    'GET /api/v2.0/users/current': { body: admin },
    'GET /api/v2.0/projects/lib': { body: project },
    'GET /api/v2.0/projects/lib/summary': { body: {} },
    'GET /api/v2.0/users/current/permissions': { body: all(['member']) },
    'GET /api/v2.0/projects/lib/members': { body: [], headers: { 'X-Total-Count': '0' } },
    'GET /api/v2.0/usergroups/search': { body: [] },
    'POST /api/v2.0/projects/lib/members': { status: 201 },
  });
  at('/projects/lib?tab=members');
  await user.click(await screen.findByRole('button', { name: '+ Group' }));
  const dialog = screen.getByRole('dialog', { name: 'New group member' });
  await user.type(within(dialog).getByLabelText('Group name'), 'devs');
  await user.selectOptions(within(dialog).getByLabelText('Group role'), 'Maintainer');
  await user.click(within(dialog).getByRole('button', { name: 'Add' }));
  await screen.findByText('Added group devs as Maintainer');
  expect(JSON.parse(sent.find((s) => s.method === 'POST')!.body!)).toEqual({ role_id: 4, member_group: { group_name: 'devs', group_type: 3 } });
});
