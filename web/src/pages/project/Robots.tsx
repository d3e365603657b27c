import { useState, type FormEvent } from 'react';
import { api, type Project, type Robot, type RobotPermission } from '../../api';
import { Pager, Table, type Column } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { useAction, useLoad } from '../../components/hooks';
import { ConfirmAction, Modal } from '../../components/Modal';
import { Button, CopyButton, ErrorText, Field, download, formatTime } from '../../components/ui';
import { useToast } from '../../components/Toasts';
import { registryHost } from './Repositories';
import type { Can } from './perms';

/** The permissions a project robot can be given, grouped by resource. */
export const ROBOT_PERMISSIONS: { resource: string; actions: string[] }[] = [
  { resource: 'repository', actions: ['pull', 'push', 'list', 'delete'] },
  { resource: 'artifact', actions: ['read', 'list', 'delete'] },
  { resource: 'tag', actions: ['list', 'create', 'delete'] },
  { resource: 'artifact-label', actions: ['create', 'delete'] },
  { resource: 'scan', actions: ['create', 'read'] },
];

export function expiresIn(r: Robot): string {
  if (r.expires_at === undefined || r.expires_at < 0 || r.duration === -1) return 'Never';
  const days = Math.ceil((r.expires_at * 1000 - Date.now()) / 86_400_000);
  return days <= 0 ? 'Expired' : `${days} day${days === 1 ? '' : 's'}`;
}

interface Shown {
  title: string;
  name: string;
  secret: string;
}

/**
 * Robot accounts of a project, or (without a project) the system-level
 * robots that the administration page lists.
 */
