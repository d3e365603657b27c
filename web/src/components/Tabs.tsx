// Tabs with the ARIA tab pattern: arrow keys move between tabs.
import { useId, useRef, type ReactNode } from 'react';

export interface TabDef {
  id: string;
  label: string;
}

export function Tabs({ tabs, active, onChange, children, label }: { tabs: TabDef[]; active: string; onChange: (id: string) => void; children: ReactNode; label: string }) {
  const base = useId();
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const idx = Math.max(0, tabs.findIndex((t) => t.id === active));
  const move = (to: number) => {
    const n = (to + tabs.length) % tabs.length;
    onChange(tabs[n]!.id);
    refs.current[n]?.focus();
  };
  return (
    <div className="tabs">
      <div role="tablist" aria-label={label} className="tablist">
        {tabs.map((t, i) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`${base}-${t.id}`}
            aria-selected={i === idx}
            aria-controls={`${base}-panel`}
            tabIndex={i === idx ? 0 : -1}
            ref={(el) => {
              refs.current[i] = el;
            }}
            onClick={() => onChange(t.id)}
            onKeyDown={(e) => {
              if (e.key === 'ArrowRight') move(i + 1);
              else if (e.key === 'ArrowLeft') move(i - 1);
              else if (e.key === 'Home') move(0);
              else if (e.key === 'End') move(tabs.length - 1);
            }}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${base}-panel`} aria-labelledby={`${base}-${tabs[idx]?.id ?? ''}`} className="tabpanel">
        {children}
      </div>
    </div>
  );
}
