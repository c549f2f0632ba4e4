import { Args, Flags } from '@oclif/core';
import pino from 'pino';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { FuseMountResult } from '../../src/cli/results.js';
import { parseTimerDuration } from '../../src/cli/duration.js';
import { AlluxioError, isAlluxioError } from '../../src/domain/errors.js';
import { DEFAULT_FUSE_ROOT } from '../../src/domain/resolver.js';
import { FuseDaemon } from '../../src/host/fuse-daemon.js';
import { canonicalMountpoint, fusermountUnmount } from '../../src/frontends/fuse/mountpoint.js';
import { prepareMountpoint, startInBackground, tellParent } from '../../src/host/fuse-lifecycle.js';
import { checkMaxStaleness } from '../../src/host/config-feed.js';

const READY_ENV = 'ALLUXIO_FUSE_READY_IPC';

export default class FuseMount extends BaseCommand<typeof FuseMount, FuseMountResult> {
  static override summary = 'Mount the Alluxio namespace at DIR with FUSE (a daemon resolving through the same rules as S3 and FSSpec).';
  static override description =
    'Loads the mounts and rules from etcd and keeps watching them: a new mount or rule is visible to the next system call, with no remount. The root lists the mounts and top-level virtual directories of rules; read-only mounts refuse writes (EROFS); paths outside every mount are ENOENT. Runs in the foreground until SIGINT/SIGTERM or `alluxio fuse unmount DIR` (then unmounts cleanly); --daemon detaches it. A stale mount left by a crashed daemon ("Transport endpoint is not connected") is cleaned up first. Needs /dev/fuse and root (or fusermount).';
  static override examples = [
    '<%= config.bin %> fuse mount /mnt/alluxio/fuse',
    '<%= config.bin %> fuse mount /mnt/alluxio/fuse --daemon --log-file /var/log/alluxio-fuse.log',
    'ls /mnt/alluxio/fuse/ && cat /mnt/alluxio/fuse/data/train.csv',
  ];
  static override args = {
    dir: Args.string({ required: false, default: DEFAULT_FUSE_ROOT, description: `Mount point (created when missing; default ${DEFAULT_FUSE_ROOT}).` }),
  };
  static override flags = {
    daemon: Flags.boolean({ aliases: ['background'], default: false, summary: 'Detach: return once mounted, leaving the daemon running in the background (logs to --log-file).' }),
    'log-file': Flags.string({ summary: 'Log file of a --daemon (default: <tmpdir>/alluxio-fuse-<dir>.log). In the foreground logs go to stderr.' }),
    'log-level': Flags.string({ default: 'info', options: ['trace', 'debug', 'info', 'warn', 'error'], summary: 'Log level (JSON lines, pino).' }),
    'attr-cache': Flags.string({ default: '1s', summary: 'Reuse a stat or a listing for this long (within one config revision; a config change drops it at once). 0 disables.' }),
    'read-ahead': Flags.integer({ default: 8, min: 1, max: 256, summary: 'Largest read-ahead window per open file, MiB (sequential reads fetch the UFS in windows of up to this size).' }),
    'max-staleness': Flags.string({ summary: 'Answer EAGAIN when the config is older than this because etcd is unreachable (e.g. 2m; at least 1s). Default: serve the last good config.' }),
    'ready-timeout': Flags.string({ default: '15s', summary: 'How long to wait for the config from etcd before giving up (exit 5).' }),
    id: Flags.string({ summary: 'Membership id of this FUSE daemon (default fuse-<hostname>-<pid>): listed by `alluxio worker list`, counted and named by --wait.' }),
    'kernel-cache': Flags.boolean({
      default: false,
      summary: "Keep file pages in the kernel between opens while a file's size and mtime are unchanged (libfuse auto_cache): warm reads never reach the daemon. For data that is not rewritten in place: a file replaced by one of the same size and mtime, or a path re-pointed by a rule to such a file, can be read from the old pages (docs/fuse.md).",
    }),
    'tls-ca': Flags.string({ summary: "PEM CA bundle of the workers' HTTPS certificates, for reads through workers that serve HTTPS only (default: the system CAs and NODE_EXTRA_CA_CERTS)." }),
    'allow-other': Flags.boolean({
      default: false,
      summary: 'Let other users access the mount (FUSE allow_other), as the modes it shows allow (default_permissions): with the default --umask they read and change nothing.',
    }),
    umask: Flags.string({
      default: '022',
      summary: 'Octal bits taken away from the modes the mount shows (files 0666, directories 0777 before it): 022 gives 0644/0755; 000 with --allow-other lets every local user write.',
    }),
    'fuse-debug': Flags.boolean({ default: false, hidden: true, summary: 'libfuse debug output.' }),
  };

