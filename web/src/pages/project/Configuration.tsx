import { useState, type FormEvent } from 'react';
import { api, type Project, type ProjectMetadata } from '../../api';
import { useAction } from '../../components/hooks';
import { Button, ErrorText } from '../../components/ui';
import { useToast } from '../../components/Toasts';
import type { Can } from './perms';

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'none'];

/** The project's metadata switches, with Harbor's keys. */
export default function Configuration({ project, can, onSaved }: { project: Project; can: Can; onSaved: () => void }) {
  const m = project.metadata ?? {};
  const on = (k: keyof ProjectMetadata) => m[k] === 'true';
  const [pub, setPub] = useState(on('public'));
  const [trust, setTrust] = useState(on('enable_content_trust'));
  const [cosign, setCosign] = useState(on('enable_content_trust_cosign'));
  const [preventVul, setPreventVul] = useState(on('prevent_vul'));
  const [severity, setSeverity] = useState(m.severity || 'low');
  const [autoScan, setAutoScan] = useState(on('auto_scan'));
  const act = useAction();
  const toast = useToast();
  const editable = can('configuration', 'update') || can('metadata', 'update');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => {
      await api.updateProject(project.name ?? '', {
        metadata: {
          public: String(pub),
          enable_content_trust: String(trust),
          enable_content_trust_cosign: String(cosign),
          prevent_vul: String(preventVul),
          severity,
          auto_scan: String(autoScan),
        },
      });
      return true;
    });
    if (ok) {
      toast.ok('Configuration saved');
      onSaved();
    }
  };
  const check = (label: string, value: boolean, set: (v: boolean) => void, hint?: string) => (
    <label className="check">
      <input type="checkbox" checked={value} disabled={!editable} onChange={(e) => set(e.target.checked)} /> {label}
      {hint ? <span className="hint"> — {hint}</span> : null}
    </label>
  );
  return (
    <form aria-label="Project configuration" className="card" onSubmit={(e) => void submit(e)}>
      <h2>Project registry</h2>
      {check('Public', pub, setPub, 'anyone can pull from a public project, signed in or not')}
      <h2>Deployment security</h2>
      {check('Content trust (Notation)', trust, setTrust, 'only signed images can be pulled')}
      {check('Cosign', cosign, setCosign, 'only images signed with cosign can be pulled')}
      <label className="check">
        <input type="checkbox" checked={preventVul} disabled={!editable} onChange={(e) => setPreventVul(e.target.checked)} /> Prevent vulnerable images from running — severity of{' '}
        <select aria-label="Severity" value={severity} disabled={!editable || !preventVul} onChange={(e) => setSeverity(e.target.value)}>
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {s[0]!.toUpperCase() + s.slice(1)}
            </option>
          ))}
        </select>{' '}
        and above
      </label>
      <h2>Vulnerability scanning</h2>
      {check('Automatically scan images on push', autoScan, setAutoScan)}
      <ErrorText error={act.error} />
      {editable ? (
        <Button type="submit" variant="primary" busy={act.busy}>
          Save
        </Button>
      ) : (
        <p className="muted">Only project admins can change these.</p>
      )}
    </form>
  );
}
