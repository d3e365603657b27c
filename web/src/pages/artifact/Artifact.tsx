// An artifact's page: its overview and build history (Overview.tsx), its
// vulnerability report, its signatures (checked against the project's
// trusted keys) and its SBOM.
import { useState } from 'react';
import { API_PREFIX, api, fillPath, VULN_REPORT_MIME, type Artifact, type Signature, type Vulnerability } from '../../api';
import { Link, setQuery, useLocation } from '../../router';
import { useAction, useLoad } from '../../components/hooks';
import { Tabs } from '../../components/Tabs';
import { Button, CopyButton, ErrorText, Spinner, formatTime, shortDigest } from '../../components/ui';
import { registryHost } from '../project/Repositories';
import { SEVERITIES, SeverityBar, scanRunning, scanSummary } from '../../components/Security';
import { useProjectPerms } from '../project/perms';
import { BuildHistory, Overview } from './Overview';

const TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'history', label: 'Build History' },
  { id: 'vulnerabilities', label: 'Vulnerabilities' },
  { id: 'signatures', label: 'Signatures' },
  { id: 'sbom', label: 'SBOM' },
];

export default function ArtifactPage({ params }: { params: Record<string, string> }) {
  const project = params.project ?? '';
  const repo = params.repo ?? '';
  const reference = params.reference ?? '';
  const loc = useLocation();
  const load = useLoad(() => api.artifactWithSBOM(project, repo, reference), [project, repo, reference]);
  const { can } = useProjectPerms(load.data?.project_id);
  const tab = TABS.some((t) => t.id === loc.search.get('tab')) ? loc.search.get('tab')! : 'vulnerabilities';
  const a = load.data;
  return (
    <div className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/projects">Projects</Link> › <Link to={`/projects/${encodeURIComponent(project)}`}>{project}</Link> ›{' '}
        <Link to={`/projects/${encodeURIComponent(project)}/repositories/${repo}`}>{repo}</Link>
      </nav>
      <h1>
        <code>{shortDigest(reference)}</code>
      </h1>
      {a?.tags?.length ? <p>Tags: {(a.tags ?? []).map((t) => t.name).join(', ')}</p> : null}
      <ErrorText error={load.error} />
      {load.loading && !a ? <Spinner /> : null}
      {a ? (
        <Tabs label="Artifact" tabs={TABS} active={tab} onChange={(t) => setQuery(loc, { tab: t })}>
          {tab === 'overview' ? <Overview project={project} repo={repo} a={a} /> : null}
          {tab === 'history' ? <BuildHistory project={project} repo={repo} a={a} /> : null}
          {tab === 'vulnerabilities' ? <Vulnerabilities project={project} repo={repo} a={a} canScan={can('scan', 'create')} onScanned={load.reload} /> : null}
          {tab === 'signatures' ? <Signatures project={project} repo={repo} digest={a.digest ?? reference} /> : null}
          {tab === 'sbom' ? <SBOM project={project} repo={repo} a={a} canScan={can('scan', 'create')} onChange={load.reload} /> : null}
        </Tabs>
      ) : null}
    </div>
  );
}

const sevRank = (s: string | undefined) => {
  const i = SEVERITIES.findIndex((x) => x.toLowerCase() === (s ?? '').toLowerCase());
  return i < 0 ? SEVERITIES.length : i;
};

