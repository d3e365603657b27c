// Administration → Labels: the global labels (scope g) that any
// project's artifacts can carry.
import { useState, type FormEvent } from 'react';
import { api, type S } from '../../api';
import { useAction, useLoad } from '../../components/hooks';
import { Pager, Table, type Column } from '../../components/Table';
import { usePaging } from '../../components/paging';
import { ConfirmAction, Modal } from '../../components/Modal';
import { Button, ErrorText, Field, formatTime } from '../../components/ui';
import { useToast } from '../../components/Toasts';

type Label = S['Label'];

/** A label's name on its colour, readable in light and dark themes. */
export function LabelChip({ label }: { label: Label }) {
  return (
    <span className="label-chip" style={label.color ? { borderColor: label.color } : undefined}>
      <span className="label-dot" style={label.color ? { background: label.color } : undefined} aria-hidden="true" />
      {label.name}
    </span>
  );
}

export default function Labels() {
  const pg = usePaging('name');
  const load = useLoad(() => api.labelPage({ page: pg.page, pageSize: pg.pageSize, sort: pg.sort }, 'g'), [pg.page, pg.pageSize, pg.sort]);
  const [editing, setEditing] = useState<Label | null>(null);
  const [deleting, setDeleting] = useState<Label | null>(null);
  const toast = useToast();
  const columns: Column<Label>[] = [
    { header: 'Label', sort: 'name', render: (l) => <LabelChip label={l} /> },
    { header: 'Description', render: (l) => l.description || '—' },
    { header: 'Created', sort: 'creation_time', render: (l) => formatTime(l.creation_time) },
    {
      header: 'Actions',
      render: (l) => (
        <span className="row-actions">
          <Button className="small" onClick={() => setEditing(l)} aria-label={`Edit label ${l.name}`}>
            Edit
          </Button>
          <Button className="small" variant="danger" onClick={() => setDeleting(l)} aria-label={`Delete label ${l.name}`}>
            Delete
          </Button>
        </span>
      ),
    },
  ];
  return (
    <div className="page">
      <div className="page-head">
        <h1>Labels</h1>
        <Button variant="primary" onClick={() => setEditing({ scope: 'g', color: '#0072c6' })}>
          + New Label
        </Button>
        <Button onClick={load.reload} aria-label="Refresh labels">
          ↻
        </Button>
      </div>
      <p className="hint">Global labels can be added to artifacts in every project; projects can also have their own.</p>
      <Table label="Labels" columns={columns} rows={load.data?.items} rowKey={(l) => l.id ?? 0} loading={load.loading} error={load.error} sort={pg.sort} onSort={pg.setSort} empty="No global labels." />
      <Pager page={pg.page} pageSize={pg.pageSize} total={load.data?.total ?? 0} onPage={pg.setPage} onPageSize={pg.setPageSize} />
      {editing ? (
        <LabelForm
          label={editing}
          onClose={() => setEditing(null)}
          onSaved={(name) => {
            toast.ok(`Saved label ${name}`);
            setEditing(null);
            load.reload();
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmAction
          title="Delete label"
          message="The label is removed from every artifact that carries it."
          items={[deleting.name ?? '']}
          perform={() => api.deleteLabel(deleting.id!)}
          done={`Deleted label ${deleting.name}`}
          onClose={() => setDeleting(null)}
          onDone={load.reload}
        />
      ) : null}
    </div>
  );
}

function LabelForm({ label, onClose, onSaved }: { label: Label; onClose: () => void; onSaved: (name: string) => void }) {
  const [name, setName] = useState(label.name ?? '');
  const [description, setDescription] = useState(label.description ?? '');
  const [color, setColor] = useState(label.color || '#0072c6');
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body: Label = { name: name.trim(), description, color, scope: 'g' };
    const ok = await act.run(async () => {
      if (label.id) await api.updateLabel(label.id, { ...label, ...body });
      else await api.createLabel(body);
      return true;
    });
    if (ok) onSaved(body.name ?? '');
  };
  return (
    <Modal title={label.id ? `Edit label ${label.name}` : 'New label'} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} aria-label={label.id ? 'Edit label' : 'New label'}>
        <Field label="Label name">
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={128} />
        </Field>
        <Field label="Colour">
          <input type="color" value={color} onChange={(e) => setColor(e.target.value)} />
        </Field>
        <Field label="Description">
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <p>
          Preview: <LabelChip label={{ name: name || 'label', color }} />
        </p>
        <ErrorText error={act.error} />
        <div className="modal-foot">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={act.busy}>
            Save
          </Button>
        </div>
      </form>
    </Modal>
  );
}
