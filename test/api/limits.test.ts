import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createUser, makeApp } from '../helpers';
import { admin, asUser, expectError, mkDevice, mkStream } from './util';

/**
 * Errors that only a non-default permissions file can produce (rest-api §5.5, §5.6, §6.3, §6.4,
 * §7.3; permissions.md §6): role limits, max_users, allowed_email_suffixes, creating users of
 * another role, private users of roles that may not be private.
 */

describe('role limits of the user role', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp(
      () => {},
      (p) => {
        p.max_users = 6;
        p.allowed_email_suffixes = ['@localhost', '@ok.org'];
        Object.assign(p.user_roles.user, { max_devices: 5, max_streams: 2, max_private_devices: 3 });
      },
    );
    await createUser(t, 'alice');
    await createUser(t, 'bob');
  });
  afterAll(() => t.close());
  const alice = () => asUser(t, 'alice');

  it('max_private_devices counts user and meta; a public device still fits', async () => {
    await mkDevice(alice(), 'alice/p1');
    expectError(await alice().post('/api/v1/crud/alice/p2', {}), 403, 'Exceeded maximum number of private devices for user');
    await mkDevice(alice(), 'alice/pub1', { public: true });
  });

  it('making a public device private re-checks max_private_devices', async () => {
    expectError(await alice().put('/api/v1/crud/alice/pub1', { public: false }), 403, 'Exceeded maximum number of private devices for user');
  });

  it('max_devices counts user and meta', async () => {
    await mkDevice(alice(), 'alice/pub2', { public: true });
    expectError(await alice().post('/api/v1/crud/alice/pub3', { public: true }), 403, "Can't create device: Device number limit exceeded.");
  });

  it('max_streams limits streams per device', async () => {
    await mkStream(alice(), 'alice/user/s1');
    await mkStream(alice(), 'alice/user/s2');
    expectError(await alice().post('/api/v1/crud/alice/user/s3', {}), 403, 'Cannot create stream: Exceeded maximum stream number for device.');
    await mkStream(alice(), 'alice/pub1/s1');
  });

  it('max_streams limits the streams map of a device create', async () => {
    const r = await asUser(t, 'bob').post('/api/v1/crud/bob/many', { public: true, streams: { a: {}, b: {}, c: {} } });
    expectError(r, 403, 'Exceeded stream limit for device');
    expectError(await asUser(t, 'bob').get('/api/v1/crud/bob/many'), 404);
  });

  it('the devices map of a user create is limited by max_devices (counting user and meta)', async () => {
    const r = await admin(t).post('/api/v1/crud/carl', { email: 'carl@localhost', password: 'p', devices: { a: {}, b: {}, c: {}, d: {} } });
    expectError(r, 403, 'Exceeded device limit');
  });

  it('the streams map of a user create is limited by max_streams', async () => {
    const r = await admin(t).post('/api/v1/crud/carl', { email: 'carl@localhost', password: 'p', streams: { a: {}, b: {}, c: {} } });
    expectError(r, 403, 'Exceeded stream limit for user');
  });

  it('allowed_email_suffixes restricts emails on create and update', async () => {
    expectError(await admin(t).post('/api/v1/crud/dora', { email: 'dora@elsewhere.com', password: 'p' }), 403, "Email 'dora@elsewhere.com' not allowed");
    expect((await admin(t).post('/api/v1/crud/dora', { email: 'dora@ok.org', password: 'p' })).status).toBe(200);
    expectError(await asUser(t, 'dora', 'p').put('/api/v1/crud/dora', { email: 'dora@elsewhere.com' }), 403, "Email 'dora@elsewhere.com' not allowed");
  });

  it('disallow_names is case-sensitive', async () => {
    expect((await admin(t).post('/api/v1/crud/Admin', { email: 'Admin@localhost', password: 'p' })).status).toBe(200);
  });

  it('max_users refuses creation once the user count reaches it', async () => {
    // test, alice, bob, dora, Admin = 5
    expect((await admin(t).post('/api/v1/crud/eve', { email: 'eve@localhost', password: 'p' })).status).toBe(200);
    expectError(await admin(t).post('/api/v1/crud/fred', { email: 'fred@localhost', password: 'p' }), 403, 'Maximum user limit was reached');
  });
});

describe('user creation by a non-admin role', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp(
      () => {},
      (p) => {
        // users may create public users, but may not write user_role
        p.access_levels.creator = { ...p.access_levels.userpublic, can_create_user: true, write_access: 'selfwrite' };
        p.user_roles.user.public_access_level = 'creator';
        p.user_roles.nobody.user_can_be_private = false;
      },
    );
    await createUser(t, 'alice');
  });
  afterAll(() => t.close());

  it('a creator whose role default is empty must name its own role (an empty role differs from the creator\'s)', async () => {
    const r = await asUser(t, 'alice').post('/api/v1/crud/kid1', { email: 'kid1@x', password: 'p', public: true });
    expectError(r, 403, "Don't have permission to create user with different role than creator");
  });

  it('a creator may create users of its own role', async () => {
    const r = await asUser(t, 'alice').post('/api/v1/crud/kid2', { email: 'kid2@x', password: 'p', role: 'user', public: true });
    expect(r.status, r.text).toBe(200);
    expect(r.body.name).toBe('kid2');
  });

  it('a creator without user_role write may not create users of another role', async () => {
    const r = await asUser(t, 'alice').post('/api/v1/crud/kid3', { email: 'kid3@x', password: 'p', role: 'admin', public: true });
    expectError(r, 403, "Don't have permission to create user with different role than creator");
  });

  it('a private user may only be created through the private access level', async () => {
    const r = await asUser(t, 'alice').post('/api/v1/crud/kid4', { email: 'kid4@x', password: 'p', role: 'user', public: false });
    expectError(r, 403, 'You do not have permissions necessary to create a user.');
  });

  it('a user of a role that may not be private cannot be made private', async () => {
    await createUser(t, 'pubonly', 'pw', { role: 'nobody', public: true });
    expectError(await admin(t).put('/api/v1/crud/pubonly', { public: false }), 403, "User can't be private.");
  });
});
