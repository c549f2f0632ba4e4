import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { SetupAuthResult } from '../../src/cli/results.js';
import { applyAuthPlan, planAuth } from '../../src/store/auth-roles.js';

export default class EtcdSetupAuth extends BaseCommand<typeof EtcdSetupAuth, SetupAuthResult> {
  static override summary = "Create least-privilege etcd roles and users for this cluster (idempotent); optionally enable etcd authentication.";
  static override description =
    'Roles (docs/etcd-layout.md, "Roles"): alluxio-<cluster>-admin reads and writes the whole cluster prefix (operators, the CLI); ' +
    'alluxio-<cluster>-member reads config/ (workers and FUSE daemons); alluxio-<cluster>-worker-<id> and alluxio-<cluster>-fuse-<id> write only that member\'s own record (workers/<id>, clients/<id>); ' +
    'alluxio-<cluster>-reader reads membership only (alluxiofs discovery). A worker or FUSE user is named like its own role and gets member + its own role: it can run that worker but not change the mount table. ' +
    'Running it again brings roles back to exactly these permissions (others on them are revoked), grants missing roles, and changes a password only when one is given (NAME=PASSWORD); a new user without one gets a generated password, printed once. ' +
    'Run it as etcd\'s root user once authentication is on (--etcd-user root).';
  static override examples = [
    '<%= config.bin %> etcd setup-auth --admin ops=s3cret --worker w1 --worker w2 --reader discovery',
    '<%= config.bin %> etcd setup-auth --admin ops=s3cret --fuse-client fuse-host1 --enable-auth --root-password rootpw',
    '<%= config.bin %> etcd setup-auth --worker w3 --etcd-user root --etcd-password rootpw --json',
  ];
  static override flags = {
    admin: Flags.string({ multiple: true, summary: 'Operator user NAME[=PASSWORD]: readwrite on /alluxio/<cluster>/.' }),
    worker: Flags.string({ multiple: true, summary: 'Worker ID[=PASSWORD]: user alluxio-<cluster>-worker-<ID>, reads config/, writes only workers/<ID>.' }),
    'fuse-client': Flags.string({ multiple: true, summary: 'FUSE daemon ID[=PASSWORD] (run it with `fuse mount --id ID`): user alluxio-<cluster>-fuse-<ID>, reads config/, writes only clients/<ID>.' }),
    reader: Flags.string({ multiple: true, summary: 'Discovery user NAME[=PASSWORD] (alluxiofs): reads workers/ and clients/ only.' }),
    'enable-auth': Flags.boolean({ default: false, summary: 'Enable etcd authentication afterwards (creates the root user with --root-password if missing).' }),
    'root-password': Flags.string({ summary: 'Password for a root user created by --enable-auth.' }),
  };

  async run(): Promise<SetupAuthResult> {
    const { flags } = await this.parseInput();
    const conn = this.etcd();
    const plan = planAuth(conn.layout, { admins: flags.admin ?? [], workers: flags.worker ?? [], fuseClients: flags['fuse-client'] ?? [], readers: flags.reader ?? [] });
    const result = await applyAuthPlan(conn, plan, { enable: flags['enable-auth'], rootPassword: flags['root-password'] });
    if (!this.jsonEnabled()) {
      for (const r of result.roles) {
        const grants = r.grants.map((g) => `${g.access.toLowerCase()} ${g.key}${g.prefix ? '*' : ''}`).join(', ');
        this.say(`role ${r.name}: ${grants}${r.created ? ' (created)' : ''}${r.revoked ? ` (${r.revoked} other permission${r.revoked === 1 ? '' : 's'} revoked)` : ''}`);
      }
      for (const u of result.users) {
        this.say(`user ${u.name} (${u.kind}${u.id ? ` ${u.id}` : ''}): roles ${u.roles.join(', ')}${u.created ? ' (created)' : ''}${u.generatedPassword ? `; password: ${u.generatedPassword}` : ''}`);
      }
      this.say(
        result.authEnabled === true
          ? `etcd authentication is on${result.authWasEnabled === false ? ' (enabled now)' : ''}`
          : result.authEnabled === false
            ? 'etcd authentication is off (pass --enable-auth to turn it on)'
            : 'etcd authentication: state unknown (this etcd has no AuthStatus); pass --enable-auth to make sure it is on',
      );
    }
    return { cluster: conn.layout.cluster, ...result };
  }
}
