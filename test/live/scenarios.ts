// The live scenarios: every end-to-end behaviour that needs no fault injection, run through nothing but the public
// APIs, so they hold against real Alibaba Cloud (live.test.ts) and against the emulator as a plain server
// (emulator.test.ts, in CI, so this suite cannot rot). The run creates its own disk -> snapshot -> image tagged
// with the run id, runs the functions in-process, judges from the recipient's side, and cleans up in afterAll.
// Scenarios that need faults (throttling, crashes, lost answers, races) stay emulator-only in test/e2e.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyProductEnv, type LiveConfig } from '../../scripts/live/config';
import { LiveClient, STATUS_TAG, statusText, waitFor } from '../../scripts/live/cloud';
import { LiveReport } from '../../scripts/live/report';
import { cleanUp, invoke, noResources, type RunResources } from '../../scripts/live/run';

interface LiveSetup {
  cfg: LiveConfig;
  stop?: () => Promise<void>;
}

type Result = {
  resourceId: string;
  outcome: string;
  actions?: Array<{ kind: string }>;
  error?: { code: string };
  pending?: string[];
};

const only = (summary: any, id: string): Result => {
  const r = (summary?.results ?? []).filter((x: Result) => x.resourceId === id);
  // Unchanged resources are only counted, not listed.
  if (r.length === 0)
    return { resourceId: id, outcome: summary?.counts?.unchanged ? 'unchanged' : 'missing', actions: [] };
  return r[r.length - 1];
};

/** A TagResources ActionTrail event as EventBridge delivers it (the shape of events/on-tag-tagresources-snapshot.json). */
function tagEvent(cfg: LiveConfig, ownerUid: string, id: string, type: 'snapshot' | 'image', value: string) {
  return {
    id: `live-${cfg.runId}-${id}`,
    source: 'acs.ecs',
    specversion: '1.0',
    type: 'ecs:ActionTrail:ApiCall',
    subject: `acs.ecs:${cfg.region}:${ownerUid}:${type}/${id}`,
    time: new Date().toISOString(),
    aliyunaccountid: ownerUid,
    aliyunregionid: cfg.region,
    data: {
      eventName: 'TagResources',
      eventSource: 'ecs.aliyuncs.com',
      serviceName: 'Ecs',
      acsRegion: cfg.region,
      eventRW: 'Write',
      requestParameters: {
        RegionId: cfg.region,
        ResourceType: type,
        'ResourceId.1': id,
        'Tag.1.Key': 'share-with',
        'Tag.1.Value': value,
      },
    },
  };
}

