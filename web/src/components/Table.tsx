// A server-paged table: sortable headers that ask the API to sort, a pager
// with a remembered page size, and the loading and error state in place.
import type { ReactNode } from 'react';
import { PAGE_SIZES } from './hooks';
import { ErrorText, Spinner } from './ui';

export interface Column<T> {
  header: string;
  /** The API's sort key; makes the header a sort button. */
  sort?: string;
  render: (row: T) => ReactNode;
  className?: string;
}

export function Table<T>({
  label,
  columns,
  rows,
  rowKey,
  loading,
  error,
  empty = 'Nothing here yet.',
  sort,
  onSort,
  expanded,
}: {
  label: string;
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string | number;
  loading?: boolean;
  error?: string;
  empty?: string;
  sort?: string;
  onSort?: (sort: string) => void;
  expanded?: (row: T) => ReactNode;
}) {
  const desc = sort?.startsWith('-') ?? false;
  const key = sort?.replace(/^-/, '');
  return (
    <div className="table-wrap">
      <ErrorText error={error ?? ''} />
      <table aria-label={label} aria-busy={loading || undefined}>
        <thead>
          <tr>
            {columns.map((c) => {
              const active = c.sort !== undefined && c.sort === key;
              return (
                <th key={c.header} scope="col" className={c.className} aria-sort={active ? (desc ? 'descending' : 'ascending') : undefined}>
                  {c.sort && onSort ? (
                    <button type="button" className="sort" onClick={() => onSort(active && !desc ? `-${c.sort}` : c.sort!)}>
                      {c.header}
                      <span aria-hidden="true">{active ? (desc ? ' ▼' : ' ▲') : ' ↕'}</span>
                    </button>
                  ) : (
                    c.header
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows?.map((r) => {
            const extra = expanded?.(r);
            return [
              <tr key={rowKey(r)}>
                {columns.map((c) => (
                  <td key={c.header} className={c.className}>
                    {c.render(r)}
                  </td>
                ))}
              </tr>,
              extra ? (
                <tr key={`${rowKey(r)}-x`} className="expanded">
                  <td colSpan={columns.length}>{extra}</td>
                </tr>
              ) : null,
            ];
          })}
          {!loading && rows && rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length} className="empty">
                {empty}
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {loading ? <Spinner /> : null}
    </div>
  );
}

export function Pager({ page, pageSize, total, onPage, onPageSize }: { page: number; pageSize: number; total: number; onPage: (p: number) => void; onPageSize: (n: number) => void }) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const to = Math.min(total, page * pageSize);
  return (
    <nav className="pager" aria-label="Pages">
      <span>
        {from} – {to} of {total} items
      </span>
      <label>
        Page size{' '}
        <select value={pageSize} onChange={(e) => onPageSize(Number(e.target.value))}>
          {PAGE_SIZES.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <button type="button" className="btn small" disabled={page <= 1} onClick={() => onPage(page - 1)} aria-label="Previous page">
        ‹
      </button>
      <span>
        Page {page} of {pages}
      </span>
      <button type="button" className="btn small" disabled={page >= pages} onClick={() => onPage(page + 1)} aria-label="Next page">
        ›
      </button>
    </nav>
  );
}
