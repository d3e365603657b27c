import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { useSession } from '../session';
import { Button, ErrorText, Field } from '../components/ui';
import CliSecret from './CliSecret';
import { useAction } from '../components/hooks';
import { useToast } from '../components/Toasts';

/** The signed-in user's profile, password and (in OIDC mode) CLI secret. */
export default function Profile() {
  const { user, info, reload } = useSession();
  const toast = useToast();
  const [email, setEmail] = useState(user?.email ?? '');
  const [realname, setRealname] = useState(user?.realname ?? '');
  const [comment, setComment] = useState(user?.comment ?? '');
  const save = useAction();
  const [oldPw, setOldPw] = useState('');
  const [newPw, setNewPw] = useState('');
  const [confirmPw, setConfirmPw] = useState('');
  const pw = useAction();
  if (!user) return null;

  const saveProfile = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await save.run(async () => {
      await api.updateProfile(user.user_id!, { email, realname, comment });
      return true;
    });
    if (ok) {
      toast.ok('Profile saved');
      await reload();
    }
  };
  const changePw = async (e: FormEvent) => {
    e.preventDefault();
    if (newPw !== confirmPw) {
      await pw.run(() => Promise.reject(new Error('The new passwords do not match')));
      return;
    }
    const ok = await pw.run(async () => {
      await api.changePassword(user.user_id!, oldPw, newPw);
      return true;
    });
    if (ok) {
      toast.ok('Password changed');
      setOldPw('');
      setNewPw('');
      setConfirmPw('');
    }
  };
  const secret = user.oidc_user_meta?.secret;
  // With an identity provider only the built-in admin has a local password.
  const localPassword = info?.auth_mode !== 'oidc_auth' || user.user_id === 1;

  return (
    <div className="page narrow">
      <h1>User profile</h1>
      <form onSubmit={(e) => void saveProfile(e)} aria-label="Profile" className="card">
        <Field label="Username">
          <input value={user.username ?? ''} readOnly />
        </Field>
        <Field label="Email">
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Full name">
          <input value={realname} onChange={(e) => setRealname(e.target.value)} />
        </Field>
        <Field label="Comments">
          <input value={comment} onChange={(e) => setComment(e.target.value)} />
        </Field>
        <ErrorText error={save.error} />
        <Button type="submit" variant="primary" busy={save.busy}>
          Save profile
        </Button>
      </form>

      {secret !== undefined ? <CliSecret userId={user.user_id!} secret={secret} onChanged={() => void reload()} /> : null}

      {localPassword ? (
      <form onSubmit={(e) => void changePw(e)} aria-label="Change password" className="card">
        <h2>Change password</h2>
        <Field label="Current password">
          <input type="password" autoComplete="current-password" value={oldPw} onChange={(e) => setOldPw(e.target.value)} required />
        </Field>
        <Field label="New password" hint="8–128 characters with an upper-case letter, a lower-case letter and a digit">
          <input type="password" autoComplete="new-password" value={newPw} onChange={(e) => setNewPw(e.target.value)} required minLength={8} maxLength={128} />
        </Field>
        <Field label="Confirm new password">
          <input type="password" autoComplete="new-password" value={confirmPw} onChange={(e) => setConfirmPw(e.target.value)} required />
        </Field>
        <ErrorText error={pw.error} />
        <Button type="submit" variant="primary" busy={pw.busy}>
          Change password
        </Button>
      </form>
      ) : null}
    </div>
  );
}
