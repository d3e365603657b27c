// Typed calls for each resource the UI uses. Every path is a key of the
// generated OpenAPI types, and every body and result a schema of it, so a
// change to berth.yaml that breaks the UI fails `npm run typecheck`.
import type { components } from './schema';
import { del, get, list, patch, post, put, raw, type Page, type Query } from './client';

export * from './client';
export type S = components['schemas'];
export type Project = S['Project'];
export type Repository = S['Repository'];
export type Artifact = S['Artifact'];
export type Tag = S['Tag'];
export type Member = S['ProjectMemberEntity'];
export type Robot = S['Robot'];
export type RobotCreated = S['RobotCreated'];
export type RobotPermission = S['RobotPermission'];
export type User = S['UserResp'];
export type AuditLog = S['AuditLog'];
export type GeneralInfo = S['GeneralInfo'];
export type GCHistory = S['GCHistory'];
export type ProjectMetadata = S['ProjectMetadata'];
export type Configurations = S['ConfigurationsResponse'];
export type UserGroup = S['UserGroup'];
export type Scanner = S['ScannerRegistration'];
export type ScanSummary = S['NativeReportSummary'];
export type Signature = S['BerthSignature'];
export type TrustKey = S['BerthTrustKey'];
export type CVEAllowlist = S['CVEAllowlist'];

export interface Paging {
  page: number;
  pageSize: number;
  q?: string;
  sort?: string;
}

const pq = (p: Paging, extra: Query = {}): Query => ({ page: p.page, page_size: p.pageSize, q: p.q, sort: p.sort, ...extra });

/** The project-relative part of a repository name ("lib/app" in project "lib" is "app"). */
export function repoShort(project: string, full: string | undefined): string {
  const n = full ?? '';
  return n.startsWith(project + '/') ? n.slice(project.length + 1) : n;
}

/** One finding of a vulnerability report (Harbor's report format, version 1.1). */
export interface Vulnerability {
  id: string;
  package?: string;
  version?: string;
  fix_version?: string;
  severity?: string;
  description?: string;
  links?: string[];
}
export interface VulnerabilityReport {
  generated_at?: string;
  scanner?: { name?: string; vendor?: string; version?: string };
  severity?: string;
  vulnerabilities?: Vulnerability[] | null;
}
export const VULN_REPORT_MIME = 'application/vnd.security.vulnerability.report; version=1.1';

const art = (project: string, repo: string, reference: string) => ({ project_name: project, repository_name: repo, reference });
const pn = (project: string) => ({ project_name_or_id: project });

