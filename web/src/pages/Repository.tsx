import { useState } from 'react';
import { api, type Artifact } from '../api';
import { Link, setQuery, useLocation } from '../router';
import { ScanCell, SignedCell } from '../components/Security';
import { useAction, useLoad } from '../components/hooks';
import { Tabs } from '../components/Tabs';
import { Pager, Table, type Column } from '../components/Table';
import { usePaging } from '../components/paging';
import { ConfirmAction, Modal } from '../components/Modal';
import { Button, CopyButton, ErrorText, Markdown, Spinner, formatSize, formatTime, shortDigest } from '../components/ui';
import { useToast } from '../components/Toasts';
import { useProjectPerms, type Can } from './project/perms';
import { registryHost } from './project/Repositories';

/** A repository: its description (Info) and its artifacts. */
export default function RepositoryPage({ params }: { params: Record<string, string> }) {
  const project = params.project ?? '';
  const repo = params.repo ?? '';
  const loc = useLocation();
  const proj = useLoad(() => api.project(project), [project]);
  const { can } = useProjectPerms(proj.data?.project_id);
  const tab = loc.search.get('tab') === 'info' ? 'info' : 'artifacts';
  return (
    <div className="page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/projects">Projects</Link> › <Link to={`/projects/${encodeURIComponent(project)}`}>{project}</Link> ›
      </nav>
      <div className="page-head">
        <h1>
          {project}/{repo}
        </h1>
      </div>
      <ErrorText error={proj.error} />
      <Tabs
        label="Repository"
        tabs={[
          { id: 'info', label: 'Info' },
          { id: 'artifacts', label: 'Artifacts' },
        ]}
        active={tab}
        onChange={(t) => setQuery(loc, { tab: t, page: undefined })}
      >
        {tab === 'info' ? <Info project={project} repo={repo} can={can} /> : <Artifacts project={project} repo={repo} can={can} />}
      </Tabs>
    </div>
  );
}

function Info({ project, repo, can }: { project: string; repo: string; can: Can }) {
  const load = useLoad(() => api.repository(project, repo), [project, repo]);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('');
  const act = useAction();
  const toast = useToast();
  if (load.loading && !load.data) return <Spinner />;
  const desc = load.data?.description ?? '';
  if (editing)
    return (
      <section aria-label="Info">
        <label className="field">
          <span className="field-label">Description (Markdown supported)</span>
          <textarea rows={12} value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <ErrorText error={act.error} />
        <div className="toolbar">
          <Button
            variant="primary"
            busy={act.busy}
            onClick={async () => {
              const ok = await act.run(async () => {
                await api.updateRepository(project, repo, text);
                return true;
              });
              if (ok) {
                toast.ok('Description saved');
                setEditing(false);
                load.reload();
              }
            }}
          >
            Save
          </Button>
          <Button onClick={() => setEditing(false)}>Cancel</Button>
        </div>
      </section>
    );
  return (
    <section aria-label="Info">
      <ErrorText error={load.error} />
      {desc ? <Markdown source={desc} /> : <p className="muted">No description.</p>}
      {can('repository', 'update') ? (
        <Button
          onClick={() => {
            setText(desc);
            act.clear();
            setEditing(true);
          }}
        >
          Edit description
        </Button>
      ) : null}
    </section>
  );
}

function tagNames(a: Artifact): string[] {
  return (a.tags ?? []).map((t) => t.name ?? '').filter(Boolean);
}

/** Clients whose pull command the copy buttons produce (remembered). */
const RUNTIMES = ['docker', 'podman', 'nerdctl', 'crictl'] as const;
type Runtime = (typeof RUNTIMES)[number];

function useRuntime(): [Runtime, (r: Runtime) => void] {
  const saved = localStorage.getItem('berth.pullRuntime') as Runtime | null;
  const [rt, setRt] = useState<Runtime>(saved && RUNTIMES.includes(saved) ? saved : 'docker');
  return [
    rt,
    (r) => {
      localStorage.setItem('berth.pullRuntime', r);
      setRt(r);
    },
  ];
}

type Pending = { kind: 'artifact'; a: Artifact } | { kind: 'tag'; a: Artifact; tag: string };