export function liveScenarios(
  name: string,
  setup: () => Promise<LiveSetup>,
  opts: { folder: boolean; rd: boolean; long: number },
): void {
  describe(name, () => {
    let cfg: LiveConfig;
    let stop: (() => Promise<void>) | undefined;
    let report: LiveReport;
    let owner: LiveClient;
    let recipient: LiveClient;
    let ownerUid: string;
    let recipientUid: string;
    let restoreEnv: () => void = () => undefined;
    const res: RunResources = noResources();
    let snapshotId = '';
    let imageId = '';
    const T = opts.long;
    const share = (id: string) =>
      invoke(cfg, 'share', { resourceId: id, region: cfg.region }, report).then((x) => only(x, id));

    /**
     * Share, and while the outcome is pending (an association still Associating; an account outside the directory
     * yet to accept its invitation, which the recipient then does) share again, as EventBridge's redelivery and the
     * timer would: the real cloud's delays are unconfirmed. `afterFirst` looks at the owner's side in between.
     */
    async function shareSettled(
      id: string,
      what: string,
      afterFirst?: (first: Result) => Promise<void>,
    ): Promise<Result> {
      const t0 = Date.now();
      let r = await share(id);
      report.observe({
        question: `How long a share call takes (${what}; settle pauses and association wait included)`,
        observed: `share -> ${r.outcome}`,
        ms: Date.now() - t0,
      });
      await afterFirst?.(r);
      if (r.outcome !== 'pending') return r;
      let accepted = 0;
      await waitFor(
        `${id} to leave pending (${r.error?.code ?? ''})`,
        async () => {
          accepted += await recipient.acceptInvitations();
          r = await share(id);
          return r.outcome !== 'pending';
        },
        cfg,
      );
      report.observe({
        question: `How long a share stays pending (${what})`,
        observed: `pending ${accepted ? `until the recipient accepted ${accepted} invitation(s)` : 'until its associations were Associated'}, then ${r.outcome}`,
        ms: Date.now() - t0,
      });
      return r;
    }

    beforeAll(async () => {
      ({ cfg, stop } = await setup());
      report = new LiveReport(cfg.runId, cfg.endpoint ? `the endpoint ${cfg.endpoint}` : `Alibaba Cloud ${cfg.region}`);
      restoreEnv = applyProductEnv(cfg);
      owner = new LiveClient('owner', cfg, cfg.owner, report);
      recipient = new LiveClient('recipient', cfg, cfg.recipient, report);
      ownerUid = await owner.accountId();
      recipientUid = await recipient.accountId();
      if (ownerUid === recipientUid) throw new Error('the owner and recipient credentials belong to the same account');
      const keyState = await owner.keyState(cfg.kmsKeyId);
      if (keyState !== 'Enabled')
        throw new Error(`ECS_SHARE_LIVE_KMS_KEY_ID ${cfg.kmsKeyId} is ${keyState}, not Enabled`);

      let diskId = cfg.diskId;
      if (!diskId) {
        diskId = await owner.createDisk({ kmsKeyId: cfg.kmsKeyId });
        res.disks.push(diskId);
        await waitFor(
          `disk ${diskId} to be Available`,
          async () => (await owner.disk(diskId!))?.Status === 'Available',
          cfg,
        );
      }
      const t0 = Date.now();
      snapshotId = await owner.createSnapshot(diskId).catch((e) => {
        // ECS may refuse a disk never attached to an instance: the fix is an existing disk.
        throw cfg.diskId
          ? e
          : Object.assign(
              new Error(
                `${(e as Error).message}; set ECS_SHARE_LIVE_DISK_ID to a disk encrypted with the CMK (docs/live.md)`,
              ),
              { code: (e as { code?: string }).code },
            );
      });
      res.snapshots.push(snapshotId);
      const snap = await waitFor(
        `snapshot ${snapshotId} to be accomplished`,
        async () => {
          const s = await owner.snapshot(snapshotId);
          return s?.Status === 'accomplished' && s;
        },
        cfg,
      );
      report.observe({
        question: 'How long snapshots take to be ready',
        observed: `CreateSnapshot -> accomplished`,
        ms: Date.now() - t0,
      });
      if (!snap.value.Encrypted || snap.value.KMSKeyId !== cfg.kmsKeyId) {
        throw new Error(
          `snapshot ${snapshotId} is encrypted=${snap.value.Encrypted} with ${snap.value.KMSKeyId || 'no key'}, not the CMK ${cfg.kmsKeyId}: give a disk encrypted with it`,
        );
      }
      const t1 = Date.now();
      imageId = await owner.createImage(snapshotId).catch((e) => {
        throw Object.assign(
          new Error(
            `${(e as Error).message}; the image is made from the snapshot as its system disk: ECS_SHARE_LIVE_DISK_ID may name a system disk (docs/live.md)`,
          ),
          { code: (e as { code?: string }).code },
        );
      });
      res.images.push(imageId);
      await waitFor(
        `image ${imageId} to be Available`,
        async () => (await owner.image(imageId))?.Status === 'Available',
        cfg,
      );
      report.observe({
        question: 'How long images take to be ready',
        observed: 'CreateImage (from the snapshot) -> Available',
        ms: Date.now() - t1,
      });
    }, T);

    afterAll(async () => {
      const lines: string[] = [];
      let failures: string[] = [];
      try {
        if (owner)
          failures = await cleanUp(
            cfg,
            owner,
            recipient,
            res,
            (l) => lines.push(l),
            [recipientUid, cfg.folderPath, cfg.rdId].filter((g): g is string => Boolean(g)),
          );
      } finally {
        restoreEnv();
        if (report) {
          report.observe({
            question: 'Cleanup',
            observed: failures.length
              ? `failed: ${failures.join('; ')} (run npm run live:sweep)`
              : `${lines.length} steps, all done`,
            value: lines,
          });
          const files = report.write(cfg.report);
          process.stdout.write(`live report: ${files.join(', ')}\n`);
        }
        await stop?.();
      }
      if (failures.length)
        throw new Error(
          `cleanup left things behind (npm run live:sweep -- --run ${cfg.runId}):\n${failures.join('\n')}`,
        );
    }, T);

    it(
      'a refused tag (a wildcard; an end already past) shares nothing and says why in the status tag',
      async () => {
        const roles = await owner.fingerprint([]); // the share roles' trust, record and policies

        await owner.tag(snapshotId, { 'share-with': `${recipientUid} 10000000000000*` });
        const wildcard = only(
          await invoke(cfg, 'share', { resourceId: snapshotId, region: cfg.region }, report),
          snapshotId,
        );
        await owner.tag(snapshotId, { 'share-with': recipientUid, 'share-until': '2020-01-01' });
        const expired = only(
          await invoke(cfg, 'share', { resourceId: snapshotId, region: cfg.region }, report),
          snapshotId,
        );

        expect(wildcard).toMatchObject({ outcome: 'refused', error: { code: 'Wildcard' } });
        expect(expired).toMatchObject({ outcome: 'refused', error: { code: 'Expired' } });
        expect(statusText((await owner.tags(snapshotId))[STATUS_TAG])).toBe('expired 2020-01-01');
        expect(await owner.fingerprint([])).toBe(roles);
        expect(await owner.toolShare(snapshotId)).toBeUndefined();
        expect(await recipient.seesSnapshot(snapshotId)).toBe(false);
        await owner.untag(snapshotId, ['share-until']);
      },
      T,
    );

    it(
      'a dry run returns the plan for a CMK snapshot and writes nothing',
      async () => {
        await owner.tag(snapshotId, { 'share-with': recipientUid });
        const before = await owner.fingerprint([snapshotId]);

        const summary = await invoke(
          cfg,
          'share',
          { resourceId: snapshotId, region: cfg.region, dryRun: true },
          report,
        );

        const r = only(summary, snapshotId);
        expect(summary.dryRun).toBe(true);
        expect(r.outcome).toBe('shared');
        // The role's trust and KMS policy may already admit the recipient (an earlier run, untrimmed); the share is new.
        expect(r.actions?.map((a) => a.kind)).toContain('createResourceShare');
        expect(await owner.fingerprint([snapshotId])).toBe(before);
        expect(await recipient.seesSnapshot(snapshotId)).toBe(false);
      },
      T,
    );

    it(
      'shares a CMK snapshot with the recipient account, which sees it and makes a disk from it',
      async () => {
        const r = await shareSettled(snapshotId, 'a snapshot with an account', async (first) => {
          const view = await owner.toolShare(snapshotId);
          report.observe({
            question: "How the owner sees an account's association (a pending invitation?)",
            observed: `right after the share: ${JSON.stringify(view?.targets ?? [])}; outcome ${first.outcome}`,
            value: view?.targets,
          });
        });
        const t0 = Date.now();
        expect(['shared', 'unchanged']).toContain(r.outcome);
        expect(statusText((await owner.tags(snapshotId))[STATUS_TAG])).toBe('shared 1');
        const seen = await waitFor('the recipient to see the snapshot', () => recipient.seesSnapshot(snapshotId), cfg);
        report.observe({
          question: 'How far visibility lags a snapshot share',
          observed: 'the function returned -> the recipient DescribeSnapshots lists it',
          ms: Date.now() - t0,
        });
        expect(seen.value).toBe(true);
        const asSeen = await recipient.snapshot(snapshotId);
        const sharedFrom = (asSeen?.Tags?.Tag ?? []).filter((t: any) =>
          String(t.TagKey).startsWith('acs:ecs:sharedFrom'),
        );
        report.observe({
          question: 'The recipient-side tag of a shared snapshot (acs:ecs:sharedFrom, value format inferred)',
          observed: JSON.stringify(sharedFrom),
          value: sharedFrom,
        });

        const trust = await owner.trustPolicy('AliyunECSShareEncryptSnapshotDefaultRole');
        const mine = (trust?.Statement ?? []).find((s) =>
          JSON.stringify(s.Principal ?? {}).includes(`${recipientUid}@ecs.aliyuncs.com`),
        );
        report.observe({
          question: 'The trust statement as RAM returns it',
          observed: JSON.stringify(mine ?? null),
          value: mine,
        });
        const member = await owner.attempt('resourcemanager', 'GetAccount', { AccountId: recipientUid });
        report.observe({
          question: 'The member RD path format (ResourceManager GetAccount of the recipient)',
          observed: member.ok
            ? `ResourceDirectoryPath ${member.body.Account?.ResourceDirectoryPath ?? '(none)'}, FolderId ${member.body.Account?.FolderId ?? '(none)'}`
            : `error ${member.code}`,
        });

        // Conclusive for a CMK snapshot: ECS makes the disk only if the share reached the recipient AND its KMS chain
        // (share role trust, KMS policy) lets ECS decrypt for it. A 20 GiB ESSD for a minute; deleted in afterAll.
        const t1 = Date.now();
        const disk = await recipient.attempt('ecs', 'CreateDisk', {
          RegionId: cfg.region,
          ZoneId: cfg.zone,
          SnapshotId: snapshotId,
          DiskCategory: 'cloud_essd',
          Tag: [{ Key: 'ecs-share:live-run', Value: cfg.runId }],
        });
        if (disk.ok) res.recipientDisks.push(String(disk.body.DiskId));
        report.observe({
          question: 'The recipient makes a disk from the shared CMK snapshot',
          observed: disk.ok ? `CreateDisk ok (${disk.body.DiskId})` : `CreateDisk ${disk.code}: ${disk.message}`,
          ms: Date.now() - t1,
        });
        expect(disk).toMatchObject({ ok: true });
      },
      T,
    );

    it(
      'a replay of the snapshot share writes nothing: the share command, the tag event, a reconcile pass',
      async () => {
        const before = await owner.fingerprint([snapshotId]);

        const byCommand = only(
          await invoke(cfg, 'share', { resourceId: snapshotId, region: cfg.region }, report),
          snapshotId,
        );
        const byEvent = only(
          await invoke(cfg, 'on-tag', tagEvent(cfg, ownerUid, snapshotId, 'snapshot', recipientUid), report),
          snapshotId,
        );

        // A dry-run pass over the region (reads only) lists only what would change: the run's snapshot is not in it.
        const pass = await invoke(
          cfg,
          'reconcile',
          { action: 'reconcile', regions: [cfg.region], dryRun: true },
          report,
        );

        expect(byCommand).toMatchObject({ outcome: 'unchanged', actions: [] });
        expect(byEvent).toMatchObject({ outcome: 'unchanged', actions: [] });
        expect(pass.ok).toBe(true);
        expect((pass.results ?? []).filter((x: Result) => x.resourceId === snapshotId)).toEqual([]);
        expect(await owner.fingerprint([snapshotId])).toBe(before);
      },
      T,
    );

    it(
      'shares a CMK image with the recipient account, which sees it',
      async () => {
        await owner.tag(imageId, { 'share-with': recipientUid });

        const r = await shareSettled(imageId, 'an image with an account');
        const t0 = Date.now();

        expect(r.outcome).toBe('shared');
        expect(await owner.imageShareAccounts(imageId)).toContain(recipientUid);
        await waitFor('the recipient to see the image', () => recipient.seesImage(imageId), cfg);
        report.observe({
          question: 'How far visibility lags an image share',
          observed: 'the function returned -> the recipient DescribeImages (others) lists it',
          ms: Date.now() - t0,
        });
        if (cfg.copyImage) {
          // Conclusive for the image's KMS chain, but slow and billed: only when ECS_SHARE_LIVE_COPY_IMAGE=1.
          const copy = await recipient.attempt('ecs', 'CopyImage', {
            RegionId: cfg.region,
            ImageId: imageId,
            DestinationRegionId: cfg.region,
            DestinationImageName: `ecs-share-live-copy-${cfg.runId}`,
            Tag: [{ Key: 'ecs-share:live-run', Value: cfg.runId }],
          });
          if (copy.ok) res.recipientImages.push(String(copy.body.ImageId));
          report.observe({
            question: 'The recipient copies the shared CMK image',
            observed: copy.ok ? `CopyImage ok (${copy.body.ImageId})` : `CopyImage ${copy.code}: ${copy.message}`,
          });
          expect(copy).toMatchObject({ ok: true });
        }
        const before = await owner.fingerprint([imageId]);
        const replay = only(await invoke(cfg, 'share', { resourceId: imageId, region: cfg.region }, report), imageId);
        expect(replay).toMatchObject({ outcome: 'unchanged', actions: [] });
        expect(await owner.fingerprint([imageId])).toBe(before);
      },
      T,
    );

    it(
      'untagging takes both back: the recipient no longer sees the snapshot or the image',
      async () => {
        await owner.untag(snapshotId, ['share-with']);
        await owner.untag(imageId, ['share-with']);

        const s = only(await invoke(cfg, 'share', { resourceId: snapshotId, region: cfg.region }, report), snapshotId);
        const m = only(await invoke(cfg, 'share', { resourceId: imageId, region: cfg.region }, report), imageId);
        const t0 = Date.now();

        expect(s.outcome).toBe('revoked');
        expect(m.outcome).toBe('revoked');
        await waitFor(
          'the snapshot to vanish from the recipient',
          async () => !(await recipient.seesSnapshot(snapshotId)),
          cfg,
        );
        report.observe({
          question: 'How far a take-back lags (snapshot)',
          observed: 'the take-back returned -> the recipient no longer lists it',
          ms: Date.now() - t0,
        });
        await waitFor('the image to vanish from the recipient', async () => !(await recipient.seesImage(imageId)), cfg);
        report.observe({
          question: 'How far a take-back lags (image)',
          observed: 'the take-backs returned -> the recipient no longer lists it',
          ms: Date.now() - t0,
        });
        expect(await owner.toolShare(snapshotId)).toBeUndefined();
        expect(await owner.imageShareAccounts(imageId)).toEqual([]);
        expect((await owner.tags(snapshotId))[STATUS_TAG]).toBeUndefined();
        expect((await owner.tags(imageId))[STATUS_TAG]).toBeUndefined();
      },
      T,
    );

    const directories = [
      { name: 'a Resource Directory folder', on: opts.folder, target: (c: LiveConfig) => c.folderPath },
      { name: 'the whole resource directory', on: opts.rd, target: (c: LiveConfig) => c.rdId },
    ];
    for (const dir of directories) {
      it.skipIf(!dir.on)(
        `shares with ${dir.name} the recipient is in, and takes it back`,
        async () => {
          const target = dir.target(cfg)!;
          await owner.tag(snapshotId, { 'share-with': target });
          await owner.tag(imageId, { 'share-with': target });

          const s = await shareSettled(snapshotId, `a snapshot with ${dir.name}`);
          const m = await shareSettled(imageId, `an image with ${dir.name}`);
          const t0 = Date.now();

          expect(s.outcome).toBe('shared');
          expect(m.outcome).toBe('shared');
          await waitFor(
            `the recipient to see the snapshot through ${dir.name}`,
            () => recipient.seesSnapshot(snapshotId),
            cfg,
          );
          await waitFor(`the recipient to see the image through ${dir.name}`, () => recipient.seesImage(imageId), cfg);
          report.observe({
            question: `How far visibility lags a share with ${dir.name}`,
            observed: 'the functions returned -> the recipient lists both',
            ms: Date.now() - t0,
          });
          const listed = await owner.imageShareAccounts(imageId);
          report.observe({
            question: 'Whether DescribeImageSharePermission lists accounts reached through an RD share',
            observed: `${dir.name}: it lists ${JSON.stringify(listed)}`,
            value: listed,
          });

          await owner.untag(snapshotId, ['share-with']);
          await owner.untag(imageId, ['share-with']);
          expect(
            only(await invoke(cfg, 'share', { resourceId: snapshotId, region: cfg.region }, report), snapshotId)
              .outcome,
          ).toBe('revoked');
          expect(
            only(await invoke(cfg, 'share', { resourceId: imageId, region: cfg.region }, report), imageId).outcome,
          ).toBe('revoked');
          const t1 = Date.now();
          await waitFor(
            'the snapshot to vanish from the recipient',
            async () => !(await recipient.seesSnapshot(snapshotId)),
            cfg,
          );
          await waitFor(
            'the image to vanish from the recipient',
            async () => !(await recipient.seesImage(imageId)),
            cfg,
          );
          report.observe({
            question: `How far a take-back from ${dir.name} lags`,
            observed: 'the take-backs returned -> the recipient lists neither',
            ms: Date.now() - t1,
          });
        },
        T,
      );
    }
  });
}
