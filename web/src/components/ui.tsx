// Small shared pieces: errors, spinners, buttons, copy, markdown, time and size.
import { cloneElement, isValidElement, useId, useState, type ButtonHTMLAttributes, type ReactElement } from 'react';
import { marked } from 'marked';
import DOMPurify from 'dompurify';

export function ErrorText({ error }: { error: string }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return (
    <span className="spinner" role="status" aria-live="polite">
      <span className="spinner-dot" aria-hidden="true" />
      {label}…
    </span>
  );
}

export function Button({ busy, children, variant, ...rest }: { busy?: boolean; variant?: 'primary' | 'danger' | 'plain' } & ButtonHTMLAttributes<HTMLButtonElement>) {
  return (
    <button type="button" {...rest} className={`btn ${variant ?? ''} ${rest.className ?? ''}`} disabled={rest.disabled || busy} aria-busy={busy || undefined}>
      {busy ? <span className="spinner-dot" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

/**
 * CopyButton copies text and says whether it worked; on failure the text is
 * shown to copy by hand. Its accessible name is label; it shows an icon
 * unless wide is set.
 */
export function CopyButton({ text, label = 'Copy', wide }: { text: string; label?: string; wide?: boolean }) {
  const [state, setState] = useState<'idle' | 'ok' | 'fail'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('ok');
    } catch {
      setState('fail');
    }
  };
  const face = state === 'ok' ? (wide ? 'Copied' : '✓') : wide ? label : <CopyIcon />;
  return (
    <span className="copy">
      <button type="button" className={`btn small copy-${state}`} onClick={() => void copy()} aria-label={label} title={text}>
        {face}
      </button>
      {state === 'fail' ? (
        <span role="alert" className="error">
          Copy failed; select it: <code>{text}</code>
        </span>
      ) : null}
    </span>
  );
}

function CopyIcon() {
  return (
    <svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path fill="currentColor" d="M4 4V1.5A1.5 1.5 0 0 1 5.5 0h8A1.5 1.5 0 0 1 15 1.5v8a1.5 1.5 0 0 1-1.5 1.5H11v2.5A1.5 1.5 0 0 1 9.5 15h-8A1.5 1.5 0 0 1 0 13.5v-8A1.5 1.5 0 0 1 1.5 4zm1.5 0h4A1.5 1.5 0 0 1 11 5.5v4h2.5v-8h-8zm-4 1.5v8h8v-8z" />
    </svg>
  );
}

/** Markdown renders a description with raw HTML sanitized away. */
export function Markdown({ source }: { source: string }) {
  const html = DOMPurify.sanitize(marked.parse(source, { async: false, gfm: true, breaks: false }), {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'iframe'],
    FORBID_ATTR: ['style'],
  });
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}

export function formatTime(t: string | undefined | null): string {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() <= 1) return '—';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function formatSize(n: number | undefined): string {
  if (n === undefined || n < 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function shortDigest(d: string | undefined): string {
  if (!d) return '';
  const [alg, hex] = d.split(':');
  return hex ? `${alg}:${hex.slice(0, 12)}` : d;
}

/**
 * Field labels one input (its only child) and describes it with the hint,
 * so that the input's accessible name is exactly the label.
 */
export function Field({ label, children, hint }: { label: string; children: ReactElement<{ id?: string; 'aria-describedby'?: string }>; hint?: string }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const control = isValidElement(children) && typeof children.type === 'string' && ['input', 'select', 'textarea'].includes(children.type);
  const target = control ? (children.props.id ?? id) : undefined;
  const child = control ? cloneElement(children, { id: target, 'aria-describedby': hint ? hintId : undefined }) : children;
  return (
    <div className="field">
      {target ? (
        <label className="field-label" htmlFor={target}>
          {label}
        </label>
      ) : (
        <span className="field-label">{label}</span>
      )}
      {child}
      {hint ? (
        <span className="hint" id={hintId}>
          {hint}
        </span>
      ) : null}
    </div>
  );
}

export function download(filename: string, content: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
