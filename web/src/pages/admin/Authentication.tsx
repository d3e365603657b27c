// Administration → Authentication: the auth mode and the OIDC and LDAP
// settings, with the provider tests. Secrets are write-only: an empty
// field keeps the stored one.
import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { api, type S } from '../../api';
import { useAction, useLoad } from '../../components/hooks';
import { Button, CopyButton, ErrorText, Field, Spinner } from '../../components/ui';
import { useToast } from '../../components/Toasts';

type Conf = S['Configurations'];
type Resp = S['ConfigurationsResponse'];

const OIDC_KEYS = ['oidc_name', 'oidc_endpoint', 'oidc_client_id', 'oidc_scope', 'oidc_verify_cert', 'oidc_user_claim', 'oidc_groups_claim', 'oidc_admin_group', 'oidc_auto_onboard'] as const;
const LDAP_KEYS = [
  'ldap_url',
  'ldap_search_dn',
  'ldap_base_dn',
  'ldap_filter',
  'ldap_uid',
  'ldap_scope',
  'ldap_timeout',
  'ldap_verify_cert',
  'ldap_start_tls',
  'ldap_group_base_dn',
  'ldap_group_search_filter',
  'ldap_group_attribute_name',
  'ldap_group_admin_dn',
  'ldap_group_membership_attribute',
  'ldap_group_search_scope',
] as const;