function Vulnerabilities({ project, repo, a, canScan, onScanned }: { project: string; repo: string; a: Artifact; canScan: boolean; onScanned: () => void }) {
  const digest = a.digest ?? '';
  const summary = scanSummary(a);
  const load = useLoad(() => (summary?.scan_status === 'Success' ? api.vulnerabilities(project, repo, digest) : Promise.resolve(undefined)), [project, repo, digest, summary?.scan_status]);
  const [severity, setSeverity] = useState('');
  const [text, setText] = useState('');
  const act = useAction();
  const report = load.data ? (load.data[VULN_REPORT_MIME] ?? Object.values(load.data)[0]) : undefined;
  const all = [...(report?.vulnerabilities ?? [])].sort((x, y) => sevRank(x.severity) - sevRank(y.severity) || x.id.localeCompare(y.id));
  const shown = all.filter(
    (v) => (!severity || (v.severity ?? '').toLowerCase() === severity.toLowerCase()) && (!text || `${v.id} ${v.package ?? ''}`.toLowerCase().includes(text.toLowerCase())),
  );
  const scan = async () => {
    if (await act.run(async () => (await api.scan(project, repo, digest), true))) onScanned();
  };
  return (
    <section aria-label="Vulnerabilities">
      <div className="toolbar">
        {canScan ? (
          <Button busy={act.busy} disabled={scanRunning(summary)} onClick={() => void scan()}>
            {summary ? 'Scan again' : 'Scan'}
          </Button>
        ) : null}
        <Button onClick={onScanned} aria-label="Refresh report">
          ↻
        </Button>
      </div>
      <ErrorText error={act.error} />
      {!summary ? <p className="muted">Not scanned.</p> : null}
      {scanRunning(summary) ? (
        <p>
          <progress max={100} value={summary?.complete_percent ?? 0} aria-label="Scan progress" /> {summary?.scan_status} {summary?.complete_percent ?? 0}%
        </p>
      ) : null}
      {summary && !scanRunning(summary) && summary.scan_status !== 'Success' ? <p className="error">The last scan ended {summary.scan_status?.toLowerCase()}.</p> : null}
      <ErrorText error={load.error} />
      {report ? (
        <>
          <p>
            Scanned by {report.scanner?.name ?? '—'} {report.scanner?.version ?? ''} at {formatTime(report.generated_at ?? summary?.end_time)}
            {all.length ? (
              <>
                {' '}
                — {all.length} vulnerabilities, severity {report.severity}. <SeverityBar counts={summary?.summary?.summary ?? {}} />
              </>
            ) : null}
          </p>
          {all.length === 0 ? (
            <p className="badge ok">No vulnerabilities</p>
          ) : (
            <>
              <div className="toolbar">
                <label>
                  Severity{' '}
                  <select aria-label="Filter by severity" value={severity} onChange={(e) => setSeverity(e.target.value)}>
                    <option value="">All</option>
                    {SEVERITIES.map((s) => (
                      <option key={s}>{s}</option>
                    ))}
                  </select>
                </label>
                <input type="search" aria-label="Filter by CVE or package" placeholder="CVE or package" value={text} onChange={(e) => setText(e.target.value)} />
              </div>
              <VulnTable items={shown} />
            </>
          )}
        </>
      ) : null}
    </section>
  );
}

