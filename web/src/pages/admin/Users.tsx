import { useState, type FormEvent } from 'react';
import { api, type User } from '../../api';
import { useSession } from '../../session';
import { useAction, useLoad } from '../../components/hooks';
import { Pager, Table, type Column } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { ConfirmAction, Modal } from '../../components/Modal';
import { Button, ErrorText, Field, formatTime } from '../../components/ui';
import { useToast } from '../../components/Toasts';

/** Local users: create, reset password, make admin, delete. */
export default function Users() {
  const pg = usePaging('username');
  const [search, setSearch] = useState(pg.filter);
  const load = useLoad(
    () => api.users({ page: pg.page, pageSize: pg.pageSize, sort: pg.sort, q: pg.filter ? `username=~${pg.filter}` : undefined }),
    [pg.page, pg.pageSize, pg.sort, pg.filter],
  );
  const { user: me, info } = useSession();
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  const act = useAction();
  const toast = useToast();
  const local = (info?.auth_mode ?? 'db_auth') === 'db_auth';

  const columns: Column<User>[] = [
    { header: 'Name', sort: 'username', render: (u) => u.username },
    { header: 'Administrator', render: (u) => (u.sysadmin_flag ? 'Yes' : 'No') },
    { header: 'Email', render: (u) => u.email },
    { header: 'Registration time', sort: 'creation_time', render: (u) => formatTime(u.creation_time) },
    {
      header: 'Actions',
      render: (u) =>
        u.user_id === me?.user_id ? (
          <span className="muted">You</span>
        ) : (
          <span className="row-actions">
            <Button
              className="small"
              disabled={act.busy}
              aria-label={`${u.sysadmin_flag ? 'Revoke administrator from' : 'Set as administrator'} ${u.username}`}
              onClick={async () => {
                const ok = await act.run(async () => {
                  await api.setSysAdmin(u.user_id!, !u.sysadmin_flag);
                  return true;
                });
                if (ok) {
                  toast.ok(`${u.username} ${u.sysadmin_flag ? 'is no longer' : 'is now'} an administrator`);
                  load.reload();
                }
              }}
            >
              {u.sysadmin_flag ? 'Revoke admin' : 'Set as admin'}
            </Button>
            {local ? (
              <Button className="small" onClick={() => setResetting(u)} aria-label={`Reset password of ${u.username}`}>
                Reset password
              </Button>
            ) : null}
            <Button className="small" variant="danger" onClick={() => setDeleting(u)} aria-label={`Delete user ${u.username}`}>
              Delete
            </Button>
          </span>
        ),
    },
  ];
  return (
    <div className="page">
      <div className="page-head">
        <h1>Users</h1>
        {local ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            + New User
          </Button>
        ) : null}
      </div>
      <div className="toolbar">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            pg.setFilter(search.trim());
          }}
        >
          <input type="search" aria-label="Filter users" placeholder="Filter by username" value={search} onChange={(e) => setSearch(e.target.value)} />
          <Button type="submit">Filter</Button>
        </form>
      </div>
      <ErrorText error={act.error} />
      <Table label="Users" columns={columns} rows={load.data?.items} rowKey={(u) => u.user_id ?? 0} loading={load.loading} error={load.error} sort={pg.sort} onSort={pg.setSort} />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {creating ? (
        <NewUser
          onClose={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            load.reload();
          }}
        />
      ) : null}
      {resetting ? <ResetPassword user={resetting} onClose={() => setResetting(null)} /> : null}
      {deleting ? (
        <ConfirmAction
          title="Delete user"
          message="The user loses access to every project, and their sessions end."
          items={[deleting.username ?? '']}
          perform={() => api.deleteUser(deleting.user_id!)}
          done={`Deleted ${deleting.username}`}
          onClose={() => setDeleting(null)}
          onDone={load.reload}
        />
      ) : null}
    </div>
  );
}

function NewUser({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const [f, setF] = useState({ username: '', email: '', realname: '', password: '', confirm: '', comment: '' });
  const act = useAction();
  const toast = useToast();
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => {
      if (f.password !== f.confirm) throw new Error('The passwords do not match');
      await api.createUser({ username: f.username.trim(), email: f.email, realname: f.realname, password: f.password, comment: f.comment });
      return true;
    });
    if (ok) {
      toast.ok(`Created ${f.username.trim()}`);
      onCreated();
    }
  };
  return (
    <Modal title="New user" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label="New user">
        <Field label="Username">
          <input value={f.username} onChange={set('username')} required autoComplete="off" />
        </Field>
        <Field label="Email">
          <input type="email" value={f.email} onChange={set('email')} />
        </Field>
        <Field label="Full name">
          <input value={f.realname} onChange={set('realname')} />
        </Field>
        <Field label="Password" hint="8–128 characters with an upper-case letter, a lower-case letter and a digit">
          <input type="password" value={f.password} onChange={set('password')} required autoComplete="new-password" />
        </Field>
        <Field label="Confirm password">
          <input type="password" value={f.confirm} onChange={set('confirm')} required autoComplete="new-password" />
        </Field>
        <Field label="Comments">
          <input value={f.comment} onChange={set('comment')} />
        </Field>
        <ErrorText error={act.error} />
        <div className="modal-foot">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={act.busy}>
            Create
          </Button>
        </div>
      </form>
    </Modal>
  );
}

function ResetPassword({ user, onClose }: { user: User; onClose: () => void }) {
  const [pw, setPw] = useState('');
  const [confirm, setConfirm] = useState('');
  const act = useAction();
  const toast = useToast();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => {
      if (pw !== confirm) throw new Error('The passwords do not match');
      await api.resetPassword(user.user_id!, pw);
      return true;
    });
    if (ok) {
      toast.ok(`Password of ${user.username} reset`);
      onClose();
    }
  };
  return (
    <Modal title={`Reset password of ${user.username}`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label="Reset password">
        <Field label="New password">
          <input type="password" value={pw} onChange={(e) => setPw(e.target.value)} required autoComplete="new-password" />
        </Field>
        <Field label="Confirm password">
          <input type="password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required autoComplete="new-password" />
        </Field>
        <ErrorText error={act.error} />
        <div className="modal-foot">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={act.busy}>
            Reset
          </Button>
        </div>
      </form>
    </Modal>
  );
}
