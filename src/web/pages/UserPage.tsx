/** A user's page (and the home page for oneself): devices, the streams of all devices, settings. */
import { useMemo, useState } from 'preact/hooks';
import { type UserStream, api } from '../api';
import { DeviceForm, UserForm } from '../components/forms';
import { streamTags } from '../components/StreamSettings';
import { ConfirmButton, ErrorBox, Loading } from '../components/ui';
import { useAsync, useTitle } from '../hooks';
import { href, navigate } from '../router';
import { isAdmin, session } from '../session';
import { NotFoundPage } from './NotFoundPage';

export function StreamList({ user, streams, filter }: { user: string; streams: UserStream[]; filter: string }) {
  const f = filter.trim().toLowerCase();
  const shown = f ? streams.filter((s) => `${s.device}/${s.name} ${s.nickname}`.toLowerCase().includes(f)) : streams;
  if (streams.length === 0) return <p class="muted">No streams yet. Open a device to add one.</p>;
  if (shown.length === 0) return <p class="muted">No stream matches “{filter}”.</p>;
  return (
    <ul class="list" aria-label="Streams">
      {shown.map((s) => (
        <li key={s.device + '/' + s.name}>
          <a href={href(user, s.device, s.name)}>
            <span>
              <span class="name">
                {s.device}/{s.name}
              </span>
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
  );
}

export function UserPage({ user, home }: { user: string; home?: boolean }) {
  useTitle(home ? 'Home' : user);
  const me = session.value!;
  const u = useAsync(() => api.getUser(user), [user]);
  const devices = useAsync(() => api.listDevices(user), [user]);
  const streams = useAsync(() => api.listUserStreams(user), [user]);
  const [filter, setFilter] = useState('');
  const [adding, setAdding] = useState(false);
  const visibleDevices = useMemo(() => (devices.data ?? []).filter((d) => d.visible !== false), [devices.data]);
  const hiddenCount = (devices.data?.length ?? 0) - visibleDevices.length;
  const [showHidden, setShowHidden] = useState(false);

  if (u.error && !u.data) {
    return u.error.message === "Can't access this resource." ? <NotFoundPage message={`There is no user ${user}, or you cannot see it.`} /> : <ErrorBox error={u.error} />;
  }
  if (!u.data) return <Loading />;
  const self = me.user === user;
  const list = showHidden ? (devices.data ?? []) : visibleDevices;
  const allStreams = (streams.data ?? []).filter((s) => showHidden || visibleDevices.some((d) => d.name === s.device));
  return (
    <>
      <div class="head">
        <div>
          <h1>{u.data.nickname || u.data.name}</h1>
          <p class="muted">
            {u.data.name}
            {u.data.email ? ` · ${u.data.email}` : ''}
            {u.data.role ? ` · ${u.data.role}` : ''}
          </p>
          {u.data.description ? <p>{u.data.description}</p> : null}
        </div>
      </div>

      <section class="card" aria-labelledby="devices-h">
        <div class="head">
          <h2 id="devices-h" style="margin:0">
            Devices
          </h2>
          <div class="row">
            {hiddenCount > 0 ? (
              <label class="check" style="margin:0">
                <input type="checkbox" checked={showHidden} onChange={(e) => setShowHidden((e.target as HTMLInputElement).checked)} />
                Show hidden ({hiddenCount})
              </label>
            ) : null}
            <button type="button" class="primary" aria-expanded={adding} onClick={() => setAdding(!adding)}>
              {adding ? 'Cancel' : 'Add device'}
            </button>
          </div>
        </div>
        {adding ? (
          <div class="card">
            <h3>New device</h3>
            <DeviceForm
              submitLabel="Create device"
              onSave={async (name, body) => {
                await api.createDevice(user, name, body);
                navigate(href(user, name));
              }}
            />
          </div>
        ) : null}
        <ErrorBox error={devices.error} />
        {devices.data ? (
          <ul class="list" aria-label="Devices">
            {list.map((d) => (
              <li key={d.name}>
                <a href={href(user, d.name)}>
                  <span>
                    <span class="name">{d.name}</span>
                    {d.nickname ? <span class="muted"> · {d.nickname}</span> : null}
                  </span>
                  <span class="tags">
                    {d.role ? <span class="tag">{d.role}</span> : null}
                    {d.public ? <span class="tag">public</span> : null}
                    {d.enabled === false ? <span class="tag">disabled</span> : null}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        ) : (
          <Loading />
        )}
      </section>

      <section class="card" aria-labelledby="streams-h">
        <div class="head">
          <h2 id="streams-h" style="margin:0">
            Streams of all devices
          </h2>
          <label style="margin:0;font-weight:400;flex:0 1 18rem">
            <span class="sr-only">Filter streams</span>
            <input type="search" placeholder="Filter streams…" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        <ErrorBox error={streams.error} />
        {streams.data ? <StreamList user={user} streams={allStreams} filter={filter} /> : <Loading />}
      </section>

      {self || isAdmin() ? (
        <details class="card">
          <summary>{self ? 'Your account' : 'User settings'}</summary>
          <UserForm initial={u.data} admin={isAdmin()} submitLabel="Save" onSave={async (_n, body) => u.set(await api.updateUser(user, body))} />
          {isAdmin() ? (
            <>
              <h3>Delete</h3>
              <ConfirmButton
                label="Delete user"
                danger
                question={`Delete user ${user} with all devices, streams and data?`}
                confirmLabel="Delete user"
                action={async () => {
                  await api.deleteUser(user);
                  if (self) location.href = '/logout';
                  else navigate('/_/users');
                }}
              >
                <p>This cannot be undone.</p>
              </ConfirmButton>
            </>
          ) : null}
        </details>
      ) : null}
    </>
  );
}
