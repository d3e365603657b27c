import { useState, type FormEvent } from 'react';
import { api, ROLES, roleName, type Member, type Project } from '../../api';
import { Pager, Table, type Column } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { useAction, useLoad } from '../../components/hooks';
import { ConfirmAction, Modal } from '../../components/Modal';
import { Button, ErrorText, Field } from '../../components/ui';
import { useToast } from '../../components/Toasts';
import type { Can } from './perms';
import AddGroupMember, { AddGroupButton } from './AddGroupMember';

export default function Members({ project, can }: { project: Project; can: Can }) {
  const name = project.name ?? '';
  const pg = usePaging();
  const load = useLoad(() => api.members(name, { page: pg.page, pageSize: pg.pageSize }), [name, pg.page, pg.pageSize]);
  const [adding, setAdding] = useState(false);
  const [addingGroup, setAddingGroup] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const roleAct = useAction();
  const toast = useToast();
  const manage = can('member', 'update');

  const columns: Column<Member>[] = [
    { header: 'Name', render: (m) => m.entity_name },
    { header: 'Member Type', render: (m) => (m.entity_type === 'g' ? 'Group' : 'User') },
    {
      header: 'Role',
      render: (m) =>
        manage ? (
          <select
            aria-label={`Role of ${m.entity_name}`}
            value={m.role_id}
            disabled={roleAct.busy}
            onChange={async (e) => {
              const role = Number(e.target.value);
              const ok = await roleAct.run(async () => {
                await api.setMemberRole(name, m.id!, role);
                return true;
              });
              if (ok) {
                toast.ok(`${m.entity_name} is now ${roleName(role)}`);
                load.reload();
              }
            }}
          >
            {ROLES.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        ) : (
          roleName(m.role_id)
        ),
    },
  ];
  if (can('member', 'delete'))
    columns.push({
      header: 'Actions',
      render: (m) => (
        <Button className="small" variant="danger" onClick={() => setRemoving(m)} aria-label={`Remove member ${m.entity_name}`}>
          Remove
        </Button>
      ),
    });

  return (
    <section aria-label="Members">
      <div className="toolbar">
        {can('member', 'create') ? (
          <Button variant="primary" onClick={() => setAdding(true)}>
            + User
          </Button>
        ) : null}
        {can('member', 'create') ? <AddGroupButton onClick={() => setAddingGroup(true)} /> : null}
        <Button onClick={load.reload} aria-label="Refresh members">
          ↻
        </Button>
      </div>
      <ErrorText error={roleAct.error} />
      <Table label="Members" columns={columns} rows={load.data?.items} rowKey={(m) => m.id ?? 0} loading={load.loading} error={load.error} />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {addingGroup ? (
        <AddGroupMember
          project={name}
          onClose={() => setAddingGroup(false)}
          onAdded={() => {
            setAddingGroup(false);
            load.reload();
          }}
        />
      ) : null}
      {adding ? (
        <AddMember
          project={name}
          onClose={() => setAdding(false)}
          onAdded={() => {
            setAdding(false);
            load.reload();
          }}
        />
      ) : null}
      {removing ? (
        <ConfirmAction
          title="Remove member"
          message={`Remove ${removing.entity_name} from ${name}?`}
          confirmLabel="Remove"
          perform={() => api.removeMember(name, removing.id!)}
          done={`Removed ${removing.entity_name}`}
          onClose={() => setRemoving(null)}
          onDone={load.reload}
        />
      ) : null}
    </section>
  );
}

function AddMember({ project, onClose, onAdded }: { project: string; onClose: () => void; onAdded: () => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState(2);
  const act = useAction();
  const toast = useToast();
  const suggestions = useLoad(() => (username.trim().length >= 1 ? api.searchUsers(username.trim()) : Promise.resolve({ items: [], total: 0, next: false })), [username]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => {
      await api.addMember(project, username.trim(), role);
      return true;
    });
    if (ok) {
      toast.ok(`Added ${username.trim()} as ${roleName(role)}`);
      onAdded();
    }
  };
  return (
    <Modal title="New member" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label="New member">
        <Field label="Username">
          <input value={username} onChange={(e) => setUsername(e.target.value)} list="member-suggestions" required autoComplete="off" />
        </Field>
        <datalist id="member-suggestions">
          {suggestions.data?.items.map((u) => (
            <option key={u.user_id} value={u.username} />
          ))}
        </datalist>
        <fieldset>
          <legend>Role</legend>
          {ROLES.map((r) => (
            <label key={r.id} className="check">
              <input type="radio" name="role" value={r.id} checked={role === r.id} onChange={() => setRole(r.id)} /> {r.name}
            </label>
          ))}
        </fieldset>
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
