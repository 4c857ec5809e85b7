/**
 * The stream page (views/StreamView.tsx: range, transform, views, live, entry, downloads) with the
 * stream's settings form. Its own chunk (App.tsx), so uPlot never weighs on the login page.
 */
import { api } from '../api';
import { StreamSettings } from '../components/StreamSettings';
import { ErrorBox } from '../components/ui';
import { useAsync, useTitle } from '../hooks';
import StreamView from '../views/StreamView';

export interface StreamPageProps {
  user: string;
  device: string;
  stream: string;
}

export default function StreamPage({ user, device, stream }: StreamPageProps) {
  useTitle(`${user}/${device}/${stream}`);
  const s = useAsync(() => api.getStream(user, device, stream), [user, device, stream]);
  if (s.error) return <ErrorBox error={s.error} />;
  return (
    <>
      <StreamView user={user} device={device} stream={stream} info={s.data} fetchInfo={false} />
      {s.data && <StreamSettings user={user} device={device} stream={s.data} onSaved={s.set} />}
    </>
  );
}
