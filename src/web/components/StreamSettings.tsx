/** The stream's title block and its edit/delete settings, shared by the stream page. */
import { type Stream, api } from '../api';
import { href, navigate } from '../router';
import { StreamForm } from './forms';
import { ConfirmButton } from './ui';

export function streamTags(s: Stream): string[] {
  const tags: string[] = [];
  try {
    const v = JSON.parse(s.schema || '{}') as { type?: unknown };
    tags.push(typeof v.type === 'string' ? v.type : 'any');
  } catch {
    tags.push('schema?');
  }
  if (s.datatype) tags.push(s.datatype);
  if (s.downlink) tags.push('downlink');
  if (s.ephemeral) tags.push('ephemeral');
  return tags;
}

export function StreamHeader({ user, device, stream }: { user: string; device: string; stream: Stream }) {
  return (
    <div class="head">
      <div>
        <h1>{stream.nickname || stream.name}</h1>
        <p class="muted mono">
          {user}/{device}/{stream.name}
        </p>
        {stream.description ? <p>{stream.description}</p> : null}
      </div>
      <span class="tags">
        {streamTags(stream).map((t) => (
          <span class="tag" key={t}>
            {t}
          </span>
        ))}
      </span>
    </div>
  );
}

export function StreamSettings({ user, device, stream, onSaved }: { user: string; device: string; stream: Stream; onSaved: (s: Stream) => void }) {
  return (
    <details class="card">
      <summary>Stream settings</summary>
      <StreamForm initial={stream} submitLabel="Save stream" onSave={async (_n, body) => onSaved(await api.updateStream(user, device, stream.name, body))} />
      <h3>Delete</h3>
      <ConfirmButton
        label="Delete stream"
        danger
        question={`Delete ${user}/${device}/${stream.name} and all its data?`}
        confirmLabel="Delete stream"
        action={async () => {
          await api.deleteStream(user, device, stream.name);
          navigate(href(user, device));
        }}
      >
        <p>This cannot be undone.</p>
      </ConfirmButton>
    </details>
  );
}