function Artifacts({ project, repo, can }: { project: string; repo: string; can: Can }) {
  const pg = usePaging('-push_time');
  const load = useLoad(() => api.artifacts(project, repo, { page: pg.page, pageSize: pg.pageSize, sort: pg.sort }), [project, repo, pg.page, pg.pageSize, pg.sort]);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<Pending | null>(null);
  const [labelling, setLabelling] = useState<Artifact | null>(null);
  const [adding, setAdding] = useState<string>('');
  const [newTag, setNewTag] = useState('');
  const tagAct = useAction();
  const toast = useToast();
  const host = registryHost();
  const ref = `${host}/${project}/${repo}`;
  const [runtime, setRuntime] = useRuntime();
  const pull = (suffix: string) => `${runtime} pull ${ref}${suffix}`;

  const columns: Column<Artifact>[] = [
    {
      header: 'Artifact',
      render: (a) => (
        <span className="digest">
          {(a.references?.length ?? 0) > 0 ? (
            <button
              type="button"
              className="btn plain small"
              aria-expanded={open.has(a.digest ?? '')}
              aria-label={`Show the ${a.references!.length} platforms of ${shortDigest(a.digest)}`}
              onClick={() =>
                setOpen((s) => {
                  const n = new Set(s);
                  const d = a.digest ?? '';
                  if (n.has(d)) n.delete(d);
                  else n.add(d);
                  return n;
                })
              }
            >
              {open.has(a.digest ?? '') ? '▾' : '▸'}
            </button>
          ) : null}
          <code title={a.digest}>{shortDigest(a.digest).replace(/^sha256:/, '')}</code> <CopyButton text={pull(`@${a.digest}`)} label="Copy pull by digest" />
        </span>
      ),
    },
    {
      header: 'Tags',
      render: (a) => (
        <span className="tags">
          {tagNames(a).map((t) => (
            <span key={t} className="tag">
              <code>{t}</code>
              <CopyButton text={pull(`:${t}`)} label={`Copy pull command for ${t}`} />
              {can('tag', 'delete') ? (
                <button type="button" className="btn plain small" aria-label={`Delete tag ${t}`} onClick={() => setPending({ kind: 'tag', a, tag: t })}>
                  ×
                </button>
              ) : null}
            </span>
          ))}
          {can('tag', 'create') ? (
            adding === a.digest ? (
              <form
                className="inline"
                onSubmit={async (e) => {
                  e.preventDefault();
                  const ok = await tagAct.run(async () => {
                    await api.addTag(project, repo, a.digest ?? '', newTag.trim());
                    return true;
                  });
                  if (ok) {
                    toast.ok(`Tagged ${shortDigest(a.digest)} as ${newTag.trim()}`);
                    setAdding('');
                    setNewTag('');
                    load.reload();
                  }
                }}
              >
                <input aria-label="New tag" value={newTag} onChange={(e) => setNewTag(e.target.value)} required pattern="[\w][\w.\-]{0,127}" autoFocus />
                <Button type="submit" className="small" busy={tagAct.busy}>
                  Add
                </Button>
                <Button className="small" onClick={() => setAdding('')}>
                  Cancel
                </Button>
              </form>
            ) : (
              <button
                type="button"
                className="btn plain small"
                aria-label={`Add tag to ${shortDigest(a.digest)}`}
                onClick={() => {
                  tagAct.clear();
                  setNewTag('');
                  setAdding(a.digest ?? '');
                }}
              >
                + tag
              </button>
            )
          ) : null}
        </span>
      ),
    },
    { header: 'Signed', render: (a) => <SignedCell project={project} repo={repo} a={a} /> },
    { header: 'Size', render: (a) => formatSize(a.size), className: 'num' },
    { header: 'Vulnerabilities', render: (a) => <ScanCell project={project} repo={repo} a={a} canScan={can('scan', 'create')} onChange={load.reload} /> },
    {
      header: 'Labels',
      render: (a) => (
        <span className="tags">
          {(a.labels ?? []).map((l) => (
            <span key={l.id} className="label-chip" title={l.description}>
              {l.name}
            </span>
          ))}
          {can('artifact-label', 'create') ? (
            <button type="button" className="btn plain small" aria-label={`Labels of ${shortDigest(a.digest)}`} onClick={() => setLabelling(a)}>
              ✎
            </button>
          ) : null}
        </span>
      ),
    },
    { header: 'Push Time', sort: 'push_time', render: (a) => formatTime(a.push_time) },
    { header: 'Pull Time', sort: 'pull_time', render: (a) => formatTime(a.pull_time) },
  ];
  if (can('artifact', 'delete'))
    columns.push({
      header: 'Actions',
      render: (a) => (
        <Button className="small" variant="danger" aria-label={`Delete artifact ${shortDigest(a.digest)}`} onClick={() => setPending({ kind: 'artifact', a })}>
          Delete
        </Button>
      ),
    });

  const confirm = pending
    ? pending.kind === 'artifact'
      ? {
          title: 'Confirm artifact deletion',
          message: (
            <p>
              Delete <code>{shortDigest(pending.a.digest)}</code>?{' '}
              {tagNames(pending.a).length > 0 ? `Every tag that points at it is removed with it (${tagNames(pending.a).length}):` : 'It has no tags.'}
            </p>
          ),
          items: tagNames(pending.a).map((t) => `${repo}:${t}`),
          label: 'Delete artifact',
          run: () => api.deleteArtifact(project, repo, pending.a.digest ?? ''),
          done: `Deleted ${shortDigest(pending.a.digest)}`,
        }
      : {
          title: 'Confirm tag deletion',
          message: (
            <p>
              Remove the tag <code>{pending.tag}</code> from <code>{shortDigest(pending.a.digest)}</code>? These are all the tags of that digest;{' '}
              {tagNames(pending.a).length > 1 ? 'the others stay:' : 'it is the only one, so the artifact becomes untagged and garbage collection may delete it:'}
            </p>
          ),
          items: tagNames(pending.a).map((t) => `${repo}:${t}${t === pending.tag ? ' (removed)' : ''}`),
          label: 'Delete tag',
          run: () => api.deleteTag(project, repo, pending.a.digest ?? '', pending.tag),
          done: `Deleted tag ${pending.tag}`,
        }
    : null;

  return (
    <section aria-label="Artifacts">
      <div className="toolbar">
        <Button onClick={load.reload} aria-label="Refresh artifacts">
          ↻
        </Button>
        <label>
          Pull with{' '}
          <select value={runtime} onChange={(e) => setRuntime(e.target.value as Runtime)}>
            {RUNTIMES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
      </div>
      <ErrorText error={tagAct.error} />
      <Table
        label="Artifacts"
        columns={columns}
        rows={load.data?.items}
        rowKey={(a) => a.digest ?? ''}
        loading={load.loading}
        error={load.error}
        sort={pg.sort}
        onSort={pg.setSort}
        empty="No artifacts."
        expanded={(a) => (open.has(a.digest ?? '') ? <Children a={a} pull={pull} /> : null)}
      />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {labelling ? (
        <LabelsDialog
          project={project}
          repo={repo}
          artifact={labelling}
          onClose={() => {
            setLabelling(null);
            load.reload();
          }}
        />
      ) : null}
      {confirm ? (
        <ConfirmAction
          title={confirm.title}
          message={confirm.message}
          items={confirm.items}
          confirmLabel={confirm.label}
          perform={confirm.run}
          done={confirm.done}
          onClose={() => setPending(null)}
          onDone={load.reload}
        />
      ) : null}
    </section>
  );
}

/** The platforms of an index, from its references. */
function Children({ a, pull }: { a: Artifact; pull: (suffix: string) => string }) {
  return (
    <table className="children" aria-label={`Platforms of ${shortDigest(a.digest)}`}>
      <thead>
        <tr>
          <th scope="col">OS/Arch</th>
          <th scope="col">Digest</th>
          <th scope="col">Pull</th>
        </tr>
      </thead>
      <tbody>
        {(a.references ?? []).map((r) => (
          <tr key={r.child_digest}>
            <td>{r.platform ? [r.platform.os, r.platform.architecture, r.platform.variant].filter(Boolean).join('/') : '—'}</td>
            <td>
              <code title={r.child_digest}>{shortDigest(r.child_digest)}</code>
            </td>
            <td>
              <CopyButton text={pull(`@${r.child_digest}`)} label="Copy pull by digest" />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Add or remove the global and project labels of one artifact. */
function LabelsDialog({ project, repo, artifact, onClose }: { project: string; repo: string; artifact: Artifact; onClose: () => void }) {
  const proj = useLoad(() => api.project(project), [project]);
  const labels = useLoad(async () => {
    const [g, p] = await Promise.all([api.labels('g'), proj.data?.project_id ? api.labels('p', proj.data.project_id) : Promise.resolve({ items: [] })]);
    return [...g.items, ...p.items];
  }, [proj.data?.project_id]);
  const [on, setOn] = useState<Set<number>>(new Set((artifact.labels ?? []).map((l) => l.id ?? 0)));
  const act = useAction();
  const toggle = async (id: number) => {
    const adding = !on.has(id);
    const ok = await act.run(async () => {
      if (adding) await api.addArtifactLabel(project, repo, artifact.digest ?? '', id);
      else await api.removeArtifactLabel(project, repo, artifact.digest ?? '', id);
      return true;
    });
    if (ok)
      setOn((s) => {
        const n = new Set(s);
        if (adding) n.add(id);
        else n.delete(id);
        return n;
      });
  };
  return (
    <Modal title={`Labels of ${shortDigest(artifact.digest)}`} onClose={onClose} footer={<Button onClick={onClose}>Done</Button>}>
      {labels.loading ? <Spinner /> : null}
      <ErrorText error={labels.error || act.error} />
      {labels.data && labels.data.length === 0 ? <p className="muted">No labels exist yet: an administrator makes global labels, a project admin project labels.</p> : null}
      {labels.data?.map((l) => (
        <label key={l.id} className="check">
          <input type="checkbox" checked={on.has(l.id ?? 0)} disabled={act.busy} onChange={() => void toggle(l.id ?? 0)} />
          <span className="label-chip">{l.name}</span>
          <span className="muted">{l.scope === 'g' ? 'global' : 'project'}</span>
        </label>
      ))}
    </Modal>
  );
}