  async run(): Promise<FuseMountResult> {
    const { flags, args } = await this.parseInput();
    const dir = canonicalMountpoint(String(args.dir));
    if (dir === '/') throw new AlluxioError('InvalidArgument', 'cannot mount over "/"; choose a directory such as /mnt/alluxio/fuse');
    const attrCacheMs = parseTimerDuration(flags['attr-cache'], '--attr-cache');
    const readyTimeoutMs = parseTimerDuration(flags['ready-timeout'], '--ready-timeout');
    const maxStalenessMs = flags['max-staleness'] ? parseTimerDuration(flags['max-staleness'], '--max-staleness') : 0;
    checkMaxStaleness(maxStalenessMs, 'FUSE daemon');
    if (!/^0?[0-7]{1,3}$/.test(flags.umask)) throw new AlluxioError('InvalidArgument', `--umask "${flags.umask}" must be octal, such as 022 or 000`);
    const umask = parseInt(flags.umask, 8);

    if (flags.daemon) {
      const bg = await startInBackground(dir, flags['log-file'], readyTimeoutMs, READY_ENV);
      this.say(`Mounted alluxio at ${dir} (revision ${bg.revision}, daemon pid ${bg.pid}, log ${bg.logFile}). Stop with: alluxio fuse unmount ${dir}`);
      return { mountpoint: dir, ...bg };
    }

    const log = pino({ name: 'alluxio-fuse', level: flags['log-level'] }, pino.destination(2));
    const daemonOf = async () => ({ stale: await prepareMountpoint(dir, (msg) => this.note(msg)), daemon: await FuseDaemon.start({
      conn: this.etcd(),
      mountpoint: dir,
      log,
      attrCacheMs,
      kernelCache: flags['kernel-cache'],
      ...(flags['tls-ca'] ? { tlsCaFile: flags['tls-ca'] } : {}),
      readAhead: { maxWindow: flags['read-ahead'] * 1024 * 1024 },
      maxStalenessMs,
      readyTimeoutMs,
      allowOther: flags['allow-other'],
      umask,
      debug: flags['fuse-debug'],
      ...(flags.id ? { id: flags.id } : {}),
    }) });
    let started: Awaited<ReturnType<typeof daemonOf>>;
    try {
      started = await daemonOf();
    } catch (e) {
      // started by `--daemon`: its parent reports this error, with its code and exit status
      if (isAlluxioError(e)) tellParent(READY_ENV, { failed: { code: e.code, message: e.message } });
      throw e;
    }
    const { stale, daemon } = started;
    const revision = daemon.revision;
    log.info({ mountpoint: dir, revision, pid: process.pid }, 'fuse: mounted');
    tellParent(READY_ENV, { ready: true, mountpoint: dir, revision, pid: process.pid, staleCleaned: stale });
    this.say(`Mounted alluxio at ${dir} (revision ${revision}). Stop with Ctrl-C or: alluxio fuse unmount ${dir}`);

    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) {
        log.warn({ signal: sig }, 'fuse: second signal, detaching now');
        void fusermountUnmount(dir, { lazy: true }).finally(() => process.exit(1));
        return;
      }
      signalled = true;
      void daemon.stop(`signal ${sig}`);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const reason = await daemon.done;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    log.info({ mountpoint: dir, reason }, 'fuse: unmounted');
    this.say(`Unmounted ${dir} (${reason})`);
    // grpc channels and the libfuse thread may linger: the command is done.
    setTimeout(() => process.exit(process.exitCode ?? 0), 300).unref();
    return { mountpoint: dir, revision, stopped: reason, staleCleaned: stale };
  }
}
