// Administration → Interrogation Services: scanners (with the built-in
// scanner's vulnerability database), scan all (now and on a schedule) and
// the system CVE allowlist.
import { useEffect, useState, type FormEvent } from 'react';
import { api, type CVEAllowlist, type S, type Scanner } from '../../api';
import { setQuery, useLocation } from '../../router';
import { useAction, useLoad } from '../../components/hooks';
import { Table, type Column } from '../../components/Table';
import { Tabs } from '../../components/Tabs';
import { ConfirmAction, Modal } from '../../components/Modal';
import { Button, ErrorText, Field, Spinner, formatTime } from '../../components/ui';
import { useToast } from '../../components/Toasts';

const TABS = [
  { id: 'scanners', label: 'Scanners' },
  { id: 'vulnerability', label: 'Vulnerability' },
];

export default function Interrogation() {
  const loc = useLocation();
  const tab = loc.search.get('tab') === 'vulnerability' ? 'vulnerability' : 'scanners';
  return (
    <div className="page">
      <h1>Interrogation Services</h1>
      <Tabs label="Interrogation Services" tabs={TABS} active={tab} onChange={(t) => setQuery(loc, { tab: t })}>
        {tab === 'scanners' ? <Scanners /> : <Vulnerability />}
      </Tabs>
    </div>
  );
}

const DB_UPDATED = 'harbor.scanner-adapter/vulnerability-database-updated-at';
const DB_SOURCE = 'berth.vulnerability-database-source';

