import type { PermissionsFile, RWAccess, AccessLevel } from './types';

/**
 * The built-in `default` permissions of ConnectorDB 0.3 (permissions.md §2), in the original's
 * file format so `write permissions` can dump it and custom files load into the same shape.
 */

const rw = (on: (keyof RWAccess)[]): RWAccess => {
  const r = Object.fromEntries(RW_FLAGS.map((f) => [f, false])) as unknown as RWAccess;
  for (const f of on) r[f] = true;
  return r;
};

export const RW_FLAGS = [
  'can_access_user',
  'can_access_device',
  'can_access_stream',
  'can_access_stream_data',
  'can_access_stream_downlink',
  'can_access_non_user_editable_devices',
  'user_name',
  'user_nickname',
  'user_email',
  'user_description',
  'user_icon',
  'user_role',
  'user_public',
  'user_password',
  'device_name',
  'device_nickname',
  'device_description',
  'device_icon',
  'device_apikey',
  'device_enabled',
  'device_visible',
  'device_user_editable',
  'device_public',
  'device_role',
  'stream_name',
  'stream_nickname',
  'stream_description',
  'stream_icon',
  'stream_schema',
  'stream_datatype',
  'stream_ephemeral',
  'stream_downlink',
] as const;

const STREAM_OTHER: (keyof RWAccess)[] = [
  'stream_nickname',
  'stream_description',
  'stream_icon',
  'stream_schema',
  'stream_datatype',
  'stream_ephemeral',
  'stream_downlink',
];
const OBJECTS: (keyof RWAccess)[] = ['can_access_user', 'can_access_device', 'can_access_stream'];
const COMMON: (keyof RWAccess)[] = [
  ...OBJECTS,
  'user_nickname',
  'user_description',
  'user_icon',
  'user_public',
  'device_nickname',
  'device_description',
  'device_icon',
  'device_enabled',
  'device_visible',
  'device_public',
  ...STREAM_OTHER,
];

export const DEFAULT_RW: Record<string, RWAccess> = {
  publicread: rw([...COMMON, 'can_access_stream_data', 'can_access_stream_downlink', 'user_name', 'device_name', 'stream_name']),
  selfwrite: rw([
    ...COMMON,
    'can_access_stream_data',
    'can_access_stream_downlink',
    'user_email',
    'user_password',
    'device_apikey',
    'device_role',
  ]),
  selfread: rw([
    ...COMMON,
    'can_access_stream_data',
    'can_access_stream_downlink',
    'can_access_non_user_editable_devices',
    'user_name',
    'user_email',
    'user_role',
    'device_name',
    'device_apikey',
    'device_user_editable',
    'device_role',
    'stream_name',
  ]),
  deviceread: rw([
    ...COMMON,
    'can_access_stream_data',
    'can_access_stream_downlink',
    'can_access_non_user_editable_devices',
    'user_name',
    'user_email',
    'user_role',
    'device_name',
    'device_user_editable',
    'device_role',
    'stream_name',
  ]),
  devicewrite: rw([
    ...COMMON,
    'can_access_stream_downlink',
    'user_email',
    'device_name',
    'device_user_editable',
    'stream_name',
  ]),
  fulldevicewrite: rw([
    ...COMMON,
    'can_access_stream_data',
    'user_email',
    'device_apikey',
    'device_user_editable',
  ]),
  fulldownlinkwrite: rw([
    ...COMMON,
    'can_access_stream_downlink',
    'can_access_non_user_editable_devices',
    'user_name',
    'user_email',
    'user_role',
    'user_password',
    'device_name',
    'device_apikey',
    'device_user_editable',
    'device_role',
    'stream_name',
  ]),
};

const level = (flags: string, read: string, write: string): AccessLevel => {
  const has = (k: string) => flags.includes(k);
  return {
    can_create_user: has('CU'),
    can_create_device: has('CD'),
    can_create_stream: has('CS'),
    can_delete_user: has('DU'),
    can_delete_device: has('DD'),
    can_delete_stream: has('DS'),
    can_list_users: has('LU'),
    can_list_devices: has('LD'),
    can_list_streams: has('LS'),
    can_subscribe_to_stream: true,
    read_access: read,
    write_access: write,
  };
};

