/** Bounds on the work the node takes on at once. */
import type { LoadShedder } from '../resilience/index.js';
import { sendError } from './respond.js';
import type { RequestContext } from './router.js';

/** API work is bounded; past the bound a request is refused before anything of its body is read. */
export function shed(shedder: LoadShedder, handle: (ctx: RequestContext) => Promise<void>): (ctx: RequestContext) => Promise<void> {
  return async (ctx) => {
    if (!shedder.tryAcquire()) {
      sendError(ctx.res, 503, 'overloaded', 'the node is at capacity; retry later', { 'retry-after': '1', connection: 'close' });
      ctx.req.resume();
      return;
    }
    try {
      await handle(ctx);
    } finally {
      shedder.release();
    }
  };
}
