/** Admin: every user, and a form to create one. */
import { useState } from 'preact/hooks';
import { type UserCreate, api } from '../api';
import { UserForm } from '../components/forms';
import { ErrorBox, Loading } from '../components/ui';
import { useAsync, useTitle } from '../hooks';
import { href, navigate } from '../router';

export default function UsersPage() {
  useTitle('Users');
  const users = useAsync(() => api.listUsers(), []);
  const [adding, setAdding] = useState(false);
  return (
    <>
      <div class="head">
        <h1>Users</h1>
        <button type="button" class="primary" aria-expanded={adding} onClick={() => setAdding(!adding)}>
          {adding ? 'Cancel' : 'Add user'}
        </button>
      </div>
      {adding ? (
        <section class="card">
          <h2>New user</h2>
          <UserForm
            admin
            submitLabel="Create user"
            onSave={async (name, body) => {
              await api.createUser(name, body as UserCreate);
              navigate(href(name));
            }}
          />
        </section>
      ) : null}
      <section class="card">
        <ErrorBox error={users.error} />
        {!users.data && !users.error ? <Loading /> : null}
        {users.data ? (
          <ul class="list" aria-label="Users">
            {users.data.map((u) => (
              <li key={u.name}>
                <a href={href(u.name)}>
                  <span>
                    <span class="name">{u.name}</span>
                    {u.nickname ? <span class="muted"> · {u.nickname}</span> : null}
                  </span>
                  <span class="meta">
                    {u.email} · {u.role}
                    {u.public ? ' · public' : ''}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        ) : null}
      </section>
    </>
  );
}
