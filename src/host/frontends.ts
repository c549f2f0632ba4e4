/**
 * THE registry of front ends hosted by a worker process. Explicit on purpose: each front end
 * plugs in here, in one line, and nowhere else.
 *
 *  - s3:   the request listener for the S3 port (--s3-port, default 29998).
 *          createS3Handler(ctx) from src/frontends/s3/server.ts.
 *  - rest: a handler for the REST port (--rest-port, default 28080) for every path the
 *          worker itself does not serve (/healthz, /readyz, /metrics, /api/v1/status are
 *          the worker's). It answers `true` when it handled the request.
 *          The REST/FSSpec handler from src/frontends/rest/.
 *  - ufs:  how a mount becomes a UfsAdapter (the worker keeps one per URI + options in a
 *          UfsRegistry, src/ufs/registry.ts; a replaced one closes after a grace period).
 *          The UFS adapter factory (file://, s3://) from src/ufs/registry.ts.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ParsedMount } from '../domain/mounts.js';
import type { FrontendContext } from '../frontends/context.js';
import type { UfsAdapter } from '../ufs/types.js';
import { createS3Handler } from '../frontends/s3/server.js';
import { restHandlerFor } from '../frontends/rest/server.js';
import { createUfsAdapter } from '../ufs/registry.js';

export type RestHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface FrontendRegistry {
  s3(ctx: FrontendContext): RequestListener;
  rest(ctx: FrontendContext): RestHandler;
  ufs(mount: ParsedMount): UfsAdapter;
}

export const frontends: FrontendRegistry = {
  s3: (ctx) => createS3Handler(ctx), // <- S3 SLOT (options from ALLUXIO_S3_* env, see server.ts)
  rest: (ctx) => restHandlerFor(ctx), // <- REST/FSSpec SLOT (src/frontends/rest/server.ts, docs/rest-api.md)
  // <- UFS SLOT. The worker caches adapters by URI + options only, so the adapter must not
  // bake in the read-only flag: every front end enforces it per request from its snapshot.
  ufs: (mount) => createUfsAdapter({ ...mount, readOnly: false }),
};
