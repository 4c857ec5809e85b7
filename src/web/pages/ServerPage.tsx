/** The server: its URL (with a QR code for phones), version and counts. */
import { api } from '../api';
import { lazyPage } from '../components/Lazy';
import { ErrorBox } from '../components/ui';
import { useAsync, useTitle } from '../hooks';
import { session } from '../session';

const QrCode = lazyPage(() => import('../components/QrCode'));

export default function ServerPage() {
  useTitle('Server');
  const info = useAsync(async () => {
    const [version, users, devices, streams] = await Promise.all([
      api.version(),
      api.count('users').catch(() => undefined),
      api.count('devices').catch(() => undefined),
      api.count('streams').catch(() => undefined),
    ]);
    return { version, users, devices, streams };
  }, []);
  const url = location.origin;
  return (
    <>
      <h1>Server</h1>
      <section class="card">
        <ErrorBox error={info.error} />
        <table class="kv">
          <tbody>
            <tr>
              <th scope="row">URL</th>
              <td>
                <a href={url}>{url}</a>
              </td>
            </tr>
            <tr>
              <th scope="row">Version</th>
              <td data-testid="version">{info.data?.version ?? '…'}</td>
            </tr>
            <tr>
              <th scope="row">Logged in as</th>
              <td>{session.value?.operator}</td>
            </tr>
            {info.data?.users !== undefined ? (
              <tr>
                <th scope="row">Users, devices, streams</th>
                <td>
                  {info.data.users}, {info.data.devices}, {info.data.streams}
                </td>
              </tr>
            ) : null}
            <tr>
              <th scope="row">API</th>
              <td>
                <code>{url}/api/v1</code>
              </td>
            </tr>
          </tbody>
        </table>
      </section>
      <section class="card">
        <h2>Open on a phone</h2>
        <QrCode text={url} label={`QR code of ${url}`} />
      </section>
    </>
  );
}
