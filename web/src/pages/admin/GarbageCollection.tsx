import { useState } from 'react';
import { api, type GCHistory } from '../../api';
import { useAction, useLoad } from '../../components/hooks';
import { Pager, Table, type Column } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { Modal } from '../../components/Modal';
import { Button, ErrorText, Spinner, formatTime } from '../../components/ui';
import { useToast } from '../../components/Toasts';

const SCHEDULES = ['None', 'Hourly', 'Daily', 'Weekly', 'Custom'] as const;

/** Garbage collection: run now, dry run, schedule, history with logs. */
export default function GarbageCollection() {
  const pg = usePaging();
  const history = useLoad(() => api.gcHistory({ page: pg.page, pageSize: pg.pageSize }), [pg.page, pg.pageSize]);
  const schedule = useLoad(() => api.gcSchedule(), []);
  const [untagged, setUntagged] = useState(true);
  const [type, setType] = useState<(typeof SCHEDULES)[number] | ''>('');
  const [cron, setCron] = useState('');
  const [log, setLog] = useState<GCHistory | null>(null);
  const run = useAction();
  const save = useAction();
  const toast = useToast();
  const curType = (schedule.data?.schedule?.type ?? 'None') as (typeof SCHEDULES)[number];
  const selType = type || curType;

  const start = async (dry: boolean) => {
    const ok = await run.run(async () => {
      await api.runGC(dry, untagged);
      return true;
    });
    if (ok) {
      toast.ok(dry ? 'Dry run started' : 'Garbage collection started');
      history.reload();
    }
  };
  const columns: Column<GCHistory>[] = [
    { header: 'Job ID', render: (g) => g.id },
    { header: 'Trigger Type', render: (g) => g.job_kind },
    { header: 'Dry Run', render: (g) => (/"dry_run":\s*true/.test(g.job_parameters ?? '') ? 'Yes' : 'No') },
    { header: 'Status', render: (g) => <span className={`badge status-${(g.job_status ?? '').toLowerCase()}`}>{g.job_status}</span> },
    { header: 'Created', render: (g) => formatTime(g.creation_time) },
    { header: 'Updated', render: (g) => formatTime(g.update_time) },
    {
      header: 'Logs',
      render: (g) => (
        <Button className="small" onClick={() => setLog(g)} aria-label={`Log of job ${g.id}`}>
          Log
        </Button>
      ),
    },
  ];
  return (
    <div className="page">
      <h1>Garbage Collection</h1>
      <section className="card" aria-label="Run garbage collection">
        <p>Garbage collection deletes blobs no manifest references. berth runs it online: pushes and pulls continue.</p>
        <label className="check">
          <input type="checkbox" checked={untagged} onChange={(e) => setUntagged(e.target.checked)} /> Also delete untagged artifacts
        </label>
        <div className="toolbar">
          <Button variant="primary" busy={run.busy} onClick={() => void start(false)}>
            GC Now
          </Button>
          <Button busy={run.busy} onClick={() => void start(true)}>
            Dry Run
          </Button>
        </div>
        <ErrorText error={run.error} />
      </section>
      <section className="card" aria-label="Schedule">
        <h2>Schedule</h2>
        {schedule.loading ? <Spinner /> : null}
        <ErrorText error={schedule.error} />
        <p className="muted">
          Current: {curType}
          {schedule.data?.schedule?.cron ? ` (${schedule.data.schedule.cron})` : ''}
          {schedule.data?.schedule?.next_scheduled_time ? `, next run ${formatTime(schedule.data.schedule.next_scheduled_time)}` : ''}
        </p>
        <div className="toolbar">
          <select aria-label="Schedule type" value={selType} onChange={(e) => setType(e.target.value as (typeof SCHEDULES)[number])}>
            {SCHEDULES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          {selType === 'Custom' ? <input aria-label="Cron" placeholder="0 0 3 * * *" value={cron} onChange={(e) => setCron(e.target.value)} /> : null}
          <Button
            busy={save.busy}
            onClick={async () => {
              const ok = await save.run(async () => {
                await api.setGCSchedule(selType, selType === 'Custom' ? cron : '');
                return true;
              });
              if (ok) {
                toast.ok('Schedule saved');
                schedule.reload();
              }
            }}
          >
            Save schedule
          </Button>
        </div>
        <ErrorText error={save.error} />
      </section>
      <h2>History</h2>
      <div className="toolbar">
        <Button onClick={history.reload} aria-label="Refresh history">
          ↻
        </Button>
      </div>
      <Table label="GC history" columns={columns} rows={history.data?.items} rowKey={(g) => g.id ?? 0} loading={history.loading} error={history.error} empty="Garbage collection has not run yet." />
      <Pager page={pg.page} pageSize={pg.pageSize} total={history.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {log ? <GCLog job={log} onClose={() => setLog(null)} /> : null}
    </div>
  );
}

function GCLog({ job, onClose }: { job: GCHistory; onClose: () => void }) {
  const load = useLoad(() => api.gcLog(job.id ?? 0), [job.id]);
  return (
    <Modal title={`Log of GC job ${job.id}`} onClose={onClose} footer={<Button onClick={onClose}>Close</Button>}>
      {load.loading ? <Spinner /> : null}
      <ErrorText error={load.error} />
      <pre className="code-block" aria-label="GC log">
        {load.data}
      </pre>
    </Modal>
  );
}
