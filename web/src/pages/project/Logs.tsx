import { api, type AuditLog, type Project } from '../../api';
import { Pager, Table, type Column } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { useLoad } from '../../components/hooks';
import { formatTime } from '../../components/ui';

export const auditColumns: Column<AuditLog>[] = [
  { header: 'Timestamp', sort: 'op_time', render: (l) => formatTime(l.op_time) },
  { header: 'Username', render: (l) => l.username },
  { header: 'Resource', render: (l) => l.resource },
  { header: 'Resource Type', render: (l) => l.resource_type },
  { header: 'Operation', render: (l) => l.operation },
];

export default function Logs({ project }: { project: Project }) {
  const name = project.name ?? '';
  const pg = usePaging('-op_time');
  const load = useLoad(() => api.projectLogs(name, { page: pg.page, pageSize: pg.pageSize, sort: pg.sort }), [name, pg.page, pg.pageSize, pg.sort]);
  return (
    <section aria-label="Logs">
      <Table label="Audit logs" columns={auditColumns} rows={load.data?.items} rowKey={(l) => l.id ?? 0} loading={load.loading} error={load.error} sort={pg.sort} onSort={pg.setSort} />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
    </section>
  );
}
