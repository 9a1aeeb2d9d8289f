/**
 * The console shell: login with an API key, the sandbox switcher, and the screens of the loop in the order a
 * marketer walks them. Screens load lazily (one bundle chunk each) and are shown only to roles whose key may
 * read what they show; actions a role may not take are hidden inside each screen through `can`.
 */
import { lazy, Suspense, useEffect, useState, type FormEvent } from 'react';
import { ACTIONS } from '../../src/access/roles.ts';
import { createClient, loadSession, saveSession, type Client, type Session } from './api.ts';
import { ErrorBox, Loading, useAsync } from './components/ui.tsx';

export type Action = keyof typeof ACTIONS;

export interface ScreenProps {
  client: Client;
  /** Whether the key's role may take the action (the same table the server enforces). */
  can: (action: Action) => boolean;
}

interface ScreenDef {
  path: string;
  title: string;
  needs: Action;
  load: () => Promise<{ default: (props: ScreenProps) => React.JSX.Element }>;
}

export const SCREENS: ScreenDef[] = [
  { path: 'data', title: 'Data', needs: 'dataset:read', load: () => import('./screens/Data.tsx') },
  { path: 'profiles', title: 'Profiles', needs: 'profile:read', load: () => import('./screens/Profiles.tsx') },
  { path: 'queries', title: 'Queries', needs: 'query:read', load: () => import('./screens/Queries.tsx') },
  { path: 'clv', title: 'CLV', needs: 'clv:read', load: () => import('./screens/Clv.tsx') },
  { path: 'audiences', title: 'Audiences', needs: 'audience:read', load: () => import('./screens/Audiences.tsx') },
  { path: 'insights', title: 'Insights', needs: 'dashboard:read', load: () => import('./screens/Insights.tsx') },
  { path: 'destinations', title: 'Destinations', needs: 'audience:read', load: () => import('./screens/Destinations.tsx') },
  { path: 'campaigns', title: 'Campaigns', needs: 'audience:read', load: () => import('./screens/Campaigns.tsx') },
];

const lazyScreens = new Map(SCREENS.map((s) => [s.path, lazy(s.load)]));

interface Me {
  id: string;
  name: string;
  role: string;
  sandboxes: string[];
}

function Login({ onLogin }: { onLogin: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await createClient({ token, sandbox: 'prod' }).get('/whoami');
      onLogin({ token, sandbox: 'prod' });
    } catch (e) {
      setError(e);
    }
  };
  return (
    <main className="login">
      <h1>Roundtrip</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          API key
          <input type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} placeholder="rt_…" autoFocus />
        </label>
        <button type="submit" disabled={!token}>
          Sign in
        </button>
      </form>
      <ErrorBox error={error} />
      <p className="hint">
        Create a key with <code>roundtrip key create --role marketer</code>; <code>npm run demo</code> prints one.
      </p>
    </main>
  );
}

function useHashPath(): string {
  const read = () => window.location.hash.replace(/^#\/?/, '') || 'data';
  const [path, setPath] = useState(read);
  useEffect(() => {
    const onChange = () => setPath(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return path;
}

function Shell({ session, onSession }: { session: Session; onSession: (s: Session | null) => void }) {
  const client = createClient(session);
  const me = useAsync(() => client.get<Me>('/whoami'), [session.token]);
  const sandboxes = useAsync(() => client.get<{ sandboxes: { name: string; title: string }[] }>('/sandboxes'), [session.token]);
  const path = useHashPath();
  if (me.error) return <ErrorBox error={me.error} />;
  if (!me.data) return <Loading what="your key" />;
  const role = me.data.role;
  const can = (action: Action) => (ACTIONS[action].roles as readonly string[]).includes(role);
  const visible = SCREENS.filter((s) => can(s.needs));
  const current = visible.find((s) => path.split('/')[0] === s.path) ?? visible[0];
  const Screen = current && lazyScreens.get(current.path);
  return (
    <div className="shell">
      <header>
        <strong className="brand">Roundtrip</strong>
        <nav aria-label="Screens">
          {visible.map((s) => (
            <a key={s.path} href={`#/${s.path}`} aria-current={s === current ? 'page' : undefined}>
              {s.title}
            </a>
          ))}
        </nav>
        <label className="sandbox">
          Sandbox
          <select value={session.sandbox} onChange={(e) => onSession({ ...session, sandbox: e.target.value })}>
            {(sandboxes.data?.sandboxes ?? [{ name: session.sandbox, title: session.sandbox }]).map((s) => (
              <option key={s.name} value={s.name}>
                {s.title} ({s.name})
              </option>
            ))}
          </select>
        </label>
        <span className="who" title={me.data.id}>
          {me.data.name} · {role}
        </span>
        <button type="button" onClick={() => onSession(null)}>
          Sign out
        </button>
      </header>
      <main key={`${session.sandbox}:${current?.path}`}>
        {Screen ? (
          <Suspense fallback={<Loading what={current.title} />}>
            <Screen client={client} can={can} />
          </Suspense>
        ) : (
          <p>Your role ({role}) has no screens here; ask an admin for another key.</p>
        )}
      </main>
    </div>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const update = (next: Session | null) => {
    saveSession(next);
    setSession(next);
  };
  return session ? <Shell session={session} onSession={update} /> : <Login onLogin={update} />;
}