function Scanners() {
  const load = useLoad(() => api.scanners({ page: 1, pageSize: 100 }), []);
  const [editing, setEditing] = useState<Scanner | null>(null);
  const [deleting, setDeleting] = useState<Scanner | null>(null);
  const [details, setDetails] = useState<Scanner | null>(null);
  const act = useAction();
  const toast = useToast();
  const columns: Column<Scanner>[] = [
    {
      header: 'Name',
      render: (s) => (
        <button type="button" className="btn plain small" onClick={() => setDetails(s)} aria-label={`Details of ${s.name}`}>
          {s.name}
        </button>
      ),
    },
    { header: 'Endpoint', render: (s) => <code>{s.url}</code> },
    { header: 'Health', render: (s) => (s.health === 'healthy' ? <span className="badge ok">Healthy</span> : <span className="badge sev-high">{s.health || 'Unknown'}</span>) },
    { header: 'Enabled', render: (s) => (s.disabled ? 'No' : 'Yes') },
    { header: 'Default', render: (s) => (s.is_default ? <span className="badge ok">Default</span> : '') },
    { header: 'Adapter', render: (s) => [s.adapter, s.vendor, s.version].filter(Boolean).join(' · ') },
    {
      header: 'Actions',
      render: (s) => (
        <span className="row-actions">
          {!s.is_default ? (
            <Button
              className="small"
              disabled={act.busy}
              aria-label={`Set ${s.name} as default`}
              onClick={async () => {
                if (await act.run(async () => (await api.setDefaultScanner(s.uuid ?? ''), true))) {
                  toast.ok(`${s.name} is the default scanner`);
                  load.reload();
                }
              }}
            >
              Set as default
            </Button>
          ) : null}
          <Button className="small" onClick={() => setEditing(s)} aria-label={`Edit scanner ${s.name}`}>
            Edit
          </Button>
          <Button className="small" variant="danger" onClick={() => setDeleting(s)} aria-label={`Delete scanner ${s.name}`}>
            Delete
          </Button>
        </span>
      ),
    },
  ];
  return (
    <section aria-label="Scanners">
      <div className="toolbar">
        <Button variant="primary" onClick={() => setEditing({})}>
          + New Scanner
        </Button>
        <Button onClick={load.reload} aria-label="Refresh scanners">
          ↻
        </Button>
      </div>
      <ErrorText error={act.error} />
      <Table label="Scanners" columns={columns} rows={load.data?.items} rowKey={(s) => s.uuid ?? ''} loading={load.loading} error={load.error} empty="No scanners." />
      {details ? <ScannerDetails scanner={details} onClose={() => setDetails(null)} /> : null}
      {editing ? (
        <ScannerForm
          scanner={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            load.reload();
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmAction
          title="Delete scanner"
          message="Projects that chose it go back to the default scanner."
          items={[deleting.name ?? '']}
          perform={() => api.deleteScanner(deleting.uuid ?? '')}
          done={`Deleted scanner ${deleting.name}`}
          onClose={() => setDeleting(null)}
          onDone={load.reload}
        />
      ) : null}
    </section>
  );
}

/** ScannerDetails shows what the scanner says of itself, with its database's age and source. */
function ScannerDetails({ scanner, onClose }: { scanner: Scanner; onClose: () => void }) {
  const load = useLoad(() => api.scannerMetadata(scanner.uuid ?? ''), [scanner.uuid]);
  const p = load.data?.properties ?? {};
  return (
    <Modal title={`Scanner ${scanner.name}`} onClose={onClose}>
      {load.loading ? <Spinner /> : null}
      <ErrorText error={load.error} />
      {load.data ? <VulnDB props={p} /> : null}
      {load.data ? (
        <dl className="props">
          <dt>Scanner</dt>
          <dd>{[load.data.scanner?.name, load.data.scanner?.vendor, load.data.scanner?.version].filter(Boolean).join(' · ')}</dd>
          <dt>Capabilities</dt>
          <dd>{(load.data.capabilities ?? []).map((c) => c.type ?? (c.produces_mime_types ?? []).join(', ')).join('; ') || '—'}</dd>
          {Object.entries(p)
            .filter(([k]) => k !== DB_UPDATED && k !== DB_SOURCE)
            .map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
        </dl>
      ) : null}
    </Modal>
  );
}

export function VulnDB({ props }: { props: Record<string, string> }) {
  const at = props[DB_UPDATED];
  if (!at && !props[DB_SOURCE]) return null;
  const days = at ? Math.floor((Date.now() - new Date(at).getTime()) / 86_400_000) : undefined;
  return (
    <p aria-label="Vulnerability database">
      Vulnerability database: newest record {at ? `${formatTime(at)} (${days === 0 ? 'today' : `${days} days old`})` : 'unknown'}
      {props[DB_SOURCE] ? `, from ${props[DB_SOURCE]}` : ''}
    </p>
  );
}

function ScannerForm({ scanner, onClose, onSaved }: { scanner: Scanner; onClose: () => void; onSaved: () => void }) {
  const [r, setR] = useState<S['ScannerRegistrationReq']>({
    name: scanner.name ?? '',
    description: scanner.description ?? '',
    url: scanner.url ?? '',
    auth: (scanner.auth ?? '') as S['ScannerRegistrationReq']['auth'],
    access_credential: '',
    skip_certVerify: scanner.skip_certVerify ?? false,
    use_internal_addr: scanner.use_internal_addr ?? false,
    disabled: scanner.disabled ?? false,
  });
  const act = useAction();
  const ping = useAction();
  const [pinged, setPinged] = useState(false);
  const toast = useToast();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (await act.run(async () => (scanner.uuid ? await api.updateScanner(scanner.uuid, r) : await api.createScanner(r), true))) {
      toast.ok(`Saved scanner ${r.name}`);
      onSaved();
    }
  };
  return (
    <Modal title={scanner.uuid ? 'Edit scanner' : 'Add scanner'} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label="Scanner">
        <Field label="Name">
          <input value={r.name} onChange={(e) => setR({ ...r, name: e.target.value })} required />
        </Field>
        <Field label="Description">
          <input value={r.description ?? ''} onChange={(e) => setR({ ...r, description: e.target.value })} />
        </Field>
        <Field label="Endpoint" hint="the adapter's base URL, e.g. http://trivy-adapter:8080">
          <input type="url" value={r.url} onChange={(e) => setR({ ...r, url: e.target.value })} required />
        </Field>
        <Field label="Authorization">
          <select value={r.auth ?? ''} onChange={(e) => setR({ ...r, auth: e.target.value as S['ScannerRegistrationReq']['auth'] })}>
            <option value="">None</option>
            <option value="Basic">Basic</option>
            <option value="Bearer">Bearer</option>
            <option value="X-ScannerAdapter-API-Key">API key</option>
          </select>
        </Field>
        {r.auth ? (
          <Field label="Credential" hint={scanner.uuid ? 'leave empty to keep the stored one' : undefined}>
            <input type="password" autoComplete="new-password" value={r.access_credential ?? ''} onChange={(e) => setR({ ...r, access_credential: e.target.value })} />
          </Field>
        ) : null}
        <label className="check">
          <input type="checkbox" checked={!!r.skip_certVerify} onChange={(e) => setR({ ...r, skip_certVerify: e.target.checked })} /> Skip certificate verification
        </label>
        <label className="check">
          <input type="checkbox" checked={!r.disabled} onChange={(e) => setR({ ...r, disabled: !e.target.checked })} /> Enabled
        </label>
        {pinged ? <p role="status">The scanner answered.</p> : null}
        <ErrorText error={ping.error || act.error} />
        <Button
          busy={ping.busy}
          onClick={async () => {
            setPinged(false);
            if (await ping.run(async () => (await api.pingScanner(r), true))) setPinged(true);
          }}
        >
          Test connection
        </Button>{' '}
        <Button type="submit" variant="primary" busy={act.busy}>
          Save
        </Button>
      </form>
    </Modal>
  );
}

type Kind = 'None' | 'Hourly' | 'Daily' | 'Weekly' | 'Custom';

function Vulnerability() {
  const sched = useLoad(() => api.scanAllSchedule(), []);
  const metrics = useLoad(() => api.scanAllMetrics(), []);
  const [kind, setKind] = useState<Kind>('None');
  const [cron, setCron] = useState('');
  const now = useAction();
  const save = useAction();
  const toast = useToast();
  useEffect(() => {
    const t = sched.data?.schedule?.type;
    setKind(t && ['None', 'Hourly', 'Daily', 'Weekly', 'Custom'].includes(t) ? (t as Kind) : 'None');
    setCron(sched.data?.schedule?.cron ?? '');
  }, [sched.data]);
  const m = metrics.data;
  return (
    <>
      <section className="card" aria-label="Scan all">
        <h2>Scan all</h2>
        <ErrorText error={metrics.error} />
        {m && m.total ? (
          <p>
            Latest scan all ({m.trigger ?? 'Manual'}): {m.completed ?? 0} of {m.total} done{m.ongoing ? ', running' : ''}.{' '}
            {Object.entries(m.metrics ?? {})
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')}
          </p>
        ) : (
          <p className="muted">No scan all has run yet.</p>
        )}
        <div className="toolbar">
          <Button
            variant="primary"
            busy={now.busy}
            disabled={!!m?.ongoing}
            onClick={async () => {
              if (await now.run(async () => (await api.scanAllNow(), true))) {
                toast.ok('Scan all started');
                metrics.reload();
              }
            }}
          >
            Scan now
          </Button>
          {m?.ongoing ? (
            <Button
              busy={now.busy}
              onClick={async () => {
                if (await now.run(async () => (await api.stopScanAll(), true))) metrics.reload();
              }}
            >
              Stop scan all
            </Button>
          ) : null}
          <Button onClick={metrics.reload} aria-label="Refresh scan all">
            ↻
          </Button>
        </div>
        <ErrorText error={now.error} />
        <form
          aria-label="Scan all schedule"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await save.run(async () => (await api.setScanAllSchedule(kind, kind === 'Custom' ? cron : ''), true))) {
              toast.ok('Schedule saved');
              sched.reload();
            }
          }}
        >
          <Field label="Schedule to scan all">
            <select value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
              {(['None', 'Hourly', 'Daily', 'Weekly', 'Custom'] as const).map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
          </Field>
          {kind === 'Custom' ? (
            <Field label="Cron" hint="six fields: seconds minutes hours day month weekday">
              <input value={cron} onChange={(e) => setCron(e.target.value)} required />
            </Field>
          ) : null}
          {sched.data?.schedule?.next_scheduled_time ? <p className="hint">Next run: {formatTime(sched.data.schedule.next_scheduled_time)}</p> : null}
          <ErrorText error={save.error || sched.error} />
          <Button type="submit" busy={save.busy}>
            Save schedule
          </Button>
        </form>
      </section>
      <SystemAllowlist />
    </>
  );
}

