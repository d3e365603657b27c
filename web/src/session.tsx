// The signed-in user and the server's general info, shared by every page.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, type GeneralInfo, type User } from './api';

export interface Session {
  user: User | null;
  info: GeneralInfo | null;
  loading: boolean;
  error: string;
  reload: () => Promise<void>;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [info, setInfo] = useState<GeneralInfo | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState('');

  const reload = useCallback(async () => {
    setError('');
    try {
      setInfo(await api.systemInfo());
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
    try {
      setUser(await api.currentUser());
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setError(e instanceof Error ? e.message : String(e));
      setUser(null);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  const signIn = useCallback(
    async (username: string, password: string) => {
      await api.signIn(username, password);
      await reload();
    },
    [reload],
  );
  const signOut = useCallback(async () => {
    await api.signOut();
    setUser(null);
  }, []);

  return <SessionContext.Provider value={{ user, info, loading, error, reload, signIn, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
