// Adds a user group (Administration → Groups) as a project member.
import { useState, type FormEvent } from 'react';
import { api, ROLES, roleName } from '../../api';
import { useAction, useLoad } from '../../components/hooks';
import { Modal } from '../../components/Modal';
import { Button, ErrorText, Field } from '../../components/ui';
import { useToast } from '../../components/Toasts';
import { useSession } from '../../session';

export default function AddGroupMember({ project, onClose, onAdded }: { project: string; onClose: () => void; onAdded: () => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState(2);
  const act = useAction();
  const toast = useToast();
  const { info } = useSession();
  const groupType = info?.auth_mode === 'ldap_auth' ? 1 : 3;
  const groups = useLoad(() => api.searchUserGroups(name.trim()).then((p) => p.items).catch(() => []), [name]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const g = (groups.data ?? []).find((x) => x.group_name === name.trim());
    const ok = await act.run(async () => {
      // A known group goes by id; otherwise berth finds or creates it by name.
      await api.addGroupMember(project, g ? { id: g.id } : { group_name: name.trim(), group_type: groupType }, role);
      return true;
    });
    if (ok) {
      toast.ok(`Added group ${name.trim()} as ${roleName(role)}`);
      onAdded();
    }
  };
  return (
    <Modal title="New group member" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label="New group member">
        <Field label="Group name">
          <input value={name} onChange={(e) => setName(e.target.value)} list="group-suggestions" required autoComplete="off" />
        </Field>
        <datalist id="group-suggestions">
          {(groups.data ?? []).map((g) => (
            <option key={g.id} value={g.group_name} />
          ))}
        </datalist>
        <Field label="Group role">
          <select value={role} onChange={(e) => setRole(Number(e.target.value))}>
            {ROLES.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </Field>
        <ErrorText error={act.error} />
        <div className="modal-foot">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={act.busy}>
            Add
          </Button>
        </div>
      </form>
    </Modal>
  );
}

/** AddGroupButton offers "+ Group" where groups exist (OIDC and LDAP auth modes). */
export function AddGroupButton({ onClick }: { onClick: () => void }) {
  const { info } = useSession();
  if (info?.auth_mode !== 'oidc_auth' && info?.auth_mode !== 'ldap_auth') return null;
  return <Button onClick={onClick}>+ Group</Button>;
}
