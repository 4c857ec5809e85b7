/**
 * PLACEHOLDER owned by the `web-views` branch, which replaces this file with the stream page
 * (time range, views/charts, live updates, data entry). Keep the contract: default export, props
 * `{ user, device, stream }`, loaded as its own chunk by App.tsx. The stream's settings form
 * (edit/delete) is components/StreamSettings.tsx: include it.
 */
import { api } from '../api';
import { StreamHeader, StreamSettings } from '../components/StreamSettings';
import { ErrorBox, Loading } from '../components/ui';
import { useAsync, useTitle } from '../hooks';

export interface StreamPageProps {
  user: string;
  device: string;
  stream: string;
}

export default function StreamPage({ user, device, stream }: StreamPageProps) {
  useTitle(`${user}/${device}/${stream}`);
  const s = useAsync(() => api.getStream(user, device, stream), [user, device, stream]);
  if (s.error) return <ErrorBox error={s.error} />;
  if (!s.data) return <Loading />;
  return (
    <>
      <StreamHeader user={user} device={device} stream={s.data} />
      <div class="card">
        <p class="muted">The charts and data entry of this page are coming.</p>
      </div>
      <StreamSettings user={user} device={device} stream={s.data} onSaved={s.set} />
    </>
  );
}
