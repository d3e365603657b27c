import { api } from '../../api';
import { useLoad } from '../../components/hooks';
import { Pager, Table } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { auditColumns } from '../project/Logs';

/** Every audit entry, newest first (system admins). */
export default function AuditLogs() {
  const pg = usePaging('-op_time');
  const load = useLoad(() => api.auditLogs({ page: pg.page, pageSize: pg.pageSize, sort: pg.sort }), [pg.page, pg.pageSize, pg.sort]);
  return (
    <div className="page">
      <h1>Audit Logs</h1>
      <Table label="Audit logs" columns={auditColumns} rows={load.data?.items} rowKey={(l) => l.id ?? 0} loading={load.loading} error={load.error} sort={pg.sort} onSort={pg.setSort} />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
    </div>
  );
}
