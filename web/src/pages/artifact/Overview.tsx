// An artifact's Overview (what it is, its config summary and annotations,
// a chart's readme, the pull command by digest) and its Build History
// (the image config's history, …/additions/build_history).
import { api, type Artifact } from '../../api';
import { useLoad } from '../../components/hooks';
import { Button, CopyButton, ErrorText, Markdown, Spinner, formatSize, formatTime } from '../../components/ui';
import { registryHost } from '../project/Repositories';

/** One step of an image's build, as the image config records it. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The pull command by digest, for the client the Repository page last chose. */
export function pullByDigest(project: string, repo: string, digest: string): string {
  const rt = localStorage.getItem('berth.pullRuntime') ?? 'docker';
  return `${/^(docker|podman|nerdctl|crictl)$/.test(rt) ? rt : 'docker'} pull ${registryHost()}/${project}/${repo}@${digest}`;
}

function show(v: unknown): string {
  if (v === undefined || v === null || v === '') return '—';
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

export function Overview({ project, repo, a }: { project: string; repo: string; a: Artifact }) {
  const digest = a.digest ?? '';
  const pull = pullByDigest(project, repo, digest);
  const extra = (a.extra_attrs ?? {}) as Record<string, unknown>;
  const annotations = (a.annotations ?? {}) as Record<string, string>;
  const links = Object.keys(a.addition_links ?? {});
  const hasReadme = links.includes('readme.md');
  const readme = useLoad(() => (hasReadme ? api.addition<string>(project, repo, digest, 'readme.md') : Promise.resolve(undefined)), [project, repo, digest, hasReadme]);
  const rows: [string, string][] = [
    ['Type', show(a.type)],
    ['Media type', show(a.manifest_media_type ?? a.media_type)],
    ...(a.artifact_type ? ([['Artifact type', a.artifact_type]] as [string, string][]) : []),
    ['Digest', digest],
    ['Size', formatSize(a.size)],
    ['Pushed', formatTime(a.push_time)],
    ['Last pulled', formatTime(a.pull_time)],
  ];
  return (
    <section aria-label="Overview">
      <h2>Pull command</h2>
      <p className="inline">
        <code aria-label="Pull command by digest">{pull}</code> <CopyButton text={pull} label="Copy pull command by digest" />
      </p>
      <h2>Summary</h2>
      <dl className="props" aria-label="Artifact summary">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{k === 'Digest' ? <code>{v}</code> : v}</dd>
          </div>
        ))}
      </dl>
      <h2>Configuration</h2>
      {Object.keys(extra).length === 0 ? (
        <p>berth found no configuration summary for this artifact.</p>
      ) : (
        <dl className="props" aria-label="Configuration summary">
          {Object.entries(extra).map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{typeof v === 'object' && v !== null ? <pre className="code-block">{JSON.stringify(v, null, 2)}</pre> : show(v)}</dd>
            </div>
          ))}
        </dl>
      )}
      {Object.keys(annotations).length > 0 ? (
        <>
          <h2>Annotations</h2>
          <dl className="props" aria-label="Annotations">
            {Object.entries(annotations).map(([k, v]) => (
              <div key={k}>
                <dt>
                  <code>{k}</code>
                </dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
        </>
      ) : null}
      {hasReadme ? (
        <>
          <h2>Readme</h2>
          <ErrorText error={readme.error} />
          {readme.loading ? <Spinner /> : readme.data ? <Markdown source={readme.data} /> : null}
        </>
      ) : null}
    </section>
  );
}

export function BuildHistory({ project, repo, a }: { project: string; repo: string; a: Artifact }) {
  const digest = a.digest ?? '';
  const offered = 'build_history' in (a.addition_links ?? {});
  const load = useLoad(() => (offered ? api.addition<HistoryEntry[]>(project, repo, digest, 'build_history') : Promise.resolve([])), [project, repo, digest, offered]);
  const steps = load.data ?? [];
  return (
    <section aria-label="Build history">
      <div className="toolbar">
        <Button onClick={load.reload} aria-label="Refresh build history">
          ↻
        </Button>
      </div>
      <ErrorText error={load.error} />
      {load.loading ? (
        <Spinner />
      ) : !offered ? (
        <p>This artifact has no build history (it is not an image with a config).</p>
      ) : steps.length === 0 ? (
        <p>The image config records no build history.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label="Build history steps">
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Command</th>
                <th scope="col">Layer</th>
              </tr>
            </thead>
            <tbody>
              {steps.map((h, i) => (
                <tr key={i}>
                  <td className="nowrap">{formatTime(h.created)}</td>
                  <td>
                    {h.created_by ? <code className="history-cmd">{h.created_by.replace(/^\/bin\/sh -c #\(nop\)\s*/, '')}</code> : <span className="hint">no command recorded</span>}
                    {h.comment ? <div className="hint">{h.comment}</div> : null}
                  </td>
                  <td>{h.empty_layer ? 'empty' : 'yes'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
