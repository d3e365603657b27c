// An OIDC user's CLI secret on the profile page: show, copy, regenerate.
import { useState } from 'react';
import { api } from '../api';
import { useAction } from '../components/hooks';
import { ConfirmDialog } from '../components/Modal';
import { Button, CopyButton } from '../components/ui';
import { useToast } from '../components/Toasts';

export default function CliSecret({ userId, secret: initial, onChanged }: { userId: number; secret: string; onChanged: () => void }) {
  const [secret, setSecret] = useState(initial);
  const [show, setShow] = useState(false);
  const [asking, setAsking] = useState(false);
  const act = useAction();
  const toast = useToast();
  return (
    <section className="card" aria-label="CLI secret">
      <h2>CLI secret</h2>
      <p>Use it as the password for docker login and other clients.</p>
      <code className="secret" aria-label="Secret">
        {show ? secret : '••••••••••••••••'}
      </code>{' '}
      <Button onClick={() => setShow(!show)}>{show ? 'Hide' : 'Show'}</Button> <CopyButton text={secret} label="Copy secret" wide />{' '}
      <Button onClick={() => setAsking(true)}>Regenerate secret</Button>
      {asking ? (
        <ConfirmDialog
          title="Regenerate the CLI secret"
          message="The current secret stops working at once; clients logged in with it must log in again."
          confirmLabel="Regenerate"
          busy={act.busy}
          error={act.error}
          onCancel={() => {
            act.clear();
            setAsking(false);
          }}
          onConfirm={async () => {
            const r = await act.run(() => api.setCliSecret(userId));
            if (r) {
              setSecret(r.secret ?? '');
              setShow(true);
              setAsking(false);
              toast.ok('A new CLI secret was generated');
              onChanged();
            }
          }}
        />
      ) : null}
    </section>
  );
}
