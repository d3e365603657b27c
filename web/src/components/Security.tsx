// Vulnerability and signature cells of the Artifacts table, and the
// severity pieces the report pages share.
import { api, type Artifact, type ScanSummary } from '../api';
import { Link } from '../router';
import { useAction } from './hooks';
import { Button, ErrorText } from './ui';

export const SEVERITIES = ['Critical', 'High', 'Medium', 'Low', 'Unknown', 'None'] as const;

/** artifactPath is the artifact page of a digest; tab picks its section. */
export function artifactPath(project: string, repo: string, digest: string, tab?: 'vulnerabilities' | 'signatures' | 'sbom'): string {
  return `/projects/${encodeURIComponent(project)}/artifact/${encodeURIComponent(digest)}/${repo}${tab ? `?tab=${tab}` : ''}`;
}

/** The vulnerability scan summary of an artifact (its first report). */
export function scanSummary(a: Artifact): ScanSummary | undefined {
  return Object.values(a.scan_overview ?? {})[0];
}

export function scanRunning(r: ScanSummary | undefined): boolean {
  return r?.scan_status === 'Pending' || r?.scan_status === 'Running' || r?.scan_status === 'Scheduled';
}

/** SeverityBar draws the counts by severity, widest first, with a text equivalent. */
export function SeverityBar({ counts }: { counts: Record<string, number> }) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const parts = SEVERITIES.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${counts[s]} ${s}`);
  return (
    <span className="sev-bar" role="img" aria-label={parts.join(', ')} title={parts.join(', ')}>
      {SEVERITIES.filter((s) => (counts[s] ?? 0) > 0).map((s) => (
        <span key={s} className={`sev-seg sev-${s.toLowerCase()}`} style={{ flexGrow: counts[s] }} />
      ))}
    </span>
  );
}

/** ScanCell: the vulnerability summary, progress while scanning, Scan and Stop. */
export function ScanCell({ project, repo, a, canScan, onChange }: { project: string; repo: string; a: Artifact; canScan: boolean; onChange: () => void }) {
  const act = useAction();
  const r = scanSummary(a);
  const digest = a.digest ?? '';
  const short = digest.slice(7, 19);
  const running = scanRunning(r);
  let face;
  if (!r) face = <span className="muted">Not scanned</span>;
  else if (running)
    face = (
      <span className="scan-progress">
        <progress max={100} value={r.complete_percent ?? 0} aria-label={`Scan progress of ${short}`} /> {r.scan_status} {r.complete_percent ?? 0}%
      </span>
    );
  else if (r.scan_status !== 'Success') face = <span className="badge sev-high">Scan {r.scan_status?.toLowerCase()}</span>;
  else if (!r.summary?.total)
    face = (
      <Link to={artifactPath(project, repo, digest, 'vulnerabilities')} className="badge ok">
        No vulnerabilities
      </Link>
    );
  else
    face = (
      <Link to={artifactPath(project, repo, digest, 'vulnerabilities')} aria-label={`Vulnerabilities of ${short}`}>
        <span className={`badge sev-${(r.severity ?? '').toLowerCase()}`}>
          {r.summary.total} total{r.summary.fixable ? `, ${r.summary.fixable} fixable` : ''}
        </span>{' '}
        <SeverityBar counts={r.summary.summary ?? {}} />
      </Link>
    );
  const go = async (stop: boolean) => {
    const ok = await act.run(async () => {
      if (stop) await api.stopScan(project, repo, digest);
      else await api.scan(project, repo, digest);
      return true;
    });
    if (ok) onChange();
  };
  return (
    <span className="scan-cell">
      {face}
      {canScan ? (
        running ? (
          <Button className="small" busy={act.busy} onClick={() => void go(true)} aria-label={`Stop scanning ${short}`}>
            Stop
          </Button>
        ) : (
          <Button className="small" busy={act.busy} onClick={() => void go(false)} aria-label={`Scan ${short}`}>
            Scan
          </Button>
        )
      ) : null}
      <ErrorText error={act.error} />
    </span>
  );
}

/** isSigned: a signature accessory (cosign or Notation) on it or an index listing it. */
export function isSigned(a: Artifact): boolean {
  return [...(a.accessories ?? []), ...(a.inherited_accessories ?? [])].some((x) => (x.type ?? '').startsWith('signature'));
}

export function SignedCell({ project, repo, a }: { project: string; repo: string; a: Artifact }) {
  if (!isSigned(a)) return <span className="muted">No</span>;
  const types = [...new Set([...(a.accessories ?? []), ...(a.inherited_accessories ?? [])].map((x) => x.type ?? '').filter((t) => t.startsWith('signature')).map((t) => t.replace('signature.', '')))];
  return (
    <Link to={artifactPath(project, repo, a.digest ?? '', 'signatures')} className="badge ok" title={types.join(', ')} aria-label={`Signatures of ${(a.digest ?? '').slice(7, 19)}`}>
      Signed
    </Link>
  );
}
