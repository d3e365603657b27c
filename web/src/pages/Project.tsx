import { useState, type FormEvent } from 'react';
import { api, type Project, type S } from '../api';
import { Link, navigate, setQuery, useLocation } from '../router';
import { useAction, useLoad } from '../components/hooks';
import { ConfirmDialog, Modal } from '../components/Modal';
import { useToast } from '../components/Toasts';
import { Tabs, type TabDef } from '../components/Tabs';
import { Button, ErrorText, Field, Spinner, formatSize } from '../components/ui';
import { useSession } from '../session';
import { useProjectPerms } from './project/perms';
import Repositories from './project/Repositories';
import Members from './project/Members';
import Robots from './project/Robots';
import Logs from './project/Logs';
import Configuration from './project/Configuration';
import ProjectSecurity from './project/Security';

/** A project's page: tabs for what the user may see in it. */
export default function ProjectPage({ params }: { params: Record<string, string> }) {
  const name = params.project ?? '';
  const loc = useLocation();
  const project = useLoad(() => api.project(name), [name]);
  const summary = useLoad(() => api.projectSummary(name), [name]);
  const { can, loading: permsLoading } = useProjectPerms(project.data?.project_id);
  if (project.loading && !project.data) return <Spinner />;
  if (project.error || !project.data) return <ErrorText error={project.error || 'Project not found'} />;
  const p = project.data;

  const tabs: TabDef[] = [{ id: 'repositories', label: 'Repositories' }];
  if (can('member', 'list')) tabs.push({ id: 'members', label: 'Members' });
  if (can('robot', 'list')) tabs.push({ id: 'robots', label: 'Robot Accounts' });
  if (can('log', 'list')) tabs.push({ id: 'logs', label: 'Logs' });
  if (can('metadata', 'read') || can('configuration', 'update')) tabs.push({ id: 'configuration', label: 'Configuration' });
  tabs.push({ id: 'summary', label: 'Summary' });
  const requested = loc.search.get('tab') ?? 'repositories';
  const tab = tabs.some((t) => t.id === requested) ? requested : 'repositories';
  const used = summary.data?.quota?.used?.storage;
  const hard = summary.data?.quota?.hard?.storage;

  return (
    <div className="page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/projects">Projects</Link> ›
      </nav>
      <div className="page-head">
        <h1>{p.name}</h1>
        <span className="badge">{p.metadata?.public === 'true' ? 'Public' : 'Private'}</span>
        {used !== undefined ? (
          <span className="muted">
            Quota used {formatSize(used)} of {hard === undefined || hard < 0 ? 'unlimited' : formatSize(hard)}
          </span>
        ) : null}
        {can('project', 'delete') ? <DeleteProject project={p} /> : null}
      </div>
      {permsLoading ? <Spinner label="Checking permissions" /> : null}
      <Tabs label="Project" tabs={tabs} active={tab} onChange={(t) => setQuery(loc, { tab: t, page: undefined, sort: undefined, filter: undefined })}>
        {tab === 'repositories' ? <Repositories project={p} can={can} /> : null}
        {tab === 'members' ? <Members project={p} can={can} /> : null}
        {tab === 'robots' ? <Robots project={p} can={can} /> : null}
        {tab === 'logs' ? <Logs project={p} /> : null}
        {tab === 'configuration' ? (
          <>
            <Configuration project={p} can={can} onSaved={project.reload} />
            <ProjectSecurity project={p} can={can} onSaved={project.reload} />
          </>
        ) : null}
        {tab === 'summary' ? <Summary name={name} projectId={p.project_id ?? 0} onQuota={summary.reload} /> : null}
      </Tabs>
    </div>
  );
}

/** Deleting a project: berth refuses while it holds repositories, and says so first. */
function DeleteProject({ project }: { project: Project }) {
  const [open, setOpen] = useState(false);
  const name = project.name ?? '';
  const check = useLoad(() => (open ? api.projectDeletable(name) : Promise.resolve(undefined)), [open, name]);
  const act = useAction();
  const toast = useToast();
  return (
    <>
      <Button variant="danger" onClick={() => setOpen(true)}>
        Delete project
      </Button>
      {open ? (
        <ConfirmDialog
          title="Delete project"
          message={
            check.loading ? (
              <Spinner label="Checking" />
            ) : check.data && !check.data.deletable ? (
              <ErrorText error={check.data.message || 'The project cannot be deleted yet.'} />
            ) : (
              `Delete ${name}, its members, robot accounts and settings? This cannot be undone.`
            )
          }
          items={[name]}
          busy={act.busy}
          error={act.error || check.error}
          onCancel={() => {
            act.clear();
            setOpen(false);
          }}
          onConfirm={async () => {
            const ok = await act.run(async () => {
              await api.deleteProject(name);
              return true;
            });
            if (ok) {
              toast.ok(`Deleted project ${name}`);
              navigate('/projects');
            }
          }}
        />
      ) : null}
    </>
  );
}

