import type { RW_FLAGS } from './defaults';

export type RWFlag = (typeof RW_FLAGS)[number];
export type RWAccess = Record<RWFlag, boolean>;

export interface AccessLevel {
  can_create_user: boolean;
  can_create_device: boolean;
  can_create_stream: boolean;
  can_delete_user: boolean;
  can_delete_device: boolean;
  can_delete_stream: boolean;
  can_list_users: boolean;
  can_list_devices: boolean;
  can_list_streams: boolean;
  can_subscribe_to_stream: boolean;
  read_access: string;
  write_access: string;
}

export interface RoleLevels {
  CanCountUsers: boolean;
  CanCountDevices: boolean;
  CanCountStreams: boolean;
  private_access_level: string;
  public_access_level: string;
  user_access_level: string;
  self_access_level: string;
}

export interface UserDefaults {
  nickname: string;
  description: string;
  icon: string;
  role: string;
  public: boolean;
}
export interface DeviceDefaults {
  nickname: string;
  description: string;
  icon: string;
  role: string;
  enabled: boolean;
  public: boolean;
  visible: boolean;
  user_editable: boolean;
}
export interface StreamDefaults {
  nickname: string;
  description: string;
  icon: string;
  schema: string;
  datatype: string;
  ephemeral: boolean;
  downlink: boolean;
}

export interface UserRole extends RoleLevels {
  join: boolean;
  join_role: string;
  join_disabled_message: string;
  max_devices: number;
  max_streams: number;
  max_device_size: number;
  max_stream_size: number;
  max_private_devices: number;
  user_can_be_private: boolean;
  create_user_defaults: UserDefaults;
  create_device_defaults: DeviceDefaults;
  create_stream_defaults: StreamDefaults;
}

export type DeviceRole = RoleLevels;

export interface PermissionsFile {
  version: number;
  watch: boolean;
  disallow_names: string[];
  allowed_email_suffixes: string[];
  max_users: number;
  user_roles: Record<string, UserRole>;
  device_roles: Record<string, DeviceRole>;
  access_levels: Record<string, AccessLevel>;
  rw_access: Record<string, RWAccess>;
}

export type Relationship = 'self' | 'user' | 'public' | 'private';

/** The AND of a user role's and a device role's access level for one relationship. */
export interface EffectiveAccess {
  can_create_user: boolean;
  can_create_device: boolean;
  can_create_stream: boolean;
  can_delete_user: boolean;
  can_delete_device: boolean;
  can_delete_stream: boolean;
  can_list_users: boolean;
  can_list_devices: boolean;
  can_list_streams: boolean;
  read: RWAccess;
  write: RWAccess;
}
