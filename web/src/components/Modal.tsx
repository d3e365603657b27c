// An accessible modal dialog: labelled, focus moves in, Escape closes.
import { useEffect, useId, useRef, type ReactNode } from 'react';
import { Button, ErrorText } from './ui';
import { useAction } from './hooks';
import { useToast } from './Toasts';

export function Modal({ title, onClose, children, footer }: { title: string; onClose: () => void; children: ReactNode; footer?: ReactNode }) {
  const id = useId();
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>('input, select, textarea, button:not(.modal-close)');
    (first ?? ref.current)?.focus();
    return () => prev?.focus?.();
  }, []);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-labelledby={id}
        ref={ref}
        tabIndex={-1}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.stopPropagation();
            onClose();
          }
        }}
      >
        <header className="modal-head">
          <h2 id={id}>{title}</h2>
          <button type="button" className="btn plain modal-close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <div className="modal-body">{children}</div>
        {footer ? <footer className="modal-foot">{footer}</footer> : null}
      </div>
    </div>
  );
}

/** ConfirmDialog asks before a destructive action and lists what it touches. */
export function ConfirmDialog({
  title,
  message,
  items,
  confirmLabel = 'Delete',
  busy,
  error,
  onConfirm,
  onCancel,
}: {
  title: string;
  message: ReactNode;
  items?: string[];
  confirmLabel?: string;
  busy?: boolean;
  error?: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Modal
      title={title}
      onClose={onCancel}
      footer={
        <>
          <Button onClick={onCancel}>Cancel</Button>
          <Button variant="danger" busy={busy} onClick={onConfirm}>
            {confirmLabel}
          </Button>
        </>
      }
    >
      <div>{message}</div>
      {items && items.length > 0 ? (
        <ul className="confirm-items" aria-label="Affected">
          {items.map((i) => (
            <li key={i}>
              <code>{i}</code>
            </li>
          ))}
        </ul>
      ) : null}
      <ErrorText error={error ?? ''} />
    </Modal>
  );
}

/**
 * ConfirmAction is a ConfirmDialog that carries out what it asks about:
 * Confirm runs perform, busy meanwhile; on success it toasts done, closes
 * and calls onDone (a list reloads); a failure stays in the dialog.
 */
export function ConfirmAction({
  title,
  message,
  items,
  confirmLabel,
  perform,
  done,
  onClose,
  onDone,
}: {
  title: string;
  message: ReactNode;
  items?: string[];
  confirmLabel?: string;
  perform: () => Promise<unknown>;
  done: string;
  onClose: () => void;
  onDone?: () => void;
}) {
  const act = useAction();
  const toast = useToast();
  return (
    <ConfirmDialog
      title={title}
      message={message}
      items={items}
      confirmLabel={confirmLabel}
      busy={act.busy}
      error={act.error}
      onCancel={onClose}
      onConfirm={async () => {
        if (await act.run(async () => (await perform(), true))) {
          toast.ok(done);
          onClose();
          onDone?.();
        }
      }}
    />
  );
}
