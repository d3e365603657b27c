// The route table: every page is a file under pages/ registered here with
// its path pattern, who may see it, and (optionally) its place in the nav.
// Patterns: ":name" is one segment, "*name" the rest of the path.
import type { ComponentType } from 'react';
import SignIn from './pages/SignIn';
import Projects from './pages/Projects';
import ProjectPage from './pages/Project';
import RepositoryPage from './pages/Repository';
import Profile from './pages/Profile';
import Search from './pages/Search';
import Users from './pages/admin/Users';
import SystemRobots from './pages/admin/Robots';
import AuditLogs from './pages/admin/AuditLogs';
import GarbageCollection from './pages/admin/GarbageCollection';
import SystemConfiguration from './pages/admin/Configuration';
import ArtifactPage from './pages/artifact/Artifact';
import Authentication from './pages/admin/Authentication';
import Groups from './pages/admin/Groups';
import Interrogation from './pages/admin/Interrogation';
import Labels from './pages/admin/Labels';

export interface PageProps {
  params: Record<string, string>;
}

export interface RouteDef {
  path: string;
  page: ComponentType<PageProps>;
  title: string;
  /** public: anyone (no shell); user: signed in; admin: system admins. */
  access: 'public' | 'user' | 'admin';
  nav?: { label: string; section: 'main' | 'admin' };
}

export const routes: RouteDef[] = [
  { path: '/account/sign-in', page: SignIn, title: 'Sign in', access: 'public' },
  { path: '/projects', page: Projects, title: 'Projects', access: 'user', nav: { label: 'Projects', section: 'main' } },
  { path: '/projects/:project', page: ProjectPage, title: 'Project', access: 'user' },
  { path: '/projects/:project/repositories/*repo', page: RepositoryPage, title: 'Repository', access: 'user' },
  { path: '/projects/:project/artifact/:reference/*repo', page: ArtifactPage, title: 'Artifact', access: 'user' },
  { path: '/search', page: Search, title: 'Search', access: 'user' },
  { path: '/account/profile', page: Profile, title: 'User profile', access: 'user' },
  { path: '/admin/users', page: Users, title: 'Users', access: 'admin', nav: { label: 'Users', section: 'admin' } },
  { path: '/admin/robots', page: SystemRobots, title: 'Robot Accounts', access: 'admin', nav: { label: 'Robot Accounts', section: 'admin' } },
  { path: '/admin/gc', page: GarbageCollection, title: 'Garbage Collection', access: 'admin', nav: { label: 'Clean Up', section: 'admin' } },
  { path: '/admin/audit-logs', page: AuditLogs, title: 'Audit Logs', access: 'admin', nav: { label: 'Audit Logs', section: 'admin' } },
  { path: '/admin/configuration', page: SystemConfiguration, title: 'Configuration', access: 'admin', nav: { label: 'Configuration', section: 'admin' } },
  { path: '/admin/authentication', page: Authentication, title: 'Authentication', access: 'admin', nav: { label: 'Authentication', section: 'admin' } },
  { path: '/admin/labels', page: Labels, title: 'Labels', access: 'admin', nav: { label: 'Labels', section: 'admin' } },
  { path: '/admin/groups', page: Groups, title: 'Groups', access: 'admin', nav: { label: 'Groups', section: 'admin' } },
  { path: '/admin/interrogation-services', page: Interrogation, title: 'Interrogation Services', access: 'admin', nav: { label: 'Interrogation Services', section: 'admin' } },
];
