// A stand-in for the network in component tests: answers by method and
// path, and records every request the client sent.
import { transport } from '../api/client';

export interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

type Answer = { status?: number; body?: unknown; headers?: Record<string, string> };

export function stubAPI(routes: Record<string, Answer | ((s: Sent) => Answer)>): Sent[] {
  const sent: Sent[] = [];
  transport.fetch = async (url, init) => {
    const s: Sent = {
      method: init.method ?? 'GET',
      url,
      headers: (init.headers ?? {}) as Record<string, string>,
      body: typeof init.body === 'string' ? init.body : init.body ? String(init.body) : undefined,
    };
    sent.push(s);
    const path = url.split('?')[0];
    const r = routes[`${s.method} ${path}`];
    const a = typeof r === 'function' ? r(s) : (r ?? { status: 404, body: { errors: [{ code: 'NOT_FOUND', message: `no stub for ${s.method} ${path}` }] } });
    const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
    return new Response(a.status === 204 ? null : text, {
      status: a.status ?? 200,
      headers: { 'Content-Type': typeof a.body === 'string' ? 'text/plain' : 'application/json', ...(a.headers ?? {}) },
    });
  };
  return sent;
}
