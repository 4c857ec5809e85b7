/** Who is logged in, read once from `GET /api/v1/?q=this` (the app never sees the cookie). */
import { signal } from '@preact/signals';
import { type User, api } from './api';

export interface Session {
  /** `user/device` as the server names the operator; the user's own login is `name/user`. */
  operator: string;
  user: string;
  device: string;
  /** The user record when readable (role decides the admin pages). */
  record?: User;
}

export const session = signal<Session | undefined>(undefined);

export async function loadSession(): Promise<Session> {
  const operator = (await api.whoami()).trim();
  if (!operator.includes('/')) {
    // The session ended between loading the page and starting the app: log in again.
    location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
    throw new Error('Your session has ended: log in again.');
  }
  const [user, device] = operator.split('/');
  const s: Session = { operator, user, device };
  try {
    s.record = await api.getUser(user);
  } catch {
    // a device without read access to its user still gets the app
  }
  session.value = s;
  return s;
}

export const isAdmin = (): boolean => session.value?.record?.role === 'admin';