export default function Robots({ project, can }: { project?: Project; can: Can }) {
  const name = project?.name ?? '';
  const pg = usePaging('name');
  const load = useLoad(
    () => api.robots({ page: pg.page, pageSize: pg.pageSize, sort: pg.sort }, project ? `Level=project,ProjectID=${project.project_id}` : 'Level=system'),
    [project?.project_id, pg.page, pg.pageSize, pg.sort],
  );
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<Shown | null>(null);
  const [deleting, setDeleting] = useState<Robot | null>(null);
  const [editing, setEditing] = useState<Robot | null>(null);
  const [pullSecretFor, setPullSecretFor] = useState<Robot | null>(null);
  const act = useAction();
  const toast = useToast();
  const manage = can('robot', 'update');

  const refresh = async (r: Robot) => {
    const res = await act.run(() => api.refreshRobot(r.id!));
    if (res?.secret) setShown({ title: 'Secret refreshed', name: r.name ?? '', secret: res.secret });
  };
  const toggle = async (r: Robot) => {
    const ok = await act.run(async () => {
      await api.updateRobot(r.id!, { ...r, disable: !r.disable });
      return true;
    });
    if (ok) {
      toast.ok(`${r.name} ${r.disable ? 'enabled' : 'disabled'}`);
      load.reload();
    }
  };

  const columns: Column<Robot>[] = [
    {
      header: 'Name',
      sort: 'name',
      render: (r) => (
        <>
          <code>{r.name}</code> {r.disable ? <span className="badge">Disabled</span> : null}
        </>
      ),
    },
    { header: 'Enabled', render: (r) => (r.disable ? 'No' : 'Yes') },
    {
      header: 'Permissions',
      render: (r) => {
        const acc = r.permissions?.flatMap((p) => p.access ?? []) ?? [];
        return <span title={acc.map((a) => `${a.action} ${a.resource}`).join(', ')}>{acc.length} permission{acc.length === 1 ? '' : 's'}</span>;
      },
    },
    ...(project
      ? []
      : [
          {
            header: 'Projects',
            render: (r: Robot) => {
              const ns = (r.permissions ?? []).filter((p) => p.kind === 'project').map((p) => p.namespace ?? '');
              return ns.includes('*') ? 'All projects' : ns.join(', ') || '—';
            },
          },
        ]),
    { header: 'Created', sort: 'creation_time', render: (r) => formatTime(r.creation_time) },
    { header: 'Expires in', render: expiresIn },
    { header: 'Description', render: (r) => r.description },
  ];
  if (manage)
    columns.push({
      header: 'Actions',
      render: (r) => (
        <span className="row-actions">
          <Button className="small" onClick={() => setEditing(r)} aria-label={`Edit ${r.name}`}>
            Edit
          </Button>
          <Button className="small" onClick={() => void refresh(r)} disabled={act.busy} aria-label={`Refresh secret of ${r.name}`}>
            Refresh secret
          </Button>
          <Button className="small" onClick={() => void toggle(r)} disabled={act.busy} aria-label={`${r.disable ? 'Enable' : 'Disable'} ${r.name}`}>
            {r.disable ? 'Enable' : 'Disable'}
          </Button>
          <Button className="small" onClick={() => setPullSecretFor(r)} aria-label={`Kubernetes pull secret for ${r.name}`}>
            Pull secret
          </Button>
          <Button className="small" variant="danger" onClick={() => setDeleting(r)} aria-label={`Delete ${r.name}`}>
            Delete
          </Button>
        </span>
      ),
    });

  return (
    <section aria-label="Robot accounts">
      <div className="toolbar">
        {can('robot', 'create') ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            + New Robot Account
          </Button>
        ) : null}
        <Button onClick={load.reload} aria-label="Refresh robot accounts">
          ↻
        </Button>
      </div>
      <ErrorText error={act.error} />
      <Table label="Robot accounts" columns={columns} rows={load.data?.items} rowKey={(r) => r.id ?? 0} loading={load.loading} error={load.error} sort={pg.sort} onSort={pg.setSort} empty="No robot accounts." />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {creating ? (
        <RobotForm
          project={name}
          onClose={() => setCreating(false)}
          onCreated={(s) => {
            setCreating(false);
            setShown(s);
            load.reload();
          }}
        />
      ) : null}
      {editing ? (
        <RobotForm
          project={name}
          robot={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            toast.ok(`Saved ${editing.name}`);
            setEditing(null);
            load.reload();
          }}
        />
      ) : null}
      {shown ? <SecretDialog shown={shown} onClose={() => setShown(null)} /> : null}
      {pullSecretFor ? <PullSecretDialog robot={pullSecretFor} project={name || 'berth'} onClose={() => setPullSecretFor(null)} /> : null}
      {deleting ? (
        <ConfirmAction
          title="Delete robot account"
          message="Clients using this robot's secret will no longer be able to sign in."
          items={[deleting.name ?? '']}
          perform={() => api.deleteRobot(deleting.id!)}
          done={`Deleted ${deleting.name}`}
          onClose={() => setDeleting(null)}
          onDone={load.reload}
        />
      ) : null}
    </section>
  );
}

/** The secret, shown once: copy it or save it to a file. */
export function SecretDialog({ shown, onClose }: { shown: Shown; onClose: () => void }) {
  return (
    <Modal title={shown.title} onClose={onClose} footer={<Button onClick={onClose}>Close</Button>}>
      <p>
        Copy the secret of <code>{shown.name}</code> now: berth keeps only a hash of it and cannot show it again.
      </p>
      <Field label="Name">
        <span className="inline">
          <input readOnly value={shown.name} aria-label="Robot name" />
          <CopyButton text={shown.name} label="Copy name" wide />
        </span>
      </Field>
      <Field label="Secret">
        <span className="inline">
          <input readOnly value={shown.secret} aria-label="Robot secret" className="mono" />
          <CopyButton text={shown.secret} label="Copy secret" wide />
        </span>
      </Field>
      <Button onClick={() => download(`${shown.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`, JSON.stringify({ name: shown.name, secret: shown.secret }, null, 2))}>Export to file</Button>
    </Modal>
  );
}

/** System permissions a system robot can be given (a subset of berth's). */
export const SYSTEM_PERMISSIONS: { resource: string; actions: string[] }[] = [
  { resource: 'project', actions: ['list', 'create'] },
  { resource: 'catalog', actions: ['read'] },
  { resource: 'audit-log', actions: ['list'] },
  { resource: 'garbage-collection', actions: ['read', 'list', 'create'] },
  { resource: 'quota', actions: ['read', 'list', 'update'] },
  { resource: 'user', actions: ['read', 'list'] },
];

