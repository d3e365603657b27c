import { describe, expect, test } from 'vitest';
import { api, ApiError, csrfToken, errorMessage, fillPath, pageInfo } from './index';
import { stubAPI } from '../test/stub';

describe('errorMessage', () => {
  test('joins the messages of a Harbor error body', () => {
    expect(errorMessage(409, { errors: [{ code: 'CONFLICT', message: 'project lib already exists' }] })).toEqual({
      message: 'Project lib already exists',
      codes: ['CONFLICT'],
    });
    expect(errorMessage(400, { errors: [{ code: 'BAD_REQUEST', message: 'a' }, { code: 'BAD_REQUEST', message: 'b' }] }).message).toBe('A; B');
  });
  test('falls back to a sentence for the status', () => {
    expect(errorMessage(403, null).message).toBe('You are not allowed to do this');
    expect(errorMessage(418, 'teapot').message).toBe('Request failed (HTTP 418)');
    expect(errorMessage(500, { errors: [{ code: 'UNKNOWN' }] }).message).toBe('berth had an internal error');
  });
});

test('csrfToken reads the berth_csrf cookie', () => {
  expect(csrfToken('a=1; berth_csrf=tok%3D; b=2')).toBe('tok=');
  expect(csrfToken('a=1')).toBe('');
});

test('fillPath double-encodes repository names and encodes the rest once', () => {
  expect(fillPath('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}', { project_name: 'lib', repository_name: 'a/b', reference: 'sha256:00' })).toBe(
    '/projects/lib/repositories/a%252Fb/artifacts/sha256%3A00',
  );
  expect(() => fillPath('/robots/{robot_id}', {})).toThrow(/robot_id/);
});

test('pageInfo reads X-Total-Count, and Link when the count is missing', () => {
  expect(pageInfo(new Response('[]', { headers: { 'X-Total-Count': '42' } }), 0)).toEqual({ total: 42, next: false });
  expect(pageInfo(new Response('[]', { headers: { Link: '</api/v2.0/projects?page=2&page_size=1>; rel="next"' } }), 1)).toEqual({ total: 2, next: true });
});

describe('requests', () => {
  test('unsafe requests carry the CSRF header; every request marks itself as the UI', async () => {
    document.cookie = 'berth_csrf=the-token; path=/';
    const sent = stubAPI({ 'POST /api/v2.0/projects': { status: 201 }, 'GET /api/v2.0/systeminfo': { body: { auth_mode: 'db_auth' } } });
    await api.createProject({ project_name: 'lib', metadata: { public: 'false' } });
    await api.systemInfo();
    expect(sent[0]!.headers['X-Harbor-CSRF-Token']).toBe('the-token');
    expect(JSON.parse(sent[0]!.body!)).toEqual({ project_name: 'lib', metadata: { public: 'false' } });
    expect(sent[1]!.headers['X-Harbor-CSRF-Token']).toBeUndefined();
    for (const s of sent) expect(s.headers['X-Requested-With']).toBe('XMLHttpRequest');
  });

  test('a failed request throws ApiError with the readable message and status', async () => {
    stubAPI({ 'DELETE /api/v2.0/robots/7': { status: 403, body: { errors: [{ code: 'FORBIDDEN', message: 'guest1 is not allowed to delete robot accounts' }] } } });
    const err = await api.deleteRobot(7).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(403);
    expect((err as ApiError).message).toBe('Guest1 is not allowed to delete robot accounts');
  });

  test('lists send paging and sorting and return the total', async () => {
    const sent = stubAPI({ 'GET /api/v2.0/projects/lib/repositories': { body: [{ name: 'lib/a' }], headers: { 'X-Total-Count': '31' } } });
    const page = await api.repositories('lib', { page: 2, pageSize: 15, sort: '-pull_count', q: 'name=~a' });
    expect(page.total).toBe(31);
    expect(page.items).toEqual([{ name: 'lib/a' }]);
    const q = new URL(sent[0]!.url, 'http://x').searchParams;
    expect(Object.fromEntries(q)).toEqual({ page: '2', page_size: '15', sort: '-pull_count', q: 'name=~a' });
  });

  test('sign in posts the form to /c/login', async () => {
    const sent = stubAPI({ 'POST /c/login': { body: { username: 'admin' } } });
    await api.signIn('admin', 'p&ss');
    expect(sent[0]!.headers['Content-Type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(sent[0]!.body).get('password')).toBe('p&ss');
    expect(new URLSearchParams(sent[0]!.body).get('principal')).toBe('admin');
  });

  test('a network failure is a readable ApiError', async () => {
    const { transport } = await import('./client');
    transport.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
    await expect(api.systemInfo()).rejects.toThrow(/not reachable/);
  });
});