// Single sign-on, scanning and content trust (the security features' pages).
const security = {
  oidcInfo: () => get<{ redirect_url?: string; login_url?: string }>('/system/oidc'),
  pingOIDC: (url: string, verifyCert: boolean) => post('/system/oidc/ping', { body: { url, verify_cert: verifyCert } }),
  pingLDAP: (conf: S['LdapConf']) => post<S['LdapPingResult']>('/ldap/ping', { body: conf }),
  searchLDAPGroups: (groupname: string) => get<UserGroup[]>('/ldap/groups/search', { query: { groupname } }),
  setCliSecret: (userId: number, secret = '') => put<S['OIDCCliSecretReq']>('/users/{user_id}/cli_secret', { params: { user_id: userId }, body: { secret } }),

  userGroups: (p: Paging, groupName?: string) => list<UserGroup>('/usergroups', { query: { page: p.page, page_size: p.pageSize, group_name: groupName } }),
  searchUserGroups: (groupname: string) => list<S['UserGroupSearchItem']>('/usergroups/search', { query: { groupname, page_size: 10 } }),
  createUserGroup: (g: UserGroup) => post('/usergroups', { body: g }),
  updateUserGroup: (id: number, g: UserGroup) => put('/usergroups/{group_id}', { params: { group_id: id }, body: g }),
  deleteUserGroup: (id: number) => del('/usergroups/{group_id}', { params: { group_id: id } }),
  addGroupMember: (project: string, group: UserGroup, roleId: number) =>
    post('/projects/{project_name_or_id}/members', { params: pn(project), body: { role_id: roleId, member_group: group } satisfies S['ProjectMember'] }),

  scan: (project: string, repo: string, reference: string, scanType: 'vulnerability' | 'sbom' = 'vulnerability') =>
    post('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan', { params: art(project, repo, reference), body: { scan_type: scanType } }),
  stopScan: (project: string, repo: string, reference: string, scanType: 'vulnerability' | 'sbom' = 'vulnerability') =>
    post('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan/stop', { params: art(project, repo, reference), body: { scan_type: scanType } }),
  vulnerabilities: (project: string, repo: string, reference: string) =>
    get<Record<string, VulnerabilityReport>>('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/{addition}', {
      params: { ...art(project, repo, reference), addition: 'vulnerabilities' },
    }),
  signatures: (project: string, repo: string, reference: string) =>
    get<Signature[]>('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/signatures', { params: art(project, repo, reference) }),
  /** An artifact's addition (build_history, values.yaml, readme.md, dependencies): JSON decoded, text as a string. */
  addition: <T,>(project: string, repo: string, reference: string, addition: string) =>
    get<T>('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/{addition}', { params: { ...art(project, repo, reference), addition } }),
  artifactWithSBOM: (project: string, repo: string, reference: string) =>
    get<Artifact>('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}', {
      params: art(project, repo, reference),
      query: { with_tag: true, with_scan_overview: true, with_sbom_overview: true, with_accessory: true },
    }),

  scanners: (p: Paging) => list<Scanner>('/scanners', { query: pq(p) }),
  createScanner: (r: S['ScannerRegistrationReq']) => post('/scanners', { body: r }),
  updateScanner: (id: string, r: S['ScannerRegistrationReq']) => put('/scanners/{registration_id}', { params: { registration_id: id }, body: r }),
  deleteScanner: (id: string) => del('/scanners/{registration_id}', { params: { registration_id: id } }),
  setDefaultScanner: (id: string) => patch('/scanners/{registration_id}', { params: { registration_id: id }, body: { is_default: true } }),
  pingScanner: (r: S['ScannerRegistrationReq']) => post('/scanners/ping', { body: r }),
  scannerMetadata: (id: string) => get<S['ScannerAdapterMetadata']>('/scanners/{registration_id}/metadata', { params: { registration_id: id } }),
  projectScanner: (project: string) => get<Scanner>('/projects/{project_name_or_id}/scanner', { params: pn(project) }),
  projectScannerCandidates: (project: string) => list<Scanner>('/projects/{project_name_or_id}/scanner/candidates', { params: pn(project), query: { page_size: 100 } }),
  setProjectScanner: (project: string, uuid: string) => put('/projects/{project_name_or_id}/scanner', { params: pn(project), body: { uuid } satisfies S['ProjectScanner'] }),
  systemAllowlist: () => get<CVEAllowlist>('/system/CVEAllowlist'),
  setSystemAllowlist: (a: CVEAllowlist) => put('/system/CVEAllowlist', { body: a }),
  scanAllSchedule: () => get<S['Schedule']>('/system/scanAll/schedule'),
  scanAllNow: () => post('/system/scanAll/schedule', { body: { schedule: { type: 'Manual' } } }),
  setScanAllSchedule: (type: 'None' | 'Hourly' | 'Daily' | 'Weekly' | 'Custom', cron: string) => put('/system/scanAll/schedule', { body: { schedule: { type, cron } } }),
  stopScanAll: () => post('/system/scanAll/stop'),
  scanAllMetrics: () => get<S['Stats']>('/scans/all/metrics'),

  trustKeys: (project: string) => get<TrustKey[]>('/projects/{project_name_or_id}/trust-keys', { params: pn(project) }),
  addTrustKey: (project: string, type: 'cosign' | 'notation', name: string, pem: string) =>
    post('/projects/{project_name_or_id}/trust-keys', { params: pn(project), body: { type, name, pem } }),
  deleteTrustKey: (project: string, id: number) => del('/projects/{project_name_or_id}/trust-keys/{key_id}', { params: { ...pn(project), key_id: id } }),
};

