import { useState } from 'react';
import { api, repoShort, type Project, type Repository } from '../../api';
import { Link } from '../../router';
import { Pager, Table, type Column } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { useLoad } from '../../components/hooks';
import { ConfirmAction } from '../../components/Modal';
import { Button, CopyButton, formatTime } from '../../components/ui';
import type { Can } from './perms';

export function registryHost(): string {
  return window.location.host;
}

export default function Repositories({ project, can }: { project: Project; can: Can }) {
  const name = project.name ?? '';
  const pg = usePaging('name');
  const [search, setSearch] = useState(pg.filter);
  const load = useLoad(
    () => api.repositories(name, { page: pg.page, pageSize: pg.pageSize, sort: pg.sort, q: pg.filter ? `name=~${pg.filter}` : undefined }),
    [name, pg.page, pg.pageSize, pg.sort, pg.filter],
  );
  const [deleting, setDeleting] = useState<Repository | null>(null);
  const host = registryHost();

  const columns: Column<Repository>[] = [
    {
      header: 'Name',
      sort: 'name',
      render: (r) => <Link to={`/projects/${encodeURIComponent(name)}/repositories/${repoShort(name, r.name).split('/').map(encodeURIComponent).join('/')}`}>{r.name}</Link>,
    },
    { header: 'Artifacts', render: (r) => r.artifact_count ?? 0, className: 'num' },
    { header: 'Pulls', sort: 'pull_count', render: (r) => r.pull_count ?? 0, className: 'num' },
    { header: 'Last Modified Time', sort: 'update_time', render: (r) => formatTime(r.update_time) },
  ];
  if (can('repository', 'delete'))
    columns.push({
      header: 'Actions',
      render: (r) => (
        <Button variant="danger" className="small" onClick={() => setDeleting(r)} aria-label={`Delete repository ${r.name}`}>
          Delete
        </Button>
      ),
    });

  return (
    <section aria-label="Repositories">
      <details className="push-cmd">
        <summary>Push command</summary>
        <p>Tag an image for this project, then push it:</p>
        <p>
          <code>docker tag SOURCE_IMAGE[:TAG] {host}/{name}/REPOSITORY[:TAG]</code> <CopyButton text={`docker tag SOURCE_IMAGE[:TAG] ${host}/${name}/REPOSITORY[:TAG]`} label="Copy docker tag command" />
        </p>
        <p>
          <code>docker push {host}/{name}/REPOSITORY[:TAG]</code> <CopyButton text={`docker push ${host}/${name}/REPOSITORY[:TAG]`} label="Copy docker push command" />
        </p>
        <p>
          <code>helm push CHART_PACKAGE oci://{host}/{name}</code> <CopyButton text={`helm push CHART_PACKAGE oci://${host}/${name}`} label="Copy helm push command" />
        </p>
      </details>
      <div className="toolbar">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            pg.setFilter(search.trim());
          }}
        >
          <input type="search" aria-label="Filter repositories by name" placeholder="Filter by name" value={search} onChange={(e) => setSearch(e.target.value)} />
          <Button type="submit">Filter</Button>
        </form>
        <Button onClick={load.reload} aria-label="Refresh repositories">
          ↻
        </Button>
      </div>
      <Table label="Repositories" columns={columns} rows={load.data?.items} rowKey={(r) => r.id ?? r.name ?? ''} loading={load.loading} error={load.error} sort={pg.sort} onSort={pg.setSort} empty="No repositories yet: push an image to create one." />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {deleting ? (
        <ConfirmAction
          title="Delete repository"
          message={`Delete ${deleting.name} and every artifact and tag in it? This cannot be undone.`}
          items={[deleting.name ?? '']}
          perform={() => api.deleteRepository(name, repoShort(name, deleting.name))}
          done={`Deleted ${deleting.name}`}
          onClose={() => setDeleting(null)}
          onDone={load.reload}
        />
      ) : null}
    </section>
  );
}
