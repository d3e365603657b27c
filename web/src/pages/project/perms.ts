// What the signed-in user may do in a project, from the API's
// /users/current/permissions (so the UI never guesses the role matrix).
import { api, type S } from '../../api';
import { useLoad } from '../../components/hooks';

export interface Can {
  (resource: string, action: string): boolean;
}

export function useProjectPerms(projectId: number | undefined): { can: Can; loading: boolean } {
  const load = useLoad<S['Permission'][]>(() => (projectId ? api.permissions(`/project/${projectId}`) : Promise.resolve([])), [projectId]);
  const set = new Set((load.data ?? []).map((p) => `${p.resource}:${p.action}`));
  return { can: (r, a) => set.has(`${r}:${a}`), loading: load.loading };
}