export const api = {
  // Sessions (outside /api/v2.0, as Harbor's portal uses them).
  async signIn(username: string, password: string): Promise<void> {
    await raw('POST', '/c/login', { form: new URLSearchParams({ principal: username, password }) });
  },
  async signOut(): Promise<void> {
    await raw('POST', '/c/log_out');
  },

  systemInfo: () => get<GeneralInfo>('/systeminfo'),
  currentUser: () => get<User>('/users/current'),
  changePassword: (userId: number, oldPassword: string, newPassword: string) =>
    put('/users/{user_id}/password', { params: { user_id: userId }, body: { old_password: oldPassword, new_password: newPassword } satisfies S['PasswordReq'] }),
  updateProfile: (userId: number, profile: S['UserProfile']) => put('/users/{user_id}', { params: { user_id: userId }, body: profile }),
  permissions: (scope: string) => get<S['Permission'][]>('/users/current/permissions', { query: { scope, relative: true } }),
  searchUsers: (username: string) => list<S['UserSearchRespItem']>('/users/search', { query: { username, page_size: 10 } }),

  search: (q: string) => get<S['Search']>('/search', { query: { q } }),

  projects: (p: Paging, name?: string, isPublic?: boolean) =>
    list<Project>('/projects', { query: { page: p.page, page_size: p.pageSize, sort: p.sort, name, public: isPublic } }),
  project: (name: string) => get<Project>('/projects/{project_name_or_id}', { params: { project_name_or_id: name } }),
  createProject: (req: S['ProjectReq']) => post('/projects', { body: req }),
  updateProject: (name: string, req: S['ProjectReq']) => put('/projects/{project_name_or_id}', { params: { project_name_or_id: name }, body: req }),
  projectDeletable: (name: string) => get<S['ProjectDeletable']>('/projects/{project_name_or_id}/_deletable', { params: { project_name_or_id: name } }),
  deleteProject: (name: string) => del('/projects/{project_name_or_id}', { params: { project_name_or_id: name } }),
  projectSummary: (name: string) => get<S['ProjectSummary']>('/projects/{project_name_or_id}/summary', { params: { project_name_or_id: name } }),
  projectLogs: (name: string, p: Paging) => list<AuditLog>('/projects/{project_name}/logs', { params: { project_name: name }, query: pq(p) }),

  members: (project: string, p: Paging, entityname?: string) =>
    list<Member>('/projects/{project_name_or_id}/members', { params: { project_name_or_id: project }, query: { page: p.page, page_size: p.pageSize, entityname } }),
  addMember: (project: string, username: string, roleId: number) =>
    post('/projects/{project_name_or_id}/members', { params: { project_name_or_id: project }, body: { role_id: roleId, member_user: { username } } satisfies S['ProjectMember'] }),
  setMemberRole: (project: string, mid: number, roleId: number) =>
    put('/projects/{project_name_or_id}/members/{mid}', { params: { project_name_or_id: project, mid }, body: { role_id: roleId } satisfies S['RoleRequest'] }),
  removeMember: (project: string, mid: number) => del('/projects/{project_name_or_id}/members/{mid}', { params: { project_name_or_id: project, mid } }),

  repositories: (project: string, p: Paging) => list<Repository>('/projects/{project_name}/repositories', { params: { project_name: project }, query: pq(p) }),
  repository: (project: string, repo: string) =>
    get<Repository>('/projects/{project_name}/repositories/{repository_name}', { params: { project_name: project, repository_name: repo } }),
  updateRepository: (project: string, repo: string, description: string) =>
    put('/projects/{project_name}/repositories/{repository_name}', { params: { project_name: project, repository_name: repo }, body: { description } satisfies S['Repository'] }),
  deleteRepository: (project: string, repo: string) =>
    del('/projects/{project_name}/repositories/{repository_name}', { params: { project_name: project, repository_name: repo } }),

  artifacts: (project: string, repo: string, p: Paging) =>
    list<Artifact>('/projects/{project_name}/repositories/{repository_name}/artifacts', {
      params: { project_name: project, repository_name: repo },
      query: pq(p, { with_tag: true, with_label: true, with_scan_overview: true, with_accessory: true }),
    }),
  artifact: (project: string, repo: string, reference: string) =>
    get<Artifact>('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}', {
      params: { project_name: project, repository_name: repo, reference },
      query: { with_tag: true, with_label: true, with_scan_overview: true, with_accessory: true },
    }),
  deleteArtifact: (project: string, repo: string, reference: string) =>
    del('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}', { params: { project_name: project, repository_name: repo, reference } }),
  addTag: (project: string, repo: string, reference: string, name: string) =>
    post('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags', {
      params: { project_name: project, repository_name: repo, reference },
      body: { name } satisfies S['NewTag'],
    }),
  deleteTag: (project: string, repo: string, reference: string, tag: string) =>
    del('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}', {
      params: { project_name: project, repository_name: repo, reference, tag_name: tag },
    }),

  labels: (scope: 'g' | 'p', projectId?: number) =>
    list<S['Label']>('/labels', { query: { scope, project_id: projectId, page_size: 100 } }),
  labelPage: (p: Paging, scope: 'g' | 'p', projectId?: number) => list<S['Label']>('/labels', { query: pq(p, { scope, project_id: projectId }) }),
  createLabel: (l: S['Label']) => post('/labels', { body: l }),
  updateLabel: (id: number, l: S['Label']) => put('/labels/{label_id}', { params: { label_id: id }, body: l }),
  deleteLabel: (id: number) => del('/labels/{label_id}', { params: { label_id: id } }),
  quota: (projectId: number) => get<S['Quota']>('/quotas/{id}', { params: { id: projectId } }),
  updateQuota: (projectId: number, storage: number) => put('/quotas/{id}', { params: { id: projectId }, body: { hard: { storage } } satisfies S['QuotaUpdateReq'] }),
  addArtifactLabel: (project: string, repo: string, reference: string, labelId: number) =>
    post('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels', {
      params: { project_name: project, repository_name: repo, reference },
      body: { id: labelId } satisfies S['Label'],
    }),
  removeArtifactLabel: (project: string, repo: string, reference: string, labelId: number) =>
    del('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels/{label_id}', {
      params: { project_name: project, repository_name: repo, reference, label_id: labelId },
    }),
  robots: (p: Paging, q?: string) => list<Robot>('/robots', { query: pq({ ...p, q }) }),
  createRobot: (req: S['RobotCreate']) => post<RobotCreated>('/robots', { body: req }),
  updateRobot: (id: number, robot: Robot) => put('/robots/{robot_id}', { params: { robot_id: id }, body: robot }),
  refreshRobot: (id: number) => patch<S['RobotSec']>('/robots/{robot_id}', { params: { robot_id: id }, body: {} }),
  deleteRobot: (id: number) => del('/robots/{robot_id}', { params: { robot_id: id } }),
  robotPullSecret: (id: number, body: { namespace?: string; name?: string; registry?: string }) =>
    post<unknown>('/robots/{robot_id}/pullsecret', { params: { robot_id: id }, body }),

  // Administration.
  users: (p: Paging) => list<User>('/users', { query: pq(p) }),
  createUser: (req: S['UserCreationReq']) => post('/users', { body: req }),
  deleteUser: (id: number) => del('/users/{user_id}', { params: { user_id: id } }),
  setSysAdmin: (id: number, flag: boolean) => put('/users/{user_id}/sysadmin', { params: { user_id: id }, body: { sysadmin_flag: flag } satisfies S['UserSysAdminFlag'] }),
  resetPassword: (id: number, newPassword: string) => put('/users/{user_id}/password', { params: { user_id: id }, body: { new_password: newPassword } satisfies S['PasswordReq'] }),
  auditLogs: (p: Paging) => list<AuditLog>('/audit-logs', { query: pq(p) }),
  configurations: () => get<Configurations>('/configurations'),
  updateConfigurations: (c: S['Configurations']) => put('/configurations', { body: c }),
  gcHistory: (p: Paging) => list<GCHistory>('/system/gc', { query: pq(p) }),
  gcSchedule: () => get<S['Schedule']>('/system/gc/schedule'),
  runGC: (dryRun: boolean, deleteUntagged: boolean) =>
    post('/system/gc/schedule', { body: { schedule: { type: 'Manual' }, parameters: { dry_run: dryRun, delete_untagged: deleteUntagged } } }),
  setGCSchedule: (type: 'None' | 'Hourly' | 'Daily' | 'Weekly' | 'Custom', cron: string) =>
    put('/system/gc/schedule', { body: { schedule: { type, cron } } }),
  gcLog: (id: number) => get<string>('/system/gc/{gc_id}/log', { params: { gc_id: id } }),
  ...security,
};

export type { Page };

/** Project roles as Harbor numbers them. */
export const ROLES: { id: number; name: string }[] = [
  { id: 1, name: 'Project Admin' },
  { id: 4, name: 'Maintainer' },
  { id: 2, name: 'Developer' },
  { id: 3, name: 'Guest' },
  { id: 5, name: 'Limited Guest' },
];

export function roleName(id: number | undefined): string {
  return ROLES.find((r) => r.id === id)?.name ?? '—';
}
