import type { DeviceRow, StreamRow, UserRow } from '../storage/types';

export type { DeviceRow, StreamRow, UserRow };

/**
 * Who is acting: always a device (a password login acts as the user's `user` device) or the
 * anonymous nobody, whose synthetic user has role `nobody` and device role `user`.
 */
export interface Operator {
  /** `user/device`, or `nobody`. */
  name: string;
  user: UserRow;
  device: DeviceRow;
  nobody: boolean;
}

export const NOBODY: Operator = Object.freeze({
  name: 'nobody',
  nobody: true,
  user: {
    id: -1,
    name: 'nobody',
    nickname: '',
    email: '',
    description: '',
    icon: '',
    public: false,
    role: 'nobody',
    password: '',
    password_salt: '',
    password_scheme: '',
  },
  device: {
    id: -1,
    user_id: -1,
    name: '',
    nickname: '',
    description: '',
    icon: '',
    apikey: '',
    enabled: false,
    public: false,
    role: 'user',
    visible: false,
    user_editable: false,
  },
}) as Operator;

/** A resolved stream with its owners, as the data routes need it. */
export interface StreamRef {
  user: UserRow;
  device: DeviceRow;
  stream: StreamRow;
  /** `user/device/stream` */
  path: string;
}
