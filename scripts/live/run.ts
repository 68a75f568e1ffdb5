// The functions run in-process, as Function Compute would run them (event as a Buffer, an FC-shaped context with
// the configured credentials), and the cleanup a live run (or the sweep) does: take back every share of what the
// run made through the functions themselves, then delete it. Only resources carrying the run tag are touched.
import { handler as onTag } from '../../functions/on-tag/index';
import { handler as share } from '../../functions/share/index';
import { handler as reconcile } from '../../functions/reconcile/index';
import type { FcContext } from '../../shared/runtime';
import { LiveClient, SHARE_ROLES, kindOf, waitFor } from './cloud';
import type { LiveConfig } from './config';
import type { LiveReport } from './report';

type Handler = (event: unknown, context: FcContext) => Promise<any>;
const handlers: Record<'on-tag' | 'share' | 'reconcile', Handler> = { 'on-tag': onTag, share, reconcile };

let invocations = 0;

/** Invoke a function the way FC does. Every error code in its result goes to the report. */
export async function invoke(
  cfg: LiveConfig,
  fn: keyof typeof handlers,
  event: unknown,
  report?: LiveReport,
): Promise<any> {
  const context: FcContext = {
    requestId: `live-${cfg.runId}-${++invocations}`,
    region: cfg.region,
    credentials: { ...cfg.functionCreds },
    function: { name: `ecs-share-${fn}`, timeout: 900 },
  };
  const result = await handlers[fn](Buffer.from(JSON.stringify(event)), context);
  for (const e of result?.errors ?? [])
    report?.error(`function ${fn}`, 'ecs-share', String(e.outcome ?? 'error'), String(e.code ?? 'unknown'));
  return result;
}

/** The share tags a run writes (and the sweep removes): share-with, share-with.N, share-until. */
export const isShareTag = (key: string) => /^share-with(\.\d+)?$|^share-until$/.test(key);

export interface RunResources {
  /** Owner side, deleted images first, then snapshots, then disks. */
  images: string[];
  snapshots: string[];
  disks: string[];
  /** Recipient side: disks made from the shared snapshot, copies of the shared image. */
  recipientDisks: string[];
  recipientImages: string[];
}

export const noResources = (): RunResources => ({
  images: [],
  snapshots: [],
  disks: [],
  recipientDisks: [],
  recipientImages: [],
});

/**
 * Undo a run: remove the share tags of its snapshots and images and let `share` take their shares back (read back:
 * no ecs-share resource share, no image account left), optionally a reconcile pass so the role trim drops the run's
 * trust grants, then delete everything in `res`. Every step is tried; the failures are returned, never thrown.
 */
export async function cleanUp(
  cfg: LiveConfig,
  owner: LiveClient,
  recipient: LiveClient | undefined,
  res: RunResources,
  log: (line: string) => void = () => undefined,
  grants: string[] = [],
): Promise<string[]> {
  const failures: string[] = [];
  const step = async (what: string, fn: () => Promise<unknown>) => {
    const t0 = Date.now();
    try {
      await fn();
      log(`ok   ${what} (${Date.now() - t0} ms)`);
    } catch (e) {
      failures.push(`${what}: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
      log(`FAIL ${what}: ${(e as Error).message}`);
    }
  };
  const patience = { ...cfg, timeoutMs: Math.min(cfg.timeoutMs, 10 * 60_000) };
  for (const id of [...res.images, ...res.snapshots]) {
    await step(`take back ${id}`, async () => {
      const tags = await owner.tags(id);
      await owner.untag(id, Object.keys(tags).filter(isShareTag));
      const result = await invoke(cfg, 'share', { resourceId: id, region: cfg.region });
      const bad = (result?.errors ?? []).filter((e: any) => e.outcome === 'failed');
      if (bad.length) throw new Error(`share answered ${JSON.stringify(bad)}`);
      await waitFor(
        `${id} to be shared with nobody`,
        async () =>
          !(await owner.toolShare(id)) && (kindOf(id) !== 'image' || (await owner.imageShareAccounts(id)).length === 0),
        patience,
      );
    });
  }
  if (cfg.reconcile) {
    await step(`reconcile ${cfg.region} (role trim)`, () =>
      invoke(cfg, 'reconcile', { action: 'reconcile', regions: [cfg.region] }),
    );
    // Nothing of the run's is shared any more, so the trim must have dropped its targets from both share roles.
    for (const role of SHARE_ROLES) {
      await step(`no grant of the run left in ${role}`, async () => {
        const left = JSON.stringify((await owner.trustPolicy(role))?.Statement ?? []);
        const held = grants.filter((g) => left.includes(g));
        if (held.length) throw new Error(`its trust still names ${held.join(', ')}`);
      });
    }
  }
  for (const id of res.recipientImages)
    if (recipient) await step(`delete recipient image ${id}`, () => deleteWhenAllowed(recipient, id, patience));
  for (const id of res.recipientDisks)
    if (recipient) await step(`delete recipient disk ${id}`, () => deleteWhenAllowed(recipient, id, patience));
  for (const id of res.images) await step(`delete image ${id}`, () => deleteWhenAllowed(owner, id, patience));
  for (const id of res.snapshots) await step(`delete snapshot ${id}`, () => deleteWhenAllowed(owner, id, patience));
  for (const id of res.disks) await step(`delete disk ${id}`, () => deleteWhenAllowed(owner, id, patience));
  return failures;
}

/** Delete, retrying while the resource is still busy (creating, a share being disassociated); gone counts as done. */
async function deleteWhenAllowed(
  c: LiveClient,
  id: string,
  cfg: Pick<LiveConfig, 'timeoutMs' | 'pollMs'>,
): Promise<void> {
  const kind = kindOf(id);
  await waitFor(
    `${id} to be deleted`,
    async () => {
      try {
        if (kind === 'image') await c.deleteImage(id);
        else if (kind === 'snapshot') await c.deleteSnapshot(id);
        else await c.deleteDisk(id);
        return true;
      } catch (e) {
        const code = String((e as { code?: string }).code ?? '');
        // A code about the caller (a wrong key) is no answer about the resource: stop there.
        if (/^(InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden|NoPermission)/.test(code)) throw e;
        if (/NotFound/.test(code)) return true;
        return false;
      }
    },
    { timeoutMs: cfg.timeoutMs, pollMs: Math.max(cfg.pollMs, 200) },
  );
}
