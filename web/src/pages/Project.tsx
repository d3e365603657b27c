import { api } from '../api';
import { Link, setQuery, useLocation } from '../router';
import { useLoad } from '../components/hooks';
import { Tabs, type TabDef } from '../components/Tabs';
import { ErrorText, Spinner, formatSize } from '../components/ui';
import { useProjectPerms } from './project/perms';
import Repositories from './project/Repositories';
import Members from './project/Members';
import Robots from './project/Robots';
import Logs from './project/Logs';
import Configuration from './project/Configuration';

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
      </div>
      {permsLoading ? <Spinner label="Checking permissions" /> : null}
      <Tabs label="Project" tabs={tabs} active={tab} onChange={(t) => setQuery(loc, { tab: t, page: undefined, sort: undefined, filter: undefined })}>
        {tab === 'repositories' ? <Repositories project={p} can={can} /> : null}
        {tab === 'members' ? <Members project={p} can={can} /> : null}
        {tab === 'robots' ? <Robots project={p} can={can} /> : null}
        {tab === 'logs' ? <Logs project={p} /> : null}
        {tab === 'configuration' ? <Configuration project={p} can={can} onSaved={project.reload} /> : null}
      </Tabs>
    </div>
  );
}