/** Counts of repositories and of members by role, and the quota (system admins can change it). */
function Summary({ name, projectId, onQuota }: { name: string; projectId: number; onQuota: () => void }) {
  const load = useLoad(() => api.projectSummary(name), [name]);
  const { user } = useSession();
  const [editing, setEditing] = useState(false);
  const summary: S['ProjectSummary'] | undefined = load.data;
  if (load.error) return <ErrorText error={load.error} />;
  if (!summary) return <Spinner />;
  const used = summary.quota?.used?.storage;
  const hard = summary.quota?.hard?.storage;
  const rows: [string, string | number][] = [
    ['Repositories', summary.repo_count ?? 0],
    ['Project Admins', summary.project_admin_count ?? 0],
    ['Maintainers', summary.maintainer_count ?? 0],
    ['Developers', summary.developer_count ?? 0],
    ['Guests', summary.guest_count ?? 0],
    ['Limited Guests', summary.limited_guest_count ?? 0],
    ['Storage used', used === undefined ? '—' : `${formatSize(used)} of ${hard === undefined || hard < 0 ? 'unlimited' : formatSize(hard)}`],
  ];
  const limited = used !== undefined && hard !== undefined && hard > 0;
  return (
    <>
      <dl className="summary card" aria-label="Summary">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>
              {v}
              {k === 'Storage used' && limited ? (
                <>
                  {' '}
                  <meter className="quota" min={0} max={hard} high={hard * 0.9} value={Math.min(used, hard)} aria-label="Quota usage">
                    {Math.round((used / hard) * 100)}%
                  </meter>{' '}
                  {Math.round((used / hard) * 100)}%
                </>
              ) : null}
            </dd>
          </div>
        ))}
      </dl>
      {user?.sysadmin_flag ? (
        <Button onClick={() => setEditing(true)} aria-label="Edit project quota">
          Edit quota
        </Button>
      ) : null}
      {editing ? (
        <QuotaDialog
          project={name}
          projectId={projectId}
          hard={hard}
          onClose={() => setEditing(false)}
          onSaved={() => {
            setEditing(false);
            load.reload();
            onQuota();
          }}
        />
      ) : null}
    </>
  );
}

const UNITS = { MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 } as const;

/** PUT /quotas/{project id}: the project's storage limit, -1 for unlimited. */
function QuotaDialog({ project, projectId, hard, onClose, onSaved }: { project: string; projectId: number; hard: number | undefined; onClose: () => void; onSaved: () => void }) {
  const unlimited = hard === undefined || hard < 0;
  const [amount, setAmount] = useState(unlimited ? '-1' : String(Math.round((hard / UNITS.GiB) * 1000) / 1000));
  const [unit, setUnit] = useState<keyof typeof UNITS>('GiB');
  const act = useAction();
  const toast = useToast();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const q = Number(amount);
    const ok = await act.run(async () => {
      if (amount.trim() === '' || !Number.isFinite(q) || (q <= 0 && q !== -1)) throw new Error('The quota must be -1 (unlimited) or a positive number');
      await api.updateQuota(projectId, q === -1 ? -1 : Math.round(q * UNITS[unit]));
      return true;
    });
    if (ok) {
      toast.ok(`Quota of ${project} saved`);
      onSaved();
    }
  };
  return (
    <Modal title={`Quota of ${project}`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label="Project quota">
        <Field label="Storage quota" hint="-1 means unlimited">
          <span className="inline">
            <input type="number" value={amount} onChange={(e) => setAmount(e.target.value)} min={-1} step="any" aria-label="Quota amount" />
            <select value={unit} onChange={(e) => setUnit(e.target.value as keyof typeof UNITS)} aria-label="Quota unit">
              {Object.keys(UNITS).map((u) => (
                <option key={u}>{u}</option>
              ))}
            </select>
          </span>
        </Field>
        <ErrorText error={act.error} />
        <div className="modal-foot">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={act.busy}>
            Save
          </Button>
        </div>
      </form>
    </Modal>
  );
}
