/**
 * Route → page. Pages that are large or rarely opened are separate chunks (lazyPage), so the
 * first load stays small; the stream page above all (charts, uPlot).
 */
import { useEffect, useState } from 'preact/hooks';
import { CommandPalette } from './components/CommandPalette';
import { Layout } from './components/Layout';
import { lazyPage } from './components/Lazy';
import { ErrorBox, Loading } from './components/ui';
import { DevicePage } from './pages/DevicePage';
import { NotFoundPage } from './pages/NotFoundPage';
import { UserPage } from './pages/UserPage';
import { type Route, loc, parseRoute } from './router';
import { loadSession, session } from './session';

const loadStreamPage = () => import('./pages/StreamPage');
// A stream page opened directly (deep link, reload) fetches its chunk while the session loads.
if (parseRoute(location.pathname).kind === 'stream') void loadStreamPage();
const StreamPage = lazyPage(loadStreamPage);
const ServerPage = lazyPage(() => import('./pages/ServerPage'));
const UsersPage = lazyPage(() => import('./pages/UsersPage'));
const InsertPage = lazyPage(() => import('./pages/InsertPage'));
const DownlinksPage = lazyPage(() => import('./pages/DownlinksPage'));
const AnalysisPage = lazyPage(() => import('./pages/AnalysisPage'));

/** The app's own pages, `/_/{name}`. */
const APP_PAGES: Record<string, (rest: string[]) => preact.JSX.Element> = {
  server: () => <ServerPage />,
  users: () => <UsersPage />,
  insert: () => <InsertPage />,
  downlinks: () => <DownlinksPage />,
  analysis: () => <AnalysisPage />,
};

function Page({ route }: { route: Route }) {
  const me = session.value!;
  switch (route.kind) {
    case 'home':
      return <UserPage user={me.user} home />;
    case 'user':
      return <UserPage user={route.user} />;
    case 'device':
      return <DevicePage user={route.user} device={route.device} />;
    case 'stream':
      return <StreamPage key={`${route.user}/${route.device}/${route.stream}`} user={route.user} device={route.device} stream={route.stream} />;
    case 'app': {
      const p = APP_PAGES[route.page];
      return p ? p(route.rest) : <NotFoundPage />;
    }
    default:
      return <NotFoundPage />;
  }
}

export function App() {
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    loadSession().catch(setError);
  }, []);
  const route = parseRoute(loc.value.path);
  if (error) {
    return (
      <main>
        <ErrorBox error={error} title="The app could not start" />
        <p>
          <a href="/login">Log in again</a> or <a href="/">reload</a>.
        </p>
      </main>
    );
  }
  if (!session.value) return <Loading what="Starting" />;
  return (
    <>
      <Layout route={route}>
        <Page route={route} />
      </Layout>
      <CommandPalette />
    </>
  );
}
