// The shell: top bar (search, theme, user menu), left nav, and the page
// that the route table picks. Pages that need a user get the sign-in page
// (with a redirect back) when there is none.
import { useEffect, useRef, useState } from 'react';
import { Link, matchPath, navigate, RouterProvider, useLocation } from './router';
import { routes, type RouteDef } from './routes';
import { SessionProvider, useSession } from './session';
import { ToastProvider, useToast } from './components/Toasts';
import { ErrorText, Spinner } from './components/ui';
import NotFound from './pages/NotFound';
import { safeRedirect } from './pages/SignIn';
import { messageOf } from './components/hooks';

export function resolve(path: string): { route: RouteDef; params: Record<string, string> } | null {
  // More specific patterns first: the longest pattern that matches wins.
  const sorted = [...routes].sort((a, b) => b.path.length - a.path.length);
  for (const route of sorted) {
    const params = matchPath(route.path, path);
    if (params) return { route, params };
  }
  return null;
}

type Theme = 'light' | 'dark';

function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(() => {
    const saved = localStorage.getItem('berth.theme');
    if (saved === 'light' || saved === 'dark') return saved;
    return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  });
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  return [
    theme,
    () => {
      const t = theme === 'dark' ? 'light' : 'dark';
      localStorage.setItem('berth.theme', t);
      setTheme(t);
    },
  ];
}

function Shell() {
  const loc = useLocation();
  const session = useSession();
  const [theme, toggleTheme] = useTheme();
  const toast = useToast();
  const [q, setQ] = useState(loc.path === '/search' ? (loc.search.get('q') ?? '') : '');
  const [menu, setMenu] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);
  const hit = loc.path === '/' ? null : resolve(loc.path);

  // Redirects happen after render: home goes to projects, a signed-in user
  // leaves the sign-in page, and a signed-out one is sent to it.
  let redirect = '';
  if (loc.path === '/') redirect = '/projects';
  else if (!session.loading && hit?.route.access === 'public' && session.user && hit.route.path === '/account/sign-in')
    redirect = safeRedirect(loc.search.get('redirect'));
  else if (!session.loading && hit?.route.access !== 'public' && !session.user) {
    const target = loc.path + (loc.search.toString() ? `?${loc.search}` : '');
    redirect = `/account/sign-in?redirect=${encodeURIComponent(target)}`;
  }
  useEffect(() => {
    if (redirect) navigate(redirect, { replace: true });
  }, [redirect]);
  useEffect(() => {
    document.title = hit ? `${hit.route.title} · berth` : 'berth';
  }, [hit]);
  useEffect(() => {
    // "/" jumps to the global search, as on most registries' portals.
    const on = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) {
        e.preventDefault();
        searchRef.current?.focus();
      }
    };
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
  }, []);
  useEffect(() => setMenu(false), [loc.path]);
  const menuRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!menu) return;
    // A click outside closes the user menu, as Escape does.
    const on = (e: MouseEvent) => {
      if (!menuRef.current?.contains(e.target as Node)) setMenu(false);
    };
    document.addEventListener('mousedown', on);
    return () => document.removeEventListener('mousedown', on);
  }, [menu]);

  if (session.loading) return <Spinner label="Starting" />;
  if (redirect) return null;
  if (hit?.route.access === 'public') {
    const Page = hit.route.page;
    return <Page params={hit.params} />;
  }
  if (!session.user) return null;
  const admin = !!session.user.sysadmin_flag;
  const Page = hit?.route.page ?? NotFound;
  const allowed = hit?.route.access !== 'admin' || admin;
  const navItems = routes.filter((r) => r.nav && (r.nav.section === 'main' || admin));

  return (
    <div className="shell">
      <a href="#main" className="skip">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/projects" className="brand">
          <span aria-hidden="true">⚓</span> berth
        </Link>
        <form
          role="search"
          className="global-search"
          onSubmit={(e) => {
            e.preventDefault();
            if (q.trim()) navigate(`/search?q=${encodeURIComponent(q.trim())}`);
          }}
        >
          <input ref={searchRef} type="search" aria-label="Search projects and repositories" placeholder="Search berth…  ( / )" value={q} onChange={(e) => setQ(e.target.value)} />
        </form>
        <button type="button" className="btn plain" onClick={toggleTheme} aria-label={theme === 'dark' ? 'Switch to light mode' : 'Switch to dark mode'}>
          {theme === 'dark' ? '☀' : '☾'}
        </button>
        <div className="user-menu" ref={menuRef}>
          <button type="button" className="btn plain" aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
            {session.user.username} ▾
          </button>
          {menu ? (
            <div role="menu" className="menu" onKeyDown={(e) => e.key === 'Escape' && setMenu(false)}>
              <Link role="menuitem" to="/account/profile">
                User Profile
              </Link>
              <a role="menuitem" href="/api/v2.0/docs" target="_blank" rel="noreferrer">
                API docs
              </a>
              <button
                type="button"
                role="menuitem"
                onClick={async () => {
                  try {
                    await session.signOut();
                    navigate('/account/sign-in', { replace: true });
                  } catch (e) {
                    toast.error(`Sign out failed: ${messageOf(e)}`);
                  }
                }}
              >
                Sign out
              </button>
            </div>
          ) : null}
        </div>
      </header>
      <nav className="sidenav" aria-label="Main">
        <ul>
          {navItems
            .filter((r) => r.nav!.section === 'main')
            .map((r) => (
              <li key={r.path}>
                <Link to={r.path} aria-current={loc.path.startsWith(r.path) ? 'page' : undefined}>
                  {r.nav!.label}
                </Link>
              </li>
            ))}
        </ul>
        {admin ? (
          <>
            <h2 className="nav-section">Administration</h2>
            <ul>
              {navItems
                .filter((r) => r.nav!.section === 'admin')
                .map((r) => (
                  <li key={r.path}>
                    <Link to={r.path} aria-current={loc.path.startsWith(r.path) ? 'page' : undefined}>
                      {r.nav!.label}
                    </Link>
                  </li>
                ))}
            </ul>
          </>
        ) : null}
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        {session.info?.banner_message ? <div className="banner">{session.info.banner_message}</div> : null}
        <ErrorText error={session.error} />
        {allowed ? <Page key={hit?.route.path} params={hit?.params ?? {}} /> : <ErrorText error="Only system administrators can see this page." />}
      </main>
    </div>
  );
}

export default function App() {
  return (
    <RouterProvider>
      <SessionProvider>
        <ToastProvider>
          <Shell />
        </ToastProvider>
      </SessionProvider>
    </RouterProvider>
  );
}