export const DEFAULT_ACCESS_LEVELS: Record<string, AccessLevel> = {
  userpublic: level('LD LS', 'publicread', 'none'),
  userself: level('CD CS DD DS LD LS', 'selfread', 'selfwrite'),
  devicereader: level('LD LS', 'deviceread', 'none'),
  devicewriter: level('LD LS', 'deviceread', 'devicewrite'),
  fulldevice: level('CU CD CS DD DS LU LD LS', 'full', 'fulldevicewrite'),
  fulldownlink: level('CU CD CS DU DD DS LU LD LS', 'full', 'fulldownlinkwrite'),
  fullnp: level('CU CD CS DU DD DS LU LD LS', 'selfread', 'full'),
};

const emptyStreamDefaults = {
  nickname: '',
  description: '',
  icon: '',
  schema: '',
  datatype: '',
  ephemeral: false,
  downlink: false,
};

export function defaultPermissions(): PermissionsFile {
  return {
    version: 1,
    watch: true,
    disallow_names: ['support', 'www', 'api', 'app', 'favicon.ico', 'robots.txt', 'sitemap.xml', 'join', 'login', 'user', 'admin', 'nobody', 'root'],
    allowed_email_suffixes: [],
    max_users: -1,
    user_roles: {
      nobody: {
        join: false,
        join_role: 'user',
        join_disabled_message: 'You must be logged in to add users',
        max_devices: 0,
        max_streams: 0,
        max_device_size: 0,
        max_stream_size: 0,
        max_private_devices: 0,
        user_can_be_private: false,
        create_user_defaults: { nickname: '', description: '', icon: '', role: '', public: false },
        create_device_defaults: { nickname: '', description: '', icon: '', role: '', enabled: false, public: false, visible: false, user_editable: false },
        create_stream_defaults: { ...emptyStreamDefaults },
        CanCountUsers: false,
        CanCountDevices: false,
        CanCountStreams: false,
        private_access_level: 'none',
        public_access_level: 'none',
        user_access_level: 'none',
        self_access_level: 'none',
      },
      user: {
        join: false,
        join_role: 'user',
        join_disabled_message: 'You must be logged in as admin to add users',
        max_devices: 0,
        max_streams: 0,
        max_device_size: 0,
        max_stream_size: 0,
        max_private_devices: 0,
        user_can_be_private: true,
        create_user_defaults: { nickname: '', description: '', icon: '', role: '', public: false },
        create_device_defaults: { nickname: '', description: '', icon: '', role: '', enabled: true, public: false, visible: true, user_editable: true },
        create_stream_defaults: { ...emptyStreamDefaults },
        CanCountUsers: false,
        CanCountDevices: false,
        CanCountStreams: false,
        private_access_level: 'none',
        public_access_level: 'userpublic',
        user_access_level: 'userself',
        self_access_level: 'userself',
      },
      admin: {
        join: true,
        join_role: 'user',
        join_disabled_message: 'Join is disabled',
        max_devices: 0,
        max_streams: 0,
        max_device_size: 0,
        max_stream_size: 0,
        max_private_devices: 0,
        user_can_be_private: true,
        create_user_defaults: { nickname: '', description: '', icon: '', role: 'user', public: true },
        create_device_defaults: { nickname: '', description: '', icon: '', role: 'none', enabled: true, public: false, visible: true, user_editable: true },
        create_stream_defaults: { ...emptyStreamDefaults },
        CanCountUsers: true,
        CanCountDevices: true,
        CanCountStreams: true,
        private_access_level: 'fullnp',
        public_access_level: 'fullnp',
        user_access_level: 'fullnp',
        self_access_level: 'fullnp',
      },
    },
    device_roles: {
      none: { CanCountUsers: false, CanCountDevices: false, CanCountStreams: false, private_access_level: 'none', public_access_level: 'none', user_access_level: 'none', self_access_level: 'fulldevice' },
      reader: { CanCountUsers: false, CanCountDevices: false, CanCountStreams: false, private_access_level: 'devicereader', public_access_level: 'devicereader', user_access_level: 'devicereader', self_access_level: 'fulldevice' },
      writer: { CanCountUsers: false, CanCountDevices: false, CanCountStreams: false, private_access_level: 'devicewriter', public_access_level: 'devicewriter', user_access_level: 'devicewriter', self_access_level: 'fulldevice' },
      user: { CanCountUsers: true, CanCountDevices: true, CanCountStreams: true, private_access_level: 'fulldownlink', public_access_level: 'fulldownlink', user_access_level: 'fulldownlink', self_access_level: 'full' },
    },
    access_levels: DEFAULT_ACCESS_LEVELS,
    rw_access: DEFAULT_RW,
  };
}
