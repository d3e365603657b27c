import { useState, type FormEvent } from 'react';
import { api, roleName, type Project } from '../api';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import { Pager, Table, type Column } from '../components/Table';
import { usePaging } from '../components/paging';
import { useAction, useLoad } from '../components/hooks';
import { Modal } from '../components/Modal';
import { Button, ErrorText, Field, formatTime } from '../components/ui';
import { useToast } from '../components/Toasts';

/** The projects the user can see: searched, sorted and paged by the API. */
export default function Projects() {
  const pg = usePaging('name');
  const { info, user } = useSession();
  const [search, setSearch] = useState(pg.filter);
  const [creating, setCreating] = useState(false);
  const [access, setAccess] = useState<'' | 'true' | 'false'>('');
  const load = useLoad(
    () => api.projects({ page: pg.page, pageSize: pg.pageSize, sort: pg.sort }, pg.filter || undefined, access === '' ? undefined : access === 'true'),
    [pg.page, pg.pageSize, pg.sort, pg.filter, access],
  );
  const canCreate = user?.sysadmin_flag || info?.project_creation_restriction !== 'adminonly';

  const columns: Column<Project>[] = [
    { header: 'Project Name', sort: 'name', render: (p) => <Link to={`/projects/${encodeURIComponent(p.name ?? '')}`}>{p.name}</Link> },
    { header: 'Access Level', render: (p) => (p.metadata?.public === 'true' ? 'Public' : 'Private') },
    { header: 'Role', render: (p) => (p.current_user_role_id ? roleName(p.current_user_role_id) : user?.sysadmin_flag ? 'System Admin' : '—') },
    { header: 'Repositories', render: (p) => p.repo_count ?? 0, className: 'num' },
    { header: 'Creation Time', sort: 'creation_time', render: (p) => formatTime(p.creation_time) },
  ];

  return (
    <div className="page">
      <div className="page-head">
        <h1>Projects</h1>
        {canCreate ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            + New Project
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
          <input type="search" aria-label="Filter projects by name" placeholder="Filter by name" value={search} onChange={(e) => setSearch(e.target.value)} />
          <Button type="submit">Filter</Button>
        </form>
        <label>
          Show{' '}
          <select value={access} onChange={(e) => setAccess(e.target.value as typeof access)}>
            <option value="">All projects</option>
            <option value="false">Private</option>
            <option value="true">Public</option>
          </select>
        </label>
        <Button onClick={load.reload} aria-label="Refresh">
          ↻
        </Button>
      </div>
      <Table label="Projects" columns={columns} rows={load.data?.items} rowKey={(p) => p.project_id ?? p.name ?? ''} loading={load.loading} error={load.error} sort={pg.sort} onSort={pg.setSort} empty="No projects match." />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {creating ? <NewProject admin={!!user?.sysadmin_flag} onClose={() => setCreating(false)} /> : null}
    </div>
  );
}

const units = { MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 } as const;

function NewProject({ admin, onClose }: { admin: boolean; onClose: () => void }) {
  const [name, setName] = useState('');
  const [isPublic, setPublic] = useState(false);
  const [quota, setQuota] = useState('-1');
  const [unit, setUnit] = useState<keyof typeof units>('GiB');
  const act = useAction();
  const toast = useToast();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const q = Number(quota);
    const ok = await act.run(async () => {
      if (!Number.isFinite(q) || (q < 0 && q !== -1)) throw new Error('The quota must be -1 (unlimited) or a positive number');
      await api.createProject({
        project_name: name.trim(),
        metadata: { public: String(isPublic) },
        ...(admin ? { storage_limit: q === -1 ? -1 : Math.round(q * units[unit]) } : {}),
      });
      return true;
    });
    if (ok) {
      toast.ok(`Project ${name.trim()} created`);
      navigate(`/projects/${encodeURIComponent(name.trim())}`);
    }
  };
  return (
    <Modal title="New Project" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label="New project">
        <Field label="Project name" hint="Lower-case letters, digits and . _ - (1–255 characters)">
          <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[a-z0-9]+(?:[._\-][a-z0-9]+)*" />
        </Field>
        <label className="check">
          <input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} /> Public (anyone can pull)
        </label>
        {admin ? (
          <Field label="Storage quota" hint="-1 means unlimited">
            <span className="inline">
              <input type="number" value={quota} onChange={(e) => setQuota(e.target.value)} min={-1} step="any" aria-label="Quota amount" />
              <select value={unit} onChange={(e) => setUnit(e.target.value as keyof typeof units)} aria-label="Quota unit">
                {Object.keys(units).map((u) => (
                  <option key={u}>{u}</option>
                ))}
              </select>
            </span>
          </Field>
        ) : null}
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
