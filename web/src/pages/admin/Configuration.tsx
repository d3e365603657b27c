import { useEffect, useState, type FormEvent } from 'react';
import { api, type S } from '../../api';
import { useAction, useLoad } from '../../components/hooks';
import { Button, ErrorText, Field, Spinner } from '../../components/ui';
import { useToast } from '../../components/Toasts';
import { Link } from '../../router';

/** System settings (system admins); read-only where the server locks them. */
export default function SystemConfiguration() {
  const load = useLoad(() => api.configurations(), []);
  const [c, setC] = useState<S['Configurations']>({});
  const act = useAction();
  const toast = useToast();
  useEffect(() => {
    const d = load.data;
    if (!d) return;
    setC({
      project_creation_restriction: d.project_creation_restriction?.value,
      self_registration: d.self_registration?.value,
      robot_name_prefix: d.robot_name_prefix?.value,
      token_expiration: d.token_expiration?.value,
      robot_token_duration: d.robot_token_duration?.value,
      read_only: d.read_only?.value,
      banner_message: d.banner_message?.value,
    });
  }, [load.data]);
  if (load.loading && !load.data) return <Spinner />;
  const editable = (k: keyof S['ConfigurationsResponse']) => load.data?.[k]?.editable !== false;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body: S['Configurations'] = {};
    for (const [k, v] of Object.entries(c) as [keyof S['Configurations'], unknown][]) {
      if (editable(k as keyof S['ConfigurationsResponse']) && v !== undefined) (body as Record<string, unknown>)[k] = v;
    }
    const ok = await act.run(async () => {
      await api.updateConfigurations(body);
      return true;
    });
    if (ok) {
      toast.ok('Configuration saved');
      load.reload();
    }
  };
  return (
    <div className="page narrow">
      <h1>Configuration</h1>
      <ErrorText error={load.error} />
      <form className="card" aria-label="System configuration" onSubmit={(e) => void submit(e)}>
        <h2>Authentication</h2>
        <p>
          The auth mode (database, OIDC, LDAP) and its provider settings are on the <Link to="/admin/authentication">Authentication settings</Link> page.
        </p>
        <label className="check">
          <input type="checkbox" checked={!!c.self_registration} disabled={!editable('self_registration')} onChange={(e) => setC({ ...c, self_registration: e.target.checked })} /> Allow self-registration
        </label>
        <h2>System settings</h2>
        <Field label="Project creation">
          <select value={c.project_creation_restriction ?? 'everyone'} disabled={!editable('project_creation_restriction')} onChange={(e) => setC({ ...c, project_creation_restriction: e.target.value })}>
            <option value="everyone">Everyone</option>
            <option value="adminonly">Admin only</option>
          </select>
        </Field>
        <Field label="Robot name prefix">
          <input value={c.robot_name_prefix ?? ''} disabled={!editable('robot_name_prefix')} onChange={(e) => setC({ ...c, robot_name_prefix: e.target.value })} />
        </Field>
        <Field label="Token expiration (minutes)">
          <input type="number" min={1} value={c.token_expiration ?? ''} disabled={!editable('token_expiration')} onChange={(e) => setC({ ...c, token_expiration: Number(e.target.value) })} />
        </Field>
        <Field label="Robot token expiration (days)">
          <input type="number" min={1} value={c.robot_token_duration ?? ''} disabled={!editable('robot_token_duration')} onChange={(e) => setC({ ...c, robot_token_duration: Number(e.target.value) })} />
        </Field>
        <label className="check">
          <input type="checkbox" checked={!!c.read_only} disabled={!editable('read_only')} onChange={(e) => setC({ ...c, read_only: e.target.checked })} /> Repository read only
        </label>
        <Field label="Banner message">
          <input value={c.banner_message ?? ''} disabled={!editable('banner_message')} onChange={(e) => setC({ ...c, banner_message: e.target.value })} />
        </Field>
        <ErrorText error={act.error} />
        <Button type="submit" variant="primary" busy={act.busy}>
          Save
        </Button>
        <p>
          <a href="/api/v2.0/systeminfo/getcert" download="ca.crt">
            Download the registry certificate
          </a>
        </p>
      </form>
    </div>
  );
}
