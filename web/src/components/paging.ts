// Paging, sorting and filtering kept in the URL, so that reload, back and
// a shared link show the same page.
import { setQuery, useLocation } from '../router';
import { savedPageSize, savePageSize } from './hooks';

export interface PagingState {
  page: number;
  pageSize: number;
  sort: string;
  filter: string;
  setPage: (p: number) => void;
  setPageSize: (n: number) => void;
  setSort: (s: string) => void;
  setFilter: (f: string) => void;
}

export function usePaging(defaultSort = ''): PagingState {
  const loc = useLocation();
  const page = Math.max(1, Number(loc.search.get('page')) || 1);
  const pageSize = Number(loc.search.get('size')) || savedPageSize();
  const sort = loc.search.get('sort') ?? defaultSort;
  const filter = loc.search.get('filter') ?? '';
  return {
    page,
    pageSize,
    sort,
    filter,
    setPage: (p) => setQuery(loc, { page: p }),
    setPageSize: (n) => {
      savePageSize(n);
      setQuery(loc, { size: n, page: 1 });
    },
    setSort: (s) => setQuery(loc, { sort: s, page: 1 }),
    setFilter: (f) => setQuery(loc, { filter: f, page: 1 }),
  };
}
