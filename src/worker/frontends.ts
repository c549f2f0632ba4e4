/**
 * THE registry of front ends hosted by a worker process. Explicit on purpose: each front end
 * plugs in here, in one line, and nowhere else.
 *
 *  - s3:   the request listener for the S3 port (--s3-port, default 29998).
 *          SLOT: the S3 work replaces `notImplementedS3` with `createS3Handler(ctx)` from
 *          src/frontends/s3/server.ts.
 *  - rest: a handler for the REST port (--rest-port, default 28080) for every path the
 *          worker itself does not serve (/healthz, /readyz, /metrics, /api/v1/status are
 *          the worker's). It answers `true` when it handled the request.
 *          SLOT: the FSSpec/REST work sets it to its handler from src/frontends/rest/.
 *  - ufs:  how a mount becomes a UfsAdapter (the worker keeps one per URI + options in a
 *          UfsRegistry, src/ufs/registry.ts; a replaced one closes after a grace period).
 *          SLOT: the UFS adapters (file://, s3://) plug their factory in here.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { AlluxioError } from '../domain/errors.js';
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

function notImplementedS3(_ctx: FrontendContext): RequestListener {
  return (_req, res) => {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code><Message>The S3 API is not available in this build of the worker.</Message></Error>';
    res.writeHead(501, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

function noRestApi(_ctx: FrontendContext): RestHandler {
  return () => false;
}

function noUfs(mount: ParsedMount): UfsAdapter {
  throw new AlluxioError('Internal', `no UFS adapter is registered in this worker for ${mount.ufsUri}`);
}

export const frontends: FrontendRegistry = {
  s3: (ctx) => createS3Handler(ctx), // <- S3 SLOT (options from ALLUXIO_S3_* env, see server.ts)
  rest: (ctx) => restHandlerFor(ctx), // <- REST/FSSpec SLOT (src/frontends/rest/server.ts, docs/rest-api.md)
  // <- UFS SLOT. The worker caches adapters by URI + options only, so the adapter must not
  // bake in the read-only flag: every front end enforces it per request from its snapshot.
  ufs: (mount) => createUfsAdapter({ ...mount, readOnly: false }),
};
