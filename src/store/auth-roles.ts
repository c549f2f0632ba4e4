/**
 * Least-privilege etcd roles for one cluster (docs/etcd-layout.md, "Roles"), and applying
 * them idempotently (`alluxio etcd setup-auth`).
 *
 *   alluxio-<c>-admin        readwrite  /alluxio/<c>/            (prefix)  operators, `alluxio` CLI writes
 *   alluxio-<c>-member       read       /alluxio/<c>/config/     (prefix)  workers and FUSE daemons
 *                            read       /alluxio/<c>/schema-version
 *                            read       /alluxio/<c>/workers/    (prefix)  (peers)
 *   alluxio-<c>-worker-<id>  readwrite  /alluxio/<c>/workers/<id>          one worker's own record
 *                            readwrite  /alluxio/<c>/objects/etag/ (prefix) declared multipart ETags
 *   alluxio-<c>-fuse-<id>    readwrite  /alluxio/<c>/clients/<id>          one FUSE daemon's own record
 *   alluxio-<c>-reader       read       /alluxio/<c>/workers/    (prefix)  `alluxiofs` discovery
 *                            read       /alluxio/<c>/clients/    (prefix)
 *
 * etcd permissions are per key or per prefix; membership records live outside `config/`,
 * so a worker can write its own record without any right on the mount table. The planning
 * half is pure; `applyAuthPlan` talks to etcd (as a user with the root role, or before auth
 * is enabled).
 */
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { AlluxioError } from '../domain/errors.js';
import type { EtcdConnection } from './connection.js';
import { prefixEnd } from './gateway.js';
import type { Layout } from './layout.js';

