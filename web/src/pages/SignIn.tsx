import { useState, type FormEvent } from 'react';
import { navigate, useLocation } from '../router';
import { useSession } from '../session';
import { Button, ErrorText, Field } from '../components/ui';
import { useAction } from '../components/hooks';

/** Sign in with a local account, or through the OIDC provider when berth uses one. */
export default function SignIn() {
  const session = useSession();
  const loc = useLocation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [show, setShow] = useState(false);
  const act = useAction();
  const redirect = safeRedirect(loc.search.get('redirect'));
  const oidc = session.info?.auth_mode === 'oidc_auth';
  const [local, setLocal] = useState(!oidc);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const done = await act.run(async () => {
      await session.signIn(username, password);
      return true;
    });
    if (done) navigate(redirect, { replace: true });
  };

  return (
    <main className="signin">
      <div className="signin-card">
        <h1>
          <span className="logo" aria-hidden="true">⚓</span> berth
        </h1>
        {oidc ? (
          <div className="oidc">
            <a className="btn primary block" href={`/c/oidc/login?redirect_url=${encodeURIComponent(redirect)}`}>
              Login via {session.info?.oidc_provider_name || 'OIDC provider'}
            </a>
            {!local ? (
              <button type="button" className="btn plain block" onClick={() => setLocal(true)}>
                Sign in with a local account
              </button>
            ) : null}
          </div>
        ) : null}
        {local || !oidc ? (
          <form onSubmit={(e) => void submit(e)} aria-label="Sign in">
            <Field label="Username">
              <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
            </Field>
            <div className="field">
              <label className="field-label" htmlFor="signin-password">
                Password
              </label>
              <span className="password">
                <input id="signin-password" name="password" type={show ? 'text' : 'password'} autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
                <button type="button" className="btn plain small" onClick={() => setShow(!show)} aria-pressed={show} aria-label="Show password">
                  {show ? 'Hide' : 'Show'}
                </button>
              </span>
            </div>
            <ErrorText error={act.error} />
            <Button type="submit" variant="primary" busy={act.busy} className="block">
              Sign in
            </Button>
          </form>
        ) : null}
      </div>
    </main>
  );
}

/** Only same-site paths may follow sign-in; anything else goes home. */
export function safeRedirect(r: string | null): string {
  if (!r || !r.startsWith('/') || r.startsWith('//') || r.startsWith('/\\') || r.startsWith('/account/sign-in')) return '/projects';
  return r;
}
