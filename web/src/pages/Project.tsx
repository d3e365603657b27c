import { useState } from 'react';
import { api, type Project, type S } from '../api';
import { Link, navigate, setQuery, useLocation } from '../router';
import { useAction, useLoad } from '../components/hooks';
import { ConfirmDialog } from '../components/Modal';
import { useToast } from '../components/Toasts';
import { Tabs, type TabDef } from '../components/Tabs';
import { Button, ErrorText, Spinner, formatSize } from '../components/ui';
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
        {tab === 'summary' ? <Summary name={name} /> : null}
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

/** Counts of repositories and of members by role, and the quota. */
function Summary({ name }: { name: string }) {
  const load = useLoad(() => api.projectSummary(name), [name]);
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
  return (
    <dl className="summary card" aria-label="Summary">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