export type Access = 'Read' | 'Write' | 'Readwrite';
export interface Grant {
  access: Access;
  key: string;
  /** Whole prefix (true) or exactly this key. */
  prefix: boolean;
}
export interface RolePlan {
  name: string;
  grants: Grant[];
}
export type UserKind = 'admin' | 'worker' | 'fuse' | 'reader';
export interface UserPlan {
  name: string;
  kind: UserKind;
  /** The member id for workers and FUSE clients. */
  id?: string;
  roles: string[];
  /** Set or change to this; undefined: keep an existing user's password, generate one for a new user. */
  password?: string;
}
export interface AuthPlan {
  roles: RolePlan[];
  users: UserPlan[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** `NAME` or `NAME=PASSWORD` (the password may contain "="). */
export function parseUserSpec(spec: string, flag: string): { name: string; password?: string } {
  const i = spec.indexOf('=');
  const name = i < 0 ? spec : spec.slice(0, i);
  if (!ID.test(name)) throw new AlluxioError('InvalidArgument', `${flag} "${name}": a name is letters, digits, ".", "_", "-" (at most 128), optionally followed by =PASSWORD`);
  if (i >= 0 && spec.length === i + 1) throw new AlluxioError('InvalidArgument', `${flag} ${name}=: the password is empty`);
  return i < 0 ? { name } : { name, password: spec.slice(i + 1) };
}

export function roleNames(layout: Layout) {
  const base = `alluxio-${layout.cluster}`;
  return {
    admin: `${base}-admin`,
    member: `${base}-member`,
    reader: `${base}-reader`,
    worker: (id: string) => `${base}-worker-${id}`,
    fuse: (id: string) => `${base}-fuse-${id}`,
  };
}

/** The roles and users for the given names (pure). Worker/FUSE users are named like their own role. */
export function planAuth(layout: Layout, who: { admins: string[]; workers: string[]; fuseClients: string[]; readers: string[] }): AuthPlan {
  const n = roleNames(layout);
  const roles: RolePlan[] = [
    { name: n.admin, grants: [{ access: 'Readwrite', key: layout.root, prefix: true }] },
    {
      name: n.member,
      grants: [
        { access: 'Read', key: layout.configPrefix, prefix: true },
        { access: 'Read', key: layout.schemaKey, prefix: false },
        { access: 'Read', key: layout.workersPrefix, prefix: true },
      ],
    },
    {
      name: n.reader,
      grants: [
        { access: 'Read', key: layout.workersPrefix, prefix: true },
        { access: 'Read', key: layout.clientsPrefix, prefix: true },
      ],
    },
  ];
  const users: UserPlan[] = [];
  const seen = new Set<string>();
  const addUser = (u: UserPlan) => {
    if (seen.has(u.name)) throw new AlluxioError('InvalidArgument', `user ${u.name} is named twice`);
    seen.add(u.name);
    users.push(u);
  };
  for (const spec of who.admins) {
    const { name, password } = parseUserSpec(spec, '--admin');
    addUser({ name, kind: 'admin', roles: [n.admin], ...(password !== undefined ? { password } : {}) });
  }
  for (const spec of who.readers) {
    const { name, password } = parseUserSpec(spec, '--reader');
    addUser({ name, kind: 'reader', roles: [n.reader], ...(password !== undefined ? { password } : {}) });
  }
  for (const [kinds, flag, own, key] of [
    [who.workers, '--worker', n.worker, (id: string) => layout.workerKey(id)],
    [who.fuseClients, '--fuse-client', n.fuse, (id: string) => layout.clientKey(id)],
  ] as const) {
    for (const spec of kinds) {
      const { name: id, password } = parseUserSpec(spec, flag);
      const role = own(id);
      const grants: Grant[] = [{ access: 'Readwrite', key: key(id), prefix: false }];
      // Workers complete multipart uploads, and declare their ETags (src/cluster/object-etags.ts).
      if (flag === '--worker') grants.push({ access: 'Readwrite', key: layout.objectEtagsPrefix, prefix: true });
      roles.push({ name: role, grants });
      addUser({ name: role, kind: flag === '--worker' ? 'worker' : 'fuse', id, roles: [n.member, role], ...(password !== undefined ? { password } : {}) });
    }
  }
  return { roles, users };
}

export interface AppliedUser {
  name: string;
  kind: UserKind;
  id?: string;
  roles: string[];
  created: boolean;
  /** Only for a user created here without a given password: shown once. */
  generatedPassword?: string;
}
export interface AuthResult {
  roles: { name: string; created: boolean; grants: Grant[]; revoked: number }[];
  users: AppliedUser[];
  /** null: not known (etcd before 3.5 has no AuthStatus) and not asked to enable. */
  authEnabled: boolean | null;
  authWasEnabled: boolean | null;
}

const rangeEndOf = (g: Grant): Buffer => (g.prefix ? prefixEnd(g.key) : Buffer.alloc(0));
const grantId = (key: Buffer, end: Buffer) => `${key.toString('hex')}:${end.toString('hex')}`;

/**
 * Create or bring up to date every role (exactly the planned permissions: others on these
 * roles are revoked) and user (roles granted; a password only when given or new), then,
 * if asked, enable authentication (creating the root user with `rootPassword` if needed).
 */
export async function applyAuthPlan(conn: EtcdConnection, plan: AuthPlan, opts: { enable: boolean; rootPassword?: string | undefined }): Promise<AuthResult> {
  // AuthStatus is etcd 3.5+; on older servers whether auth was on is not known (null).
  const authWasEnabled = await conn.call('read auth status', (c) => c.auth.authStatus()).then(
    (s): boolean | null => Boolean(s.enabled),
    (e: unknown) => {
      if (e instanceof AlluxioError && e.code === 'EtcdRejected' && /UNIMPLEMENTED/.test(e.message)) return null;
      throw e;
    },
  );
  const existingRoles = new Set(await conn.call('list roles', (c) => c.getRoles()).then((rs) => rs.map((r) => r.name)));
  const existingUsers = new Set(await conn.call('list users', (c) => c.getUsers()).then((us) => us.map((u) => u.name)));
  const result: AuthResult = { roles: [], users: [], authEnabled: authWasEnabled, authWasEnabled };

  for (const r of plan.roles) {
    const created = !existingRoles.has(r.name);
    if (created) await conn.call(`create role ${r.name}`, (c) => c.role(r.name).create());
    const have = created ? [] : (await conn.call(`read role ${r.name}`, (c) => c.auth.roleGet({ role: r.name }))).perm;
    const wanted = new Set(r.grants.map((g) => grantId(Buffer.from(g.key), rangeEndOf(g))));
    let revoked = 0;
    for (const p of have) {
      const key = Buffer.from(p.key);
      const end = Buffer.from(p.range_end ?? '');
      if (!wanted.has(grantId(key, end))) {
        await conn.call(`revoke a permission of ${r.name}`, (c) => c.auth.roleRevokePermission({ role: r.name, key, range_end: end }));
        revoked++;
      }
    }
    for (const g of r.grants) {
      await conn.call(`grant ${g.access} on ${g.key} to ${r.name}`, (c: Etcd3) => c.auth.roleGrantPermission({ name: r.name, perm: { permType: g.access, key: Buffer.from(g.key), range_end: rangeEndOf(g) } }));
    }
    result.roles.push({ name: r.name, created, grants: r.grants, revoked });
  }

  for (const u of plan.users) {
    const created = !existingUsers.has(u.name);
    let generatedPassword: string | undefined;
    if (created) {
      const password = u.password ?? (generatedPassword = randomBytes(18).toString('base64url'));
      await conn.call(`create user ${u.name}`, (c) => c.user(u.name).create(password));
    } else if (u.password !== undefined) {
      await conn.call(`set the password of ${u.name}`, (c) => c.user(u.name).setPassword(u.password!));
    }
    for (const role of u.roles) await conn.call(`grant role ${role} to ${u.name}`, (c) => c.user(u.name).addRole(role));
    result.users.push({ name: u.name, kind: u.kind, ...(u.id ? { id: u.id } : {}), roles: u.roles, created, ...(generatedPassword ? { generatedPassword } : {}) });
  }

  if (opts.enable && authWasEnabled !== true) {
    if (!existingUsers.has('root')) {
      if (!opts.rootPassword) {
        throw new AlluxioError('InvalidArgument', 'enabling etcd authentication needs a root user; pass --root-password to create it (the roles and users above were created; nothing else changed)');
      }
      await conn.call('create user root', (c) => c.user('root').create(opts.rootPassword!));
    }
    if (!existingRoles.has('root')) await conn.call('create role root', (c) => c.role('root').create()).catch(() => undefined);
    await conn.call('grant role root to root', (c) => c.user('root').addRole('root'));
    await conn.call('enable authentication', (c) => c.auth.authEnable());
    result.authEnabled = true;
  }
  return result;
}