function SystemAllowlist() {
  const load = useLoad(() => api.systemAllowlist(), []);
  const act = useAction();
  const toast = useToast();
  return (
    <section className="card" aria-label="System CVE allowlist">
      <h2>CVE allowlist</h2>
      <p className="hint">CVEs listed here are ignored by &quot;prevent vulnerable images&quot; in every project that uses the system allowlist.</p>
      <ErrorText error={load.error} />
      {load.data ? (
        <AllowlistEditor
          list={load.data}
          busy={act.busy}
          onSave={async (l) => {
            if (await act.run(async () => (await api.setSystemAllowlist(l), true))) {
              toast.ok('CVE allowlist saved');
              load.reload();
            }
          }}
        />
      ) : null}
      <ErrorText error={act.error} />
    </section>
  );
}

/** AllowlistEditor edits CVE ids (one per line or comma-separated) and the expiry. */
export function AllowlistEditor({ list, busy, disabled, onSave }: { list: CVEAllowlist; busy: boolean; disabled?: boolean; onSave: (l: CVEAllowlist) => void }) {
  const [text, setText] = useState((list.items ?? []).map((i) => i.cve_id).join('\n'));
  const [expires, setExpires] = useState(list.expires_at ? new Date(list.expires_at * 1000).toISOString().slice(0, 10) : '');
  useEffect(() => {
    setText((list.items ?? []).map((i) => i.cve_id).join('\n'));
    setExpires(list.expires_at ? new Date(list.expires_at * 1000).toISOString().slice(0, 10) : '');
  }, [list]);
  const ids = [...new Set(text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean))];
  return (
    <div className="allowlist">
      <Field label="CVE IDs" hint="one per line or comma-separated, e.g. CVE-2024-1234">
        <textarea rows={4} value={text} disabled={disabled} onChange={(e) => setText(e.target.value)} />
      </Field>
      <Field label="Expires on" hint="empty: never">
        <input type="date" value={expires} disabled={disabled} onChange={(e) => setExpires(e.target.value)} />
      </Field>
      {!disabled ? (
        <Button
          busy={busy}
          onClick={() =>
            onSave({ ...list, items: ids.map((cve_id) => ({ cve_id })), expires_at: expires ? Math.floor(new Date(`${expires}T00:00:00Z`).getTime() / 1000) : null })
          }
        >
          Save allowlist
        </Button>
      ) : null}
    </div>
  );
}
