// The security part of a project's Configuration tab: its scanner, its
// CVE allowlist (or the system's) and the keys content trust checks
// signatures against.
import { useState, type FormEvent } from 'react';
import { api, type Project, type TrustKey } from '../../api';
import { useAction, useLoad } from '../../components/hooks';
import { ConfirmAction } from '../../components/Modal';
import { Button, ErrorText, Field, formatTime } from '../../components/ui';
import { useToast } from '../../components/Toasts';
import { AllowlistEditor } from '../admin/Interrogation';
import type { Can } from './perms';

export default function ProjectSecurity({ project, can, onSaved }: { project: Project; can: Can; onSaved: () => void }) {
  const editable = can('configuration', 'update') || can('metadata', 'update');
  return (
    <>
      <ScannerChoice project={project.name ?? ''} editable={can('scanner', 'create') || editable} />
      <Allowlist project={project} editable={editable} onSaved={onSaved} />
      <TrustKeys project={project.name ?? ''} editable={editable} />
    </>
  );
}

function ScannerChoice({ project, editable }: { project: string; editable: boolean }) {
  const current = useLoad(() => api.projectScanner(project).catch(() => undefined), [project]);
  const candidates = useLoad(() => (editable ? api.projectScannerCandidates(project).then((p) => p.items) : Promise.resolve([])), [project, editable]);
  const act = useAction();
  const toast = useToast();
  return (
    <section className="card" aria-label="Scanner">
      <h2>Scanner</h2>
      <p>
        Scans use <strong>{current.data?.name ?? 'the default scanner'}</strong>
        {current.data?.url ? <> ({current.data.url})</> : null}.
      </p>
      {editable && (candidates.data?.length ?? 0) > 1 ? (
        <Field label="Project scanner">
          <select
            value={current.data?.uuid ?? ''}
            disabled={act.busy}
            onChange={async (e) => {
              const uuid = e.target.value;
              if (await act.run(async () => (await api.setProjectScanner(project, uuid), true))) {
                toast.ok('Scanner changed');
                current.reload();
              }
            }}
          >
            {(candidates.data ?? []).map((s) => (
              <option key={s.uuid} value={s.uuid}>
                {s.name}
                {s.is_default ? ' (default)' : ''}
              </option>
            ))}
          </select>
        </Field>
      ) : null}
      <ErrorText error={act.error || candidates.error} />
    </section>
  );
}

function Allowlist({ project, editable, onSaved }: { project: Project; editable: boolean; onSaved: () => void }) {
  const [reuse, setReuse] = useState(project.metadata?.reuse_sys_cve_allowlist !== 'false');
  const system = useLoad(() => (reuse ? api.systemAllowlist() : Promise.resolve(undefined)), [reuse]);
  const act = useAction();
  const toast = useToast();
  const save = async (reuseSys: boolean, list = project.cve_allowlist ?? {}) => {
    if (
      await act.run(async () => {
        await api.updateProject(project.name ?? '', { metadata: { reuse_sys_cve_allowlist: String(reuseSys) }, cve_allowlist: { items: list.items ?? [], expires_at: list.expires_at ?? null } });
        return true;
      })
    ) {
      toast.ok('CVE allowlist saved');
      onSaved();
    }
  };
  return (
    <section className="card" aria-label="CVE allowlist">
      <h2>CVE allowlist</h2>
      <p className="hint">Vulnerabilities listed here do not count for &quot;Prevent vulnerable images from running&quot;.</p>
      <label className="check">
        <input
          type="checkbox"
          checked={reuse}
          disabled={!editable || act.busy}
          onChange={(e) => {
            setReuse(e.target.checked);
            void save(e.target.checked);
          }}
        />{' '}
        Use the system allowlist
      </label>
      {reuse ? (
        <p>
          System allowlist: {(system.data?.items ?? []).map((i) => i.cve_id).join(', ') || <span className="muted">empty</span>}
        </p>
      ) : (
        <AllowlistEditor list={project.cve_allowlist ?? {}} busy={act.busy} disabled={!editable} onSave={(l) => void save(false, l)} />
      )}
      <ErrorText error={act.error || system.error} />
    </section>
  );
}

function TrustKeys({ project, editable }: { project: string; editable: boolean }) {
  const load = useLoad(() => api.trustKeys(project), [project]);
  const [type, setType] = useState<'cosign' | 'notation'>('cosign');
  const [name, setName] = useState('');
  const [pem, setPem] = useState('');
  const [deleting, setDeleting] = useState<TrustKey | null>(null);
  const add = useAction();
  const toast = useToast();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (await add.run(async () => (await api.addTrustKey(project, type, name.trim(), pem), true))) {
      toast.ok(`Trusted ${name.trim()}`);
      setName('');
      setPem('');
      load.reload();
    }
  };
  const keys = load.data ?? [];
  return (
    <section className="card" aria-label="Trusted keys">
      <h2>Trusted keys</h2>
      <p className="hint">
        When a project has keys of a format, content trust of that format accepts only signatures that verify against one of them: cosign public keys, and Notation root (CA)
        certificates.
      </p>
      <ErrorText error={load.error} />
      {keys.length === 0 && !load.loading ? <p className="muted">No trusted keys: any signature of the format satisfies content trust.</p> : null}
      {keys.length > 0 ? (
        <table className="table" aria-label="Trusted keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>Fingerprint</th>
              <th>Added</th>
              {editable ? <th>Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>{k.type === 'notation' ? 'Notation certificate' : 'cosign key'}</td>
                <td>
                  <code>{k.fingerprint}</code>
                </td>
                <td>{formatTime(k.creation_time)}</td>
                {editable ? (
                  <td>
                    <Button className="small" variant="danger" onClick={() => setDeleting(k)} aria-label={`Delete key ${k.name}`}>
                      Delete
                    </Button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {editable ? (
        <form aria-label="Add trusted key" onSubmit={(e) => void submit(e)}>
          <h3>Add a key</h3>
          <Field label="Key type">
            <select value={type} onChange={(e) => setType(e.target.value as 'cosign' | 'notation')}>
              <option value="cosign">cosign public key</option>
              <option value="notation">Notation root certificate</option>
            </select>
          </Field>
          <Field label="Key name">
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={255} />
          </Field>
          <Field label="PEM" hint="paste it, or choose a file below">
            <textarea rows={5} value={pem} onChange={(e) => setPem(e.target.value)} required placeholder="-----BEGIN PUBLIC KEY-----" />
          </Field>
          <Field label="PEM file">
            <input
              type="file"
              accept=".pem,.pub,.crt,.cer,text/plain"
              onChange={async (e) => {
                const f = e.target.files?.[0];
                if (!f) return;
                if (f.size > 64 * 1024) {
                  await add.run(() => Promise.reject(new Error('That file is too large for a key or certificate')));
                  return;
                }
                setPem(await f.text());
                if (!name) setName(f.name.replace(/\.(pem|pub|crt|cer)$/, ''));
              }}
            />
          </Field>
          <ErrorText error={add.error} />
          <Button type="submit" variant="primary" busy={add.busy}>
            Add key
          </Button>
        </form>
      ) : null}
      {deleting ? (
        <ConfirmAction
          title="Delete trusted key"
          message="Signatures made with it stop satisfying content trust in this project."
          items={[deleting.name ?? '']}
          perform={() => api.deleteTrustKey(project, deleting.id!)}
          done={`Deleted ${deleting.name}`}
          onClose={() => setDeleting(null)}
          onDone={load.reload}
        />
      ) : null}
    </section>
  );
}
