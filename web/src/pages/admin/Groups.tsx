// Administration → Groups: user groups (HTTP/OIDC groups by name, LDAP
// groups by DN) that can be project members; LDAP groups can be imported
// from the directory.
import { useState, type FormEvent } from 'react';
import { api, type UserGroup } from '../../api';
import { useSession } from '../../session';
import { useAction, useLoad } from '../../components/hooks';
import { Pager, Table, type Column } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { ConfirmAction, Modal } from '../../components/Modal';
import { Button, ErrorText, Field } from '../../components/ui';
import { useToast } from '../../components/Toasts';

/** Harbor's group types. */
export const GROUP_TYPES: Record<number, string> = { 1: 'LDAP', 2: 'HTTP', 3: 'OIDC' };

export default function Groups() {
  const pg = usePaging();
  const load = useLoad(() => api.userGroups({ page: pg.page, pageSize: pg.pageSize }, pg.filter || undefined), [pg.page, pg.pageSize, pg.filter]);
  const { info } = useSession();
  const ldap = info?.auth_mode === 'ldap_auth';
  // Groups come from the identity provider: OIDC groups in oidc_auth, LDAP groups in ldap_auth.
  const groupType = ldap ? 1 : info?.auth_mode === 'oidc_auth' ? 3 : 0;
  const [search, setSearch] = useState(pg.filter);
  const [editing, setEditing] = useState<UserGroup | null>(null);
  const [deleting, setDeleting] = useState<UserGroup | null>(null);
  const [importing, setImporting] = useState(false);
  const columns: Column<UserGroup>[] = [
    { header: 'Name', render: (g) => g.group_name },
    { header: 'Type', render: (g) => GROUP_TYPES[g.group_type ?? 0] ?? '—' },
    { header: 'LDAP DN', render: (g) => (g.ldap_group_dn ? <code>{g.ldap_group_dn}</code> : '—') },
    {
      header: 'Actions',
      render: (g) => (
        <span className="row-actions">
          <Button className="small" onClick={() => setEditing(g)} aria-label={`Edit group ${g.group_name}`}>
            Edit
          </Button>
          <Button className="small" variant="danger" onClick={() => setDeleting(g)} aria-label={`Delete group ${g.group_name}`}>
            Delete
          </Button>
        </span>
      ),
    },
  ];
  return (
    <div className="page">
      <div className="page-head">
        <h1>Groups</h1>
        {groupType ? (
          <Button variant="primary" onClick={() => setEditing({ group_type: groupType })}>
            + New Group
          </Button>
        ) : null}
        {ldap ? <Button onClick={() => setImporting(true)}>Import LDAP group</Button> : null}
      </div>
      {!groupType ? <p className="hint">Groups come from the identity provider: they can be added when the auth mode is OIDC or LDAP (Authentication).</p> : null}
      <div className="toolbar">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            pg.setFilter(search.trim());
          }}
        >
          <input type="search" aria-label="Filter groups" placeholder="Filter by name" value={search} onChange={(e) => setSearch(e.target.value)} />
          <Button type="submit">Filter</Button>
        </form>
      </div>
      <Table label="Groups" columns={columns} rows={load.data?.items} rowKey={(g) => g.id ?? 0} loading={load.loading} error={load.error} empty="No groups." />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {editing ? (
        <GroupForm
          group={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            load.reload();
          }}
        />
      ) : null}
      {importing ? (
        <ImportLDAP
          onClose={() => setImporting(false)}
          onImported={() => {
            setImporting(false);
            load.reload();
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmAction
          title="Delete group"
          message="Its project memberships are removed with it."
          items={[deleting.group_name ?? '']}
          perform={() => api.deleteUserGroup(deleting.id!)}
          done={`Deleted group ${deleting.group_name}`}
          onClose={() => setDeleting(null)}
          onDone={load.reload}
        />
      ) : null}
    </div>
  );
}

function GroupForm({ group, onClose, onSaved }: { group: UserGroup; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(group.group_name ?? '');
  const type = group.group_type ?? 3;
  const [dn, setDn] = useState(group.ldap_group_dn ?? '');
  const act = useAction();
  const toast = useToast();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const g: UserGroup = { group_name: name.trim(), group_type: type, ...(type === 1 ? { ldap_group_dn: dn.trim() } : {}) };
    const ok = await act.run(async () => {
      if (group.id) await api.updateUserGroup(group.id, { group_name: g.group_name });
      else await api.createUserGroup(g);
      return true;
    });
    if (ok) {
      toast.ok(group.id ? `Saved group ${g.group_name}` : `Created group ${g.group_name}`);
      onSaved();
    }
  };
  return (
    <Modal title={group.id ? 'Edit group' : 'New group'} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label="Group">
        <Field label="Group name">
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={255} />
        </Field>
        <p>Type: {GROUP_TYPES[type] ?? '—'} group</p>
        {type === 1 ? (
          <Field label="LDAP group DN">
            <input value={dn} disabled={!!group.id} onChange={(e) => setDn(e.target.value)} required />
          </Field>
        ) : null}
        <ErrorText error={act.error} />
        <Button type="submit" variant="primary" busy={act.busy}>
          Save
        </Button>
      </form>
    </Modal>
  );
}

function ImportLDAP({ onClose, onImported }: { onClose: () => void; onImported: () => void }) {
  const [q, setQ] = useState('');
  const [found, setFound] = useState<UserGroup[] | null>(null);
  const search = useAction();
  const add = useAction();
  const toast = useToast();
  return (
    <Modal title="Import LDAP group" onClose={onClose}>
      <form
        role="search"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await search.run(() => api.searchLDAPGroups(q.trim()));
          if (r) setFound(r);
        }}
      >
        <Field label="LDAP group name">
          <input value={q} onChange={(e) => setQ(e.target.value)} required />
        </Field>
        <Button type="submit" busy={search.busy}>
          Search
        </Button>
      </form>
      <ErrorText error={search.error || add.error} />
      {found && found.length === 0 ? <p className="muted">No such group in the directory.</p> : null}
      <ul aria-label="LDAP groups">
        {(found ?? []).map((g) => (
          <li key={g.ldap_group_dn}>
            {g.group_name} <code>{g.ldap_group_dn}</code>{' '}
            <Button
              className="small"
              busy={add.busy}
              aria-label={`Import ${g.group_name}`}
              onClick={async () => {
                if (await add.run(async () => (await api.createUserGroup({ group_name: g.group_name, group_type: 1, ldap_group_dn: g.ldap_group_dn }), true))) {
                  toast.ok(`Imported ${g.group_name}`);
                  onImported();
                }
              }}
            >
              Import
            </Button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}