function PermMatrix({ groups, perms, toggle, prefix }: { groups: { resource: string; actions: string[] }[]; perms: Set<string>; toggle: (k: string) => void; prefix: string }) {
  return (
    <table className="perm-matrix">
      <tbody>
        {groups.map((g) => (
          <tr key={g.resource}>
            <th scope="row">{g.resource}</th>
            <td>
              {g.actions.map((a) => (
                <label key={a} className="check">
                  <input type="checkbox" checked={perms.has(`${g.resource}:${a}`)} onChange={() => toggle(`${g.resource}:${a}`)} aria-label={`${prefix}${a} ${g.resource}`} /> {a}
                </label>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function useToggleSet(initial: string[]): [Set<string>, (k: string) => void] {
  const [set, setSet] = useState<Set<string>>(new Set(initial));
  const toggle = (k: string) =>
    setSet((s) => {
      const n = new Set(s);
      if (n.has(k)) n.delete(k);
      else n.add(k);
      return n;
    });
  return [set, toggle];
}

const toAccess = (perms: Set<string>) =>
  [...perms].map((k) => {
    const [resource, action] = k.split(':');
    return { resource, action };
  });

/** The project permissions and namespaces of an existing robot, for editing. */
function splitPermissions(r: Robot | undefined, project: string) {
  const sys: string[] = [];
  const proj = new Set<string>();
  const namespaces: string[] = [];
  for (const p of r?.permissions ?? []) {
    const keys = (p.access ?? []).map((a) => `${a.resource}:${a.action}`);
    if (p.kind === 'system') sys.push(...keys);
    else {
      keys.forEach((k) => proj.add(k));
      if (p.namespace) namespaces.push(p.namespace);
    }
  }
  return { sys, proj: r ? [...proj] : ['repository:pull'], all: !r || project !== '' || namespaces.length === 0 || namespaces.includes('*'), namespaces: namespaces.filter((n) => n !== '*').join(', ') };
}

/** Creates a robot, or (given robot) edits its description, expiry and permissions (PUT /robots/{id}). */
function RobotForm({ project, robot, onClose, onCreated, onSaved }: { project: string; robot?: Robot; onClose: () => void; onCreated?: (s: Shown) => void; onSaved?: () => void }) {
  const system = project === '';
  const init = splitPermissions(robot, project);
  const [name, setName] = useState('');
  const [description, setDescription] = useState(robot?.description ?? '');
  const [never, setNever] = useState(robot ? robot.duration === -1 : false);
  const [days, setDays] = useState(robot && robot.duration && robot.duration > 0 ? String(robot.duration) : '30');
  const [perms, toggle] = useToggleSet(init.proj);
  const [sysPerms, toggleSys] = useToggleSet(init.sys);
  const [allProjects, setAllProjects] = useState(init.all);
  const [projects, setProjects] = useState(init.namespaces);
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const res = await act.run(async () => {
      const d = never ? -1 : Number(days);
      if (!never && (!Number.isInteger(d) || d <= 0)) throw new Error('The expiry must be a whole number of days, or Never');
      const permissions: RobotPermission[] = [];
      if (system) {
        if (sysPerms.size > 0) permissions.push({ kind: 'system', namespace: '/', access: toAccess(sysPerms) });
        const names = allProjects ? ['*'] : projects.split(/[\s,]+/).filter(Boolean);
        if (perms.size > 0) for (const ns of names) permissions.push({ kind: 'project', namespace: ns, access: toAccess(perms) });
      } else if (perms.size > 0) {
        permissions.push({ kind: 'project', namespace: project, access: toAccess(perms) });
      }
      if (permissions.length === 0) throw new Error('Choose at least one permission');
      if (robot) {
        await api.updateRobot(robot.id!, { ...robot, description, duration: d, permissions });
        return { saved: true } as const;
      }
      return api.createRobot({ name: name.trim(), description, level: system ? 'system' : 'project', duration: d, permissions });
    });
    if (res && 'saved' in res) onSaved?.();
    else if (res?.secret) onCreated?.({ title: 'Robot account created', name: res.name ?? name, secret: res.secret });
  };
  const title = robot ? `Edit ${robot.name}` : 'New robot account';
  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label={robot ? 'Edit robot account' : 'New robot account'}>
        {robot ? (
          <p>
            <code>{robot.name}</code> {robot.disable ? <span className="badge">Disabled</span> : null}
            <br />
            The name cannot change; a new expiry counts from the robot's creation.
          </p>
        ) : (
          <Field label="Name" hint={system ? 'berth prefixes it with the robot prefix' : 'berth prefixes it with the robot prefix and the project'}>
            <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[a-z0-9]+(?:[._\-][a-z0-9]+)*" />
          </Field>
        )}
        <Field label="Description">
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <Field label="Expires after (days)">
          <span className="inline">
            <input type="number" min={1} value={days} disabled={never} onChange={(e) => setDays(e.target.value)} aria-label="Days" />
            <label className="check">
              <input type="checkbox" checked={never} onChange={(e) => setNever(e.target.checked)} /> Never expires
            </label>
          </span>
        </Field>
        {system ? (
          <fieldset>
            <legend>System permissions</legend>
            <PermMatrix groups={SYSTEM_PERMISSIONS} perms={sysPerms} toggle={toggleSys} prefix="system " />
          </fieldset>
        ) : null}
        <fieldset>
          <legend>{system ? 'Project permissions' : 'Permissions'}</legend>
          {system ? (
            <>
              <label className="check">
                <input type="checkbox" checked={allProjects} onChange={(e) => setAllProjects(e.target.checked)} /> Cover all projects
              </label>
              {!allProjects ? (
                <Field label="Projects" hint="names separated by commas or spaces">
                  <input value={projects} onChange={(e) => setProjects(e.target.value)} />
                </Field>
              ) : null}
            </>
          ) : null}
          <PermMatrix groups={ROBOT_PERMISSIONS} perms={perms} toggle={toggle} prefix="" />
        </fieldset>
        <ErrorText error={act.error} />
        <div className="modal-foot">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={act.busy}>
            {robot ? 'Save' : 'Create'}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

/** A Kubernetes image-pull Secret for the robot (this refreshes its secret). */
function PullSecretDialog({ robot, project, onClose }: { robot: Robot; project: string; onClose: () => void }) {
  const [namespace, setNamespace] = useState('default');
  const [secretName, setSecretName] = useState(`${project}-pull`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-'));
  const [result, setResult] = useState('');
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const res = await act.run(() => api.robotPullSecret(robot.id!, { namespace, name: secretName, registry: registryHost() }));
    if (res !== undefined) setResult(JSON.stringify(res, null, 2));
  };
  return (
    <Modal title={`Kubernetes pull secret for ${robot.name}`} onClose={onClose}>
      {result ? (
        <>
          <p>
            Apply it with <code>kubectl apply -f {secretName}.json</code>. The robot's secret was refreshed: clients using the old one must update.
          </p>
          <pre className="code-block" aria-label="Pull secret manifest">
            {result}
          </pre>
          <div className="modal-foot">
            <CopyButton text={result} label="Copy secret manifest" wide />
            <Button onClick={() => download(`${secretName}.json`, result)}>Download</Button>
            <Button onClick={onClose}>Close</Button>
          </div>
        </>
      ) : (
        <form onSubmit={(e) => void submit(e)} aria-label="Pull secret options">
          <p>This makes a new secret for the robot (the old one stops working) and wraps it in a Secret of type kubernetes.io/dockerconfigjson.</p>
          <Field label="Namespace">
            <input value={namespace} onChange={(e) => setNamespace(e.target.value)} required />
          </Field>
          <Field label="Secret name">
            <input value={secretName} onChange={(e) => setSecretName(e.target.value)} required />
          </Field>
          <ErrorText error={act.error} />
          <div className="modal-foot">
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" variant="primary" busy={act.busy}>
              Create pull secret
            </Button>
          </div>
        </form>
      )}
    </Modal>
  );
}