function VulnTable({ items }: { items: Vulnerability[] }) {
  return (
    <table className="table" aria-label="Vulnerability report">
      <thead>
        <tr>
          <th>Vulnerability</th>
          <th>Severity</th>
          <th>Package</th>
          <th>Current version</th>
          <th>Fixed in version</th>
          <th>Links</th>
        </tr>
      </thead>
      <tbody>
        {items.length === 0 ? (
          <tr>
            <td colSpan={6} className="muted">
              No vulnerabilities match.
            </td>
          </tr>
        ) : null}
        {items.map((v) => (
          <tr key={`${v.id}/${v.package ?? ''}/${v.version ?? ''}`}>
            <td title={v.description}>{v.id}</td>
            <td>
              <span className={`badge sev-${(v.severity ?? '').toLowerCase()}`}>{v.severity}</span>
            </td>
            <td>{v.package}</td>
            <td>{v.version}</td>
            <td>{v.fix_version || <span className="muted">—</span>}</td>
            <td>
              {(v.links ?? [])
                .filter((l) => /^https?:\/\//.test(l))
                .slice(0, 3)
                .map((l, i) => (
                  <span key={l}>
                    {i > 0 ? ' · ' : null}
                    <a href={l} target="_blank" rel="noreferrer noopener" title={l}>
                      {new URL(l).hostname}
                    </a>
                  </span>
                ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Signatures({ project, repo, digest }: { project: string; repo: string; digest: string }) {
  const load = useLoad(() => api.signatures(project, repo, digest), [project, repo, digest]);
  const rows: Signature[] = load.data ?? [];
  return (
    <section aria-label="Signatures">
      <ErrorText error={load.error} />
      {load.loading ? <Spinner /> : null}
      {!load.loading && rows.length === 0 ? <p className="muted">Not signed.</p> : null}
      {rows.length > 0 ? (
        <table className="table" aria-label="Signatures">
          <thead>
            <tr>
              <th>Format</th>
              <th>Kind</th>
              <th>Signer</th>
              <th>Signed</th>
              <th>Verified</th>
              <th>Digest</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={`${s.digest}/${s.layer ?? ''}`}>
                <td>{s.format === 'notation' ? 'Notation' : 'cosign'}</td>
                <td>
                  {s.kind}
                  {s.predicate_type ? <span className="hint"> {s.predicate_type}</span> : null}
                  {s.inherited_from ? <span className="hint"> (from index {shortDigest(s.inherited_from)})</span> : null}
                </td>
                <td className="break">{s.signer || '—'}</td>
                <td className="nowrap">{formatTime(s.signed_at)}</td>
                <td>
                  {s.verified ? (
                    <span className="badge ok">Verified by {s.trusted_by}</span>
                  ) : (
                    <span className="badge" title={s.problem}>
                      Not verified{s.problem ? `: ${s.problem}` : ''}
                    </span>
                  )}
                </td>
                <td>
                  <code title={s.digest}>{shortDigest(s.digest)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <p className="hint">Signatures are checked against the project&apos;s trusted keys (project Configuration).</p>
    </section>
  );
}

/**
 * SBOM generates one (scan_type sbom) and shows where it is: an accessory
 * artifact. Download fetches its document through the API (Harbor's sbom
 * addition of the SBOM artifact; the session cannot read /v2), and the page
 * gives the oras command that pulls it with registry credentials.
 */
function SBOM({ project, repo, a, canScan, onChange }: { project: string; repo: string; a: Artifact; canScan: boolean; onChange: () => void }) {
  const o = a.sbom_overview;
  const gen = useAction();
  const digest = a.digest ?? '';
  const running = o?.scan_status === 'Pending' || o?.scan_status === 'Running';
  const generate = async () => {
    if (await gen.run(async () => (await api.scan(project, repo, digest, 'sbom'), true))) onChange();
  };
  const pull = o?.sbom_digest ? `oras pull ${registryHost()}/${project}/${repo}@${o.sbom_digest}` : '';
  const href = o?.sbom_digest
    ? API_PREFIX +
      fillPath('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/sbom', {
        project_name: project,
        repository_name: repo,
        reference: o.sbom_digest,
      })
    : '';
  return (
    <section aria-label="SBOM">
      {!o || !o.scan_status ? (
        <p className="muted">No SBOM generated.</p>
      ) : (
        <p>
          SBOM: {o.scan_status}
          {o.end_time ? `, ${formatTime(o.end_time)}` : ''}
        </p>
      )}
      {o?.sbom_digest ? (
        <p>
          SBOM artifact <code title={o.sbom_digest}>{shortDigest(o.sbom_digest)}</code>.{' '}
          <a className="btn" href={href} download aria-label="Download SBOM">
            Download
          </a>{' '}
          Or pull it with <code>{pull}</code> <CopyButton text={pull} label="Copy SBOM download command" />
        </p>
      ) : null}
      <div className="toolbar">
        {canScan ? (
          <Button busy={gen.busy} disabled={running} onClick={() => void generate()}>
            {o?.sbom_digest ? 'Generate SBOM again' : 'Generate SBOM'}
          </Button>
        ) : null}
        <Button onClick={onChange} aria-label="Refresh SBOM">
          ↻
        </Button>
      </div>
      <ErrorText error={gen.error} />
    </section>
  );
}
