/** A device: its streams (and a form to add one), its API key with copy/reset/QR, its settings. */
import { useState } from 'preact/hooks';
import { type Device, api } from '../api';
import { DeviceForm, StreamForm } from '../components/forms';
import { lazyPage } from '../components/Lazy';
import { streamTags } from '../components/StreamSettings';
import { ConfirmButton, CopyButton, ErrorBox, Loading } from '../components/ui';
import { useAsync, useTitle } from '../hooks';
import { href, navigate } from '../router';
import { NotFoundPage } from './NotFoundPage';

// The QR encoder is only needed when someone asks for the code.
const QrCode = lazyPage(() => import('../components/QrCode'));

function ApiKey({ user, device, onReset }: { user: string; device: Device; onReset: (d: Device) => void }) {
  const [shown, setShown] = useState(false);
  const [qr, setQr] = useState(false);
  const key = device.apikey ?? '';
  if (device.apikey === undefined) return null;
  return (
    <section class="card" aria-labelledby="key-h">
      <h2 id="key-h">API key</h2>
      <p class="muted">
        Programs log in as this device with this key (HTTP Basic with an empty user name, or <code>?apikey=</code>). Keep it secret.
      </p>
      {key === '' ? (
        <p>This device has no API key.</p>
      ) : (
        <div class="key">
          <code aria-label="API key" data-testid="apikey">
            {shown ? key : '•'.repeat(Math.min(key.length, 36))}
          </code>
          <button type="button" aria-pressed={shown} onClick={() => setShown(!shown)}>
            {shown ? 'Hide' : 'Show'}
          </button>
          <CopyButton text={key} label="Copy key" />
          <button type="button" aria-expanded={qr} onClick={() => setQr(!qr)}>
            {qr ? 'Hide QR code' : 'QR code'}
          </button>
        </div>
      )}
      {qr && key ? (
        <div style="margin-top:.75rem">
          <QrCode text={key} label={`QR code of the API key of ${user}/${device.name}`} />
          <p class="muted" style="font-size:.85rem">
            Scan with a phone logger to set it up with this key.
          </p>
        </div>
      ) : null}
      <div style="margin-top:.75rem">
        <ConfirmButton
          label="Reset API key"
          danger
          question={`Reset the API key of ${user}/${device.name}?`}
          confirmLabel="Reset key"
          action={async () => {
            const d = await api.resetApikey(user, device.name);
            // The update answers the struct form; read the device again for its full map.
            onReset(await api.getDevice(user, d.name).catch(() => d));
            setShown(true);
          }}
        >
          <p>Programs using the current key stop working until they get the new one.{device.name === 'user' ? ' This is your login device: the browser session ends and you log in again.' : ''}</p>
        </ConfirmButton>
      </div>
    </section>
  );
}

export function DevicePage({ user, device }: { user: string; device: string }) {
  useTitle(`${user}/${device}`);
  const d = useAsync(() => api.getDevice(user, device), [user, device]);
  const streams = useAsync(() => api.listStreams(user, device), [user, device]);
  const [adding, setAdding] = useState(false);
  if (d.error && !d.data) {
    return d.error.message === "Can't access this resource." ? <NotFoundPage message={`There is no device ${user}/${device}, or you cannot see it.`} /> : <ErrorBox error={d.error} />;
  }
  if (!d.data) return <Loading />;
  const dev = d.data;
  const deletable = dev.name !== 'user' && dev.name !== 'meta';
  return (
    <>
      <div class="head">
        <div>
          <h1>{dev.nickname || dev.name}</h1>
          <p class="muted mono">
            {user}/{dev.name}
          </p>
          {dev.description ? <p>{dev.description}</p> : null}
        </div>
        <span class="tags">
          {dev.role ? <span class="tag">role: {dev.role}</span> : null}
          {dev.public ? <span class="tag">public</span> : null}
          {dev.enabled === false ? <span class="tag">disabled</span> : null}
          {dev.visible === false ? <span class="tag">hidden</span> : null}
        </span>
      </div>

      <section class="card" aria-labelledby="streams-h">
        <div class="head">
          <h2 id="streams-h" style="margin:0">
            Streams
          </h2>
          <button type="button" class="primary" aria-expanded={adding} onClick={() => setAdding(!adding)}>
            {adding ? 'Cancel' : 'Add stream'}
          </button>
        </div>
        {adding ? (
          <div class="card">
            <h3>New stream</h3>
            <StreamForm
              submitLabel="Create stream"
              onSave={async (name, body) => {
                await api.createStream(user, device, name, body);
                navigate(href(user, device, name));
              }}
            />
          </div>
        ) : null}
        <ErrorBox error={streams.error} />
        {!streams.data ? (
          <Loading />
        ) : streams.data.length === 0 ? (
          <p class="muted">No streams yet.</p>
        ) : (
          <ul class="list" aria-label="Streams">
            {streams.data.map((s) => (
              <li key={s.name}>
                <a href={href(user, device, s.name)}>
                  <span>
                    <span class="name">{s.name}</span>
                    {s.nickname ? <span class="muted"> · {s.nickname}</span> : null}
                  </span>
                  <span class="tags">
                    {streamTags(s).map((t) => (
                      <span class="tag" key={t}>
                        {t}
                      </span>
                    ))}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        )}
      </section>

      <ApiKey user={user} device={dev} onReset={d.set} />

      <details class="card">
        <summary>Device settings</summary>
        <DeviceForm initial={dev} submitLabel="Save device" onSave={async (_n, body) => d.set(await api.getDevice(user, (await api.updateDevice(user, device, body)).name || device))} />
        {deletable ? (
          <>
            <h3>Delete</h3>
            <ConfirmButton
              label="Delete device"
              danger
              question={`Delete ${user}/${dev.name} with all its streams and data?`}
              confirmLabel="Delete device"
              action={async () => {
                await api.deleteDevice(user, dev.name);
                navigate(href(user));
              }}
            >
              <p>This cannot be undone.</p>
            </ConfirmButton>
          </>
        ) : null}
      </details>
    </>
  );
}
