import { api, repoShort, type Project, type S } from '../api';
import { Link, useLocation } from '../router';
import { useLoad } from '../components/hooks';
import { Table } from '../components/Table';

/** Global search results: projects and repositories whose names match. */
export default function Search() {
  const q = useLocation().search.get('q') ?? '';
  const load = useLoad(() => (q.trim() ? api.search(q.trim()) : Promise.resolve({ project: [], repository: [] } as S['Search'])), [q]);
  return (
    <div className="page">
      <h1>Search results for “{q}”</h1>
      <h2>Projects</h2>
      <Table<Project>
        label="Matching projects"
        rows={load.data?.project}
        rowKey={(p) => p.project_id ?? 0}
        loading={load.loading}
        error={load.error}
        empty="No projects match."
        columns={[
          { header: 'Name', render: (p) => <Link to={`/projects/${encodeURIComponent(p.name ?? '')}`}>{p.name}</Link> },
          { header: 'Access Level', render: (p) => (p.metadata?.public === 'true' ? 'Public' : 'Private') },
          { header: 'Repositories', render: (p) => p.repo_count ?? 0 },
        ]}
      />
      <h2>Repositories</h2>
      <Table<S['SearchRepository']>
        label="Matching repositories"
        rows={load.data?.repository}
        rowKey={(r) => r.repository_name ?? ''}
        loading={load.loading}
        empty="No repositories match."
        columns={[
          {
            header: 'Name',
            render: (r) => (
              <Link to={`/projects/${encodeURIComponent(r.project_name ?? '')}/repositories/${repoShort(r.project_name ?? '', r.repository_name).split('/').map(encodeURIComponent).join('/')}`}>
                {r.repository_name}
              </Link>
            ),
          },
          { header: 'Project', render: (r) => r.project_name },
          { header: 'Artifacts', render: (r) => r.artifact_count ?? 0 },
          { header: 'Pulls', render: (r) => r.pull_count ?? 0 },
        ]}
      />
    </div>
  );
}
