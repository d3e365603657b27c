// Administration → Configuration, robot editing, the artifact's build
// history and overview, global labels and project quotas, against a
// stubbed API: what the pages show and what they send.
import { describe, expect, test } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import App from '../App';
import { stubAPI } from '../test/stub';

const admin = { user_id: 1, username: 'admin', sysadmin_flag: true };
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
  }, 20_000);
});