export default function Authentication() {
  const load = useLoad(() => api.configurations(), []);
  const oidcInfo = useLoad(() => api.oidcInfo().catch(() => undefined), []);
  const [c, setC] = useState<Conf>({});
  const act = useAction();
  const ping = useAction();
  const [pingResult, setPingResult] = useState('');
  const toast = useToast();
  useEffect(() => {
    const d = load.data as Record<string, { value?: unknown } | undefined> | undefined;
    if (!d) return;
    const next: Record<string, unknown> = { auth_mode: d.auth_mode?.value };
    for (const k of [...OIDC_KEYS, ...LDAP_KEYS]) next[k] = d[k]?.value;
    setC(next as Conf);
  }, [load.data]);
  if (load.loading && !load.data) return <Spinner />;
  const editable = (k: keyof Resp) => (load.data as Record<string, { editable?: boolean } | undefined> | undefined)?.[k]?.editable !== false;
  const mode = c.auth_mode ?? 'db_auth';
  const set = (k: keyof Conf, v: unknown) => setC({ ...c, [k]: v });
  const text = (label: string, k: keyof Conf, hint?: string, type = 'text'): ReactElement => (
    <Field label={label} hint={hint}>
      <input type={type} value={String(c[k] ?? '')} disabled={!editable(k as keyof Resp)} onChange={(e) => set(k, type === 'number' ? Number(e.target.value) : e.target.value)} />
    </Field>
  );
  const check = (label: string, k: keyof Conf) => (
    <label className="check">
      <input type="checkbox" checked={!!c[k]} disabled={!editable(k as keyof Resp)} onChange={(e) => set(k, e.target.checked)} /> {label}
    </label>
  );

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    const keys = ['auth_mode', ...(mode === 'oidc_auth' ? OIDC_KEYS : []), ...(mode === 'ldap_auth' ? LDAP_KEYS : []), 'oidc_client_secret', 'ldap_search_password', 'ldap_ca_cert'];
    for (const k of keys) {
      const v = (c as Record<string, unknown>)[k];
      if (v === undefined || (typeof v === 'string' && v === '' && ['oidc_client_secret', 'ldap_search_password', 'ldap_ca_cert'].includes(k))) continue;
      if (k !== 'auth_mode' || editable('auth_mode')) body[k] = v;
    }
    const ok = await act.run(async () => {
      await api.updateConfigurations(body as Conf);
      return true;
    });
    if (ok) {
      toast.ok('Authentication settings saved');
      setC({ ...c, oidc_client_secret: '', ldap_search_password: '' });
      load.reload();
      oidcInfo.reload();
    }
  };
  const testOIDC = async () => {
    setPingResult('');
    if (await ping.run(async () => (await api.pingOIDC(c.oidc_endpoint ?? '', c.oidc_verify_cert !== false), true))) setPingResult('The OIDC provider answered.');
  };
  const testLDAP = async () => {
    setPingResult('');
    const r = await ping.run(() =>
      api.pingLDAP({
        ldap_url: c.ldap_url,
        ldap_search_dn: c.ldap_search_dn,
        ldap_search_password: c.ldap_search_password || undefined,
        ldap_base_dn: c.ldap_base_dn,
        ldap_filter: c.ldap_filter,
        ldap_uid: c.ldap_uid,
        ldap_scope: c.ldap_scope,
        ldap_connection_timeout: c.ldap_timeout,
        ldap_verify_cert: c.ldap_verify_cert,
        ldap_start_tls: c.ldap_start_tls,
      }),
    );
    if (r) setPingResult(r.success === false ? `LDAP test failed: ${r.message ?? ''}` : 'The LDAP server answered.');
  };

  return (
    <div className="page narrow">
      <h1>Authentication</h1>
      <ErrorText error={load.error} />
      <form className="card" aria-label="Authentication" onSubmit={(e) => void submit(e)}>
        <Field label="Auth mode" hint={editable('auth_mode') ? 'It can be changed only while no users other than admin exist.' : 'Locked: users other than admin exist, so the mode can no longer change.'}>
          <select value={mode} disabled={!editable('auth_mode')} onChange={(e) => set('auth_mode', e.target.value)}>
            <option value="db_auth">Database</option>
            <option value="oidc_auth">OIDC</option>
            <option value="ldap_auth">LDAP</option>
          </select>
        </Field>

        {mode === 'oidc_auth' ? (
          <section aria-label="OIDC settings">
            <h2>OIDC</h2>
            {text('OIDC provider name', 'oidc_name', 'shown on the sign-in button')}
            {text('OIDC endpoint', 'oidc_endpoint', 'the issuer URL')}
            {text('OIDC client ID', 'oidc_client_id')}
            <Field label="OIDC client secret" hint="write-only; leave empty to keep the stored secret">
              <input type="password" autoComplete="new-password" value={c.oidc_client_secret ?? ''} onChange={(e) => set('oidc_client_secret', e.target.value)} />
            </Field>
            {text('OIDC scope', 'oidc_scope', 'comma-separated; must include openid')}
            {text('Username claim', 'oidc_user_claim')}
            {text('Group claim name', 'oidc_groups_claim')}
            {text('OIDC admin group', 'oidc_admin_group')}
            {check('Verify certificate', 'oidc_verify_cert')}
            {check('Automatic onboarding', 'oidc_auto_onboard')}
            <div className="field">
              <span className="field-label">Redirect URI</span>
              <span>
                <code>{oidcInfo.data?.redirect_url ?? '—'}</code> {oidcInfo.data?.redirect_url ? <CopyButton text={oidcInfo.data.redirect_url} label="Copy redirect URI" /> : null}
              </span>
              <span className="hint">register this at the provider for berth&apos;s client</span>
            </div>
            <Button busy={ping.busy} onClick={() => void testOIDC()}>
              Test OIDC server
            </Button>
          </section>
        ) : null}

        {mode === 'ldap_auth' ? (
          <section aria-label="LDAP settings">
            <h2>LDAP</h2>
            {text('LDAP URL', 'ldap_url', 'ldap://host:389 or ldaps://host:636')}
            {text('LDAP search DN', 'ldap_search_dn', 'empty: bind anonymously')}
            <Field label="LDAP search password" hint="write-only; leave empty to keep the stored password">
              <input type="password" autoComplete="new-password" value={c.ldap_search_password ?? ''} onChange={(e) => set('ldap_search_password', e.target.value)} />
            </Field>
            {text('LDAP base DN', 'ldap_base_dn')}
            {text('LDAP filter', 'ldap_filter')}
            {text('LDAP UID', 'ldap_uid')}
            <Field label="LDAP scope">
              <select value={String(c.ldap_scope ?? 2)} disabled={!editable('ldap_scope')} onChange={(e) => set('ldap_scope', Number(e.target.value))}>
                <option value="0">Base</option>
                <option value="1">One level</option>
                <option value="2">Subtree</option>
              </select>
            </Field>
            {text('LDAP timeout (seconds)', 'ldap_timeout', undefined, 'number')}
            {check('LDAP verify certificate', 'ldap_verify_cert')}
            {check('StartTLS', 'ldap_start_tls')}
            <Field label="LDAP CA certificate (PEM)" hint="leave empty to keep the stored one">
              <textarea rows={3} value={c.ldap_ca_cert ?? ''} onChange={(e) => set('ldap_ca_cert', e.target.value)} />
            </Field>
            <h3>Groups</h3>
            {text('LDAP group base DN', 'ldap_group_base_dn')}
            {text('LDAP group filter', 'ldap_group_search_filter')}
            {text('LDAP group GID', 'ldap_group_attribute_name')}
            {text('LDAP group admin DN', 'ldap_group_admin_dn')}
            {text('LDAP group membership', 'ldap_group_membership_attribute')}
            <Button busy={ping.busy} onClick={() => void testLDAP()}>
              Test LDAP server
            </Button>
          </section>
        ) : null}
        {pingResult ? <p role="status">{pingResult}</p> : null}
        <ErrorText error={ping.error} />
        <ErrorText error={act.error} />
        <Button type="submit" variant="primary" busy={act.busy}>
          Save
        </Button>
      </form>
    </div>
  );
}
