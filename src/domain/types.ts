/** Rows as the stores hand them to services (booleans already converted). */
export interface UserRow {
  id: number;
  name: string;
  nickname: string;
  email: string;
  description: string;
  icon: string;
  public: boolean;
  role: string;
  password: string;
  password_salt: string;
  password_scheme: string;
}

export interface DeviceRow {
  id: number;
  user_id: number;
  name: string;
  nickname: string;
  description: string;
  icon: string;
  apikey: string;
  enabled: boolean;
  public: boolean;
  role: string;
  visible: boolean;
  user_editable: boolean;
}

export interface StreamRow {
  id: number;
  device_id: number;
  name: string;
  nickname: string;
  description: string;
  icon: string;
  schema: string;
  datatype: string;
  ephemeral: boolean;
  downlink: boolean;
}

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
