// The one way the UI talks to berth: fetch against /api/v2.0 (and the
// session endpoints under /c), with the CSRF header on unsafe requests,
// Harbor error bodies turned into readable messages, and paging read from
// X-Total-Count. Paths are checked at compile time against the OpenAPI
// document (schema.d.ts is generated from it; see web/README.md).
import type { paths } from './schema';

export const API_PREFIX = '/api/v2.0';
export const CSRF_COOKIE = 'berth_csrf';
export const CSRF_HEADER = 'X-Harbor-CSRF-Token';

/** A path template of the API document, e.g. "/projects/{project_name_or_id}". */
export type ApiPath = keyof paths;

/** An error from the API, with the HTTP status and Harbor's codes. */
export class ApiError extends Error {
  readonly status: number;
  readonly codes: string[];
  constructor(status: number, message: string, codes: string[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.codes = codes;
  }
}

const statusText: Record<number, string> = {
  400: 'The request was not valid',
  401: 'You need to sign in',
  403: 'You are not allowed to do this',
  404: 'Not found',
  409: 'It already exists or is in use',
  412: 'A policy refused it',
  413: 'The request is too large',
  429: 'Too many requests; try again shortly',
  500: 'berth had an internal error',
  502: 'berth is not reachable',
  503: 'berth is unavailable',
};

/** errorMessage turns a Harbor error body into one readable sentence. */
export function errorMessage(status: number, body: unknown): { message: string; codes: string[] } {
  const errors = (body as { errors?: { code?: string; message?: string }[] } | null)?.errors;
  if (Array.isArray(errors) && errors.length > 0) {
    const msgs = errors.map((e) => (e.message ?? '').trim()).filter((m) => m !== '');
    const codes = errors.map((e) => e.code ?? '').filter((c) => c !== '');
    if (msgs.length > 0) {
      const text = msgs.map((m) => m.charAt(0).toUpperCase() + m.slice(1)).join('; ');
      return { message: text, codes };
    }
    return { message: statusText[status] ?? `Request failed (${status})`, codes };
  }
  return { message: statusText[status] ?? `Request failed (HTTP ${status})`, codes: [] };
}

/** Reads the CSRF token that /c/login set in a script-readable cookie. */
export function csrfToken(cookie: string = typeof document === 'undefined' ? '' : document.cookie): string {
  for (const part of cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === CSRF_COOKIE) return decodeURIComponent(v.join('='));
  }
  return '';
}

type PathParams = Record<string, string | number>;

/**
 * fillPath substitutes {params} into an API path. Repository names are
 * project-relative and keep their '/' double-encoded, as Harbor's paths
 * require ("a/b" becomes "a%252Fb").
 */
export function fillPath(path: string, params: PathParams = {}): string {
  return path.replace(/\{([a-z_]+)\}/g, (_, key: string) => {
    const v = params[key];
    if (v === undefined) throw new Error(`missing path parameter ${key} for ${path}`);
    const s = String(v);
    if (key === 'repository_name') return encodeURIComponent(encodeURIComponent(s));
    return encodeURIComponent(s);
  });
}

export type Query = Record<string, string | number | boolean | undefined | null>;

function queryString(q: Query | undefined): string {
  if (!q) return '';
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    sp.set(k, String(v));
  }
  const s = sp.toString();
  return s ? `?${s}` : '';
}

export interface RequestOptions {
  params?: PathParams;
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

export interface Page<T> {
  items: T[];
  total: number;
  next: boolean;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

/** Where the client sends requests; tests point it at a stub fetch. */
export const transport = {
  fetch: (input: string, init: RequestInit): Promise<Response> => fetch(input, init),
};

/** raw sends one request and returns the response, throwing ApiError on failure. */
export async function raw(method: Method, url: string, opts: RequestOptions & { form?: URLSearchParams } = {}): Promise<Response> {
  // X-Requested-With keeps berth from answering 401 with a Basic
  // challenge, which would make the browser show its own password prompt.
  const headers: Record<string, string> = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
  let body: BodyInit | undefined;
  if (opts.form) {
    body = opts.form;
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrfToken();
    if (t) headers[CSRF_HEADER] = t;
  }
  let res: Response;
  try {
    res = await transport.fetch(url, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'berth is not reachable: check the network and try again');
  }
  if (!res.ok) {
    let parsed: unknown = null;
    const text = await res.text().catch(() => '');
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const { message, codes } = errorMessage(res.status, parsed);
    throw new ApiError(res.status, message, codes);
  }
  return res;
}

async function decodeBody<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  const ct = res.headers.get('Content-Type') ?? '';
  if (ct.includes('json')) return JSON.parse(text) as T;
  return text as T;
}

/** request calls an API path (a key of the OpenAPI document). */
export async function request<T>(method: Method, path: ApiPath, opts: RequestOptions = {}): Promise<T> {
  const res = await raw(method, API_PREFIX + fillPath(path, opts.params) + queryString(opts.query), opts);
  return decodeBody<T>(res);
}

/** total reads X-Total-Count, falling back to what the Link header implies. */
export function pageInfo(res: Response, itemsOnPage: number): { total: number; next: boolean } {
  const link = res.headers.get('Link') ?? '';
  const next = /rel="?next"?/.test(link);
  const h = res.headers.get('X-Total-Count');
  const n = h === null ? NaN : Number(h);
  return { total: Number.isFinite(n) && n >= 0 ? n : itemsOnPage + (next ? 1 : 0), next };
}

/** list fetches one page of a listing endpoint. */
export async function list<T>(path: ApiPath, opts: RequestOptions = {}): Promise<Page<T>> {
  const res = await raw('GET', API_PREFIX + fillPath(path, opts.params) + queryString(opts.query), opts);
  const items = ((await decodeBody<T[]>(res)) ?? []) as T[];
  return { items, ...pageInfo(res, items.length) };
}

export const get = <T>(path: ApiPath, opts?: RequestOptions) => request<T>('GET', path, opts);
export const post = <T = void>(path: ApiPath, opts?: RequestOptions) => request<T>('POST', path, opts);
export const put = <T = void>(path: ApiPath, opts?: RequestOptions) => request<T>('PUT', path, opts);
export const patch = <T = void>(path: ApiPath, opts?: RequestOptions) => request<T>('PATCH', path, opts);
export const del = <T = void>(path: ApiPath, opts?: RequestOptions) => request<T>('DELETE', path, opts);
