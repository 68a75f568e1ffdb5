// npm start: the whole story in one process, against the local emulator with its demo state.
// The owner tags a CMK-encrypted snapshot and image through the real ECS SDK; the emitted ActionTrail events drive the
// bundled on-tag function (running under the function role built from the shipped policy); then the report shows what
// changed, read back through the real SDKs, and what the recipients can (and cannot) do with the shared resources.
// The function's JSON log lines go to a file whose path the report names, so the report stays readable.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import { startEmulator, demoState, DEMO, type CloudEvent, type Emulator } from './emulator';
import { buildFunction } from './build';
import { createFunctionRole, functionContext } from './function-role';
import { sdkClients, type SdkClients } from './sdk-clients';
import type { FcContext } from '../shared/runtime';

const SNAPSHOT_TAG = DEMO.externalRecipient.uid;
const IMAGE_TAG = `${DEMO.externalRecipient.uid} ${DEMO.resourceDirectoryId}/${DEMO.rootFolderId}/${DEMO.folderId}`;
/** The service-key snapshot cannot be shared itself: ecs-share copies it with the demo CMK and shares the copy. */
const SERVICE_KEY_TAG = DEMO.rdRecipient.uid;
const ROLES = ['AliyunECSShareEncryptSnapshotDefaultRole', 'AliyunECSShareEncryptImageDefaultRole'];

type Handler = (event: Buffer, context: FcContext) => Promise<any>;
interface Run {
  event: CloudEvent;
  result?: any;
  error?: string;
}

const out: string[] = [];
const failures: string[] = [];
const say = (line = '') => out.push(line);

/** Send everything the product writes to stdout (its JSON log lines) to a file, until the returned function is called. */
function divertStdout(file: string): () => void {
  const original = process.stdout.write.bind(process.stdout);
  const fd = fs.openSync(file, 'a');
  process.stdout.write = ((chunk: string | Uint8Array) => {
    if (typeof chunk === 'string') fs.writeSync(fd, chunk);
    else fs.writeSync(fd, chunk);
    return true;
  }) as typeof process.stdout.write;
  return () => {
    process.stdout.write = original;
    fs.closeSync(fd);
  };
}

/** Wait until no event is queued: the function's own tag writes emit events too, which re-run on-tag (as a replay). */
async function untilQuiet(emu: Emulator): Promise<void> {
  let seen = -1;
  while (emu.events().length !== seen) {
    seen = emu.events().length;
    await emu.flushEvents();
  }
}

const errorCode = (e: unknown) => String((e as { code?: string }).code ?? (e as Error).message);

/** A recipient's attempt: expected to succeed (or, for the control, to be refused). */
async function attempt(label: string, expect: 'success' | 'refusal', fn: () => Promise<string>): Promise<void> {
  try {
    const result = await fn();
    if (expect === 'success') say(`  ok    ${label} -> ${result}`);
    else {
      say(`  FAIL  ${label} -> succeeded (${result}), but it should have been refused`);
      failures.push(label);
    }
  } catch (e) {
    if (expect === 'refusal') say(`  ok    ${label} -> refused: ${errorCode(e)}`);
    else {
      say(
        `  FAIL  ${label} -> ${errorCode(e)}: ${(e as { data?: { Message?: string } }).data?.Message ?? (e as Error).message}`,
      );
      failures.push(label);
    }
  }
}

// ---------------------------------------------------------------- what changed, read back

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** One line per trust statement: who may assume the role, and under which condition. */
function describeTrust(document: string): string[] {
  const doc = JSON.parse(document) as {
    Statement?: Array<{
      Principal?: { Service?: string | string[]; RAM?: string | string[] };
      Condition?: Record<string, Record<string, unknown>>;
    }>;
  };
  return asArray(doc.Statement).map((st) => {
    const who = [...asArray(st.Principal?.Service), ...asArray(st.Principal?.RAM)].join(', ');
    const conditions = Object.entries(st.Condition ?? {}).flatMap(([op, kv]) =>
      Object.entries(kv).map(([k, v]) => `${op} ${k} = ${asArray(v as string).join(' | ')}`),
    );
    return conditions.length ? `${who}  if ${conditions.join(' and ')}` : who;
  });
}

/** The keys a KMS policy grants: the key ids of its key/<id> resources. */
function grantedKeys(document: string): string[] {
  const doc = JSON.parse(document) as { Statement?: Array<{ Resource?: string | string[] }> };
  const keys = asArray(doc.Statement)
    .flatMap((st) => asArray(st.Resource))
    .map((r) => /:key\/(.+)$/.exec(r)?.[1]);
  return [...new Set(keys.filter((k): k is string => Boolean(k)))];
}

async function reportRoles(owner: SdkClients): Promise<void> {
  for (const roleName of ROLES) {
    let trust: string | undefined;
    try {
      trust = (await owner.ram.getRole(new $Ram.GetRoleRequest({ roleName }))).body?.role?.assumeRolePolicyDocument;
    } catch (e) {
      say(`  role ${roleName}: not created (${errorCode(e)})`);
      continue;
    }
    say(`  role ${roleName} trusts:`);
    for (const line of describeTrust(trust ?? '{}')) say(`    - ${line}`);
    const attached =
      (await owner.ram.listPoliciesForRole(new $Ram.ListPoliciesForRoleRequest({ roleName }))).body?.policies?.policy ??
      [];
    for (const p of attached) {
      if (p.policyType !== 'Custom') {
        say(`    policy ${p.policyName} (${p.policyType})`);
        continue;
      }
      const got = await owner.ram.getPolicy(
        new $Ram.GetPolicyRequest({ policyName: p.policyName, policyType: 'Custom' }),
      );
      const document = got.body?.defaultPolicyVersion?.policyDocument ?? '{}';
      say(
        `    policy ${p.policyName} (${document.length} chars) lets ECS use key(s): ${grantedKeys(document).join(', ') || 'none'}`,
      );
    }
  }
}

async function reportShares(owner: SdkClients): Promise<void> {
  const perm = await owner.ecs.describeImageSharePermission(
    new $Ecs.DescribeImageSharePermissionRequest({ regionId: DEMO.region, imageId: DEMO.images.cmk }),
  );
  const accounts = (perm.body?.accounts?.account ?? []).map((a) => a.aliyunId);
  say(`  image ${DEMO.images.cmk} shared with account(s): ${accounts.join(', ') || 'none'}`);
  const shares =
    (await owner.rs('ListResourceShares', { RegionId: DEMO.region, ResourceOwner: 'Self' })).ResourceShares ?? [];
  for (const s of shares) {
    const q = { RegionId: DEMO.region, ResourceShareIds: [s.ResourceShareId] };
    const resources =
      (await owner.rs('ListResourceShareAssociations', { ...q, AssociationType: 'Resource' }))
        .ResourceShareAssociations ?? [];
    const targets =
      (await owner.rs('ListResourceShareAssociations', { ...q, AssociationType: 'Target' }))
        .ResourceShareAssociations ?? [];
    say(
      `  resource share ${s.ResourceShareName} (${s.ResourceShareId}${s.AllowExternalTargets ? ', external targets allowed' : ''}) of ${resources.map((r: any) => r.EntityId).join(', ')}:`,
    );
    for (const t of targets)
      say(`    -> ${t.EntityId} (${t.EntityType}${t.External ? ', external' : ''}): ${t.AssociationStatus}`);
  }
  // The feedback a person sees on the resource itself in the ECS console.
  for (const [type, id] of [
    ['snapshot', DEMO.snapshots.cmk],
    ['image', DEMO.images.cmk],
    ['snapshot', DEMO.snapshots.serviceKey],
  ] as const) {
    const res = await owner.ecs.listTagResources(
      new $Ecs.ListTagResourcesRequest({ regionId: DEMO.region, resourceType: type, resourceId: [id] }),
    );
    const status = (res.body?.tagResources?.tagResource ?? []).find((t) => t.tagKey === 'ecs-share:status')?.tagValue;
    say(`  ${type} ${id} tag ecs-share:status = ${status ?? '(none)'}`);
  }
}

function reportRuns(runs: Run[]): void {
  say(`on-tag ran ${runs.length} time(s), once per delivered event:`);
  for (const r of runs) {
    const ids = r.event.data.referencedResources
      ? Object.values(r.event.data.referencedResources).flat().join(', ')
      : '';
    if (r.error) {
      const transient = /transiently; the event will be retried/.test(r.error);
      say(
        `  ${r.event.data.eventName ?? r.event.type} ${ids}: ${transient ? `failed the invocation so EventBridge retries it (${r.error})` : `threw ${r.error}`}`,
      );
      if (!transient) failures.push(`on-tag for ${ids}`);
      continue;
    }
    for (const res of r.result?.results ?? []) {
      const pending = res.pending?.length ? `, waiting for ${res.pending.join(', ')} to accept` : '';
      const why = res.reason ? ` (${res.reason})` : '';
      say(
        `  ${r.event.data.eventName ?? r.event.type} ${res.resourceId}: ${res.outcome}, ${res.actions?.length ?? 0} change(s)${pending}${why}`,
      );
      if (res.outcome === 'failed' || res.outcome === 'refused') failures.push(`on-tag for ${res.resourceId}`);
    }
    for (const skip of r.result?.skipped ?? [])
      say(`  ${r.event.data.eventName ?? r.event.type} ${ids}: skipped, ${skip.reason}`);
    if (r.result && !r.result.results) say(`  ${r.event.data.eventName} ${ids}: ${JSON.stringify(r.result)}`);
  }
}

// ---------------------------------------------------------------- the recipients

async function acceptInvitations(recipient: SdkClients): Promise<void> {
  const list =
    (await recipient.rs('ListResourceShareInvitations', { RegionId: DEMO.region })).ResourceShareInvitations ?? [];
  const open = list.filter((i: any) => i.Status === 'Pending');
  if (open.length === 0) {
    say(`  FAIL  ${DEMO.externalRecipient.uid} has no pending invitation to accept`);
    failures.push('invitation');
  }
  for (const inv of open) {
    await attempt(
      `${DEMO.externalRecipient.uid} accepts invitation ${inv.ResourceShareInvitationId} (${inv.ResourceShareName})`,
      'success',
      async () => {
        await recipient.rs('AcceptResourceShareInvitation', {
          RegionId: DEMO.region,
          ResourceShareInvitationId: inv.ResourceShareInvitationId,
        });
        return 'Accepted';
      },
    );
  }
}

const createDisk =
  (c: SdkClients, snapshotId: string = DEMO.snapshots.cmk) =>
  async () => {
    const res = await c.ecs.createDisk(
      new $Ecs.CreateDiskRequest({
        regionId: DEMO.region,
        zoneId: 'cn-hangzhou-h',
        diskCategory: 'cloud_essd',
        snapshotId,
      }),
    );
    return `disk ${res.body?.diskId}`;
  };

const copyImage = (c: SdkClients) => async () => {
  const res = await c.ecs.copyImage(
    new $Ecs.CopyImageRequest({ regionId: DEMO.region, imageId: DEMO.images.cmk, destinationRegionId: DEMO.region }),
  );
  return `image ${res.body?.imageId}`;
};

async function recipientsView(emu: Emulator): Promise<void> {
  const external = sdkClients(emu.endpoint, DEMO.externalRecipient);
  const member = sdkClients(emu.endpoint, DEMO.rdRecipient);
  const ext = DEMO.externalRecipient.uid;
  const rd = DEMO.rdRecipient.uid;
  await acceptInvitations(external);
  await attempt(`${ext} CreateDisk (cloud_essd) from snapshot ${DEMO.snapshots.cmk}`, 'success', createDisk(external));
  await attempt(`${ext} CopyImage ${DEMO.images.cmk}`, 'success', copyImage(external));
  await attempt(`${rd} (in folder ${DEMO.folderId}) CopyImage ${DEMO.images.cmk}`, 'success', copyImage(member));
  await attempt(
    `control: ${rd}, not tagged on the snapshot, CreateDisk from ${DEMO.snapshots.cmk}`,
    'refusal',
    createDisk(member),
  );
  const copy = emu.state.snapshots.find((x) => x.tags?.['ecs-share:copy-of'] === DEMO.snapshots.serviceKey);
  if (!copy) {
    say(`  FAIL  no CMK copy of ${DEMO.snapshots.serviceKey} was made`);
    failures.push('service-key copy');
    return;
  }
  say(
    `  the service-key snapshot ${DEMO.snapshots.serviceKey} was copied to ${copy.snapshotId} (key ${copy.kmsKeyId}), shared in its place:`,
  );
  await attempt(
    `${rd} CreateDisk (cloud_essd) from the copy ${copy.snapshotId}`,
    'success',
    createDisk(member, copy.snapshotId),
  );
  await attempt(
    `control: ${rd} CreateDisk from the service-key original ${DEMO.snapshots.serviceKey}`,
    'refusal',
    createDisk(member, DEMO.snapshots.serviceKey),
  );
}

// ---------------------------------------------------------------- the story

async function tagAndRun(emu: Emulator, owner: SdkClients, handler: Handler, logFile: string): Promise<Run[]> {
  const runs: Run[] = [];
  emu.onEvent(async (event) => {
    const run: Run = { event };
    runs.push(run);
    try {
      run.result = await handler(Buffer.from(JSON.stringify(event)), functionContext(emu, DEMO.owner.uid, 'on-tag'));
    } catch (e) {
      run.error = (e as Error).message; // not rethrown: EventBridge's retries would only repeat it
    }
  });
  const restore = divertStdout(logFile);
  try {
    const tag = (resourceType: string, id: string, value: string) =>
      owner.ecs.tagResources(
        new $Ecs.TagResourcesRequest({
          regionId: DEMO.region,
          resourceType,
          resourceId: [id],
          tag: [{ key: 'share-with', value }],
        }),
      );
    await tag('snapshot', DEMO.snapshots.cmk, SNAPSHOT_TAG);
    await tag('image', DEMO.images.cmk, IMAGE_TAG);
    await tag('snapshot', DEMO.snapshots.serviceKey, SERVICE_KEY_TAG);
    await untilQuiet(emu);
    // The CMK copy of the service-key snapshot is `progressing` for a moment; once ready, ECS's
    // CreateSnapshotCompleted event shares it (any read lets the emulator notice the time has passed).
    await new Promise((r) => setTimeout(r, (emu.state.options?.readyDelayMs ?? 300) + 100));
    await owner.ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: DEMO.region }));
    await untilQuiet(emu);
  } finally {
    restore();
  }
  return runs;
}

async function main(): Promise<number> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-demo-'));
  const logFile = path.join(workDir, 'on-tag.log');
  const emu = await startEmulator({ state: demoState() });
  try {
    const owner = sdkClients(emu.endpoint, DEMO.owner);
    await createFunctionRole(owner.ram, [
      fs.readFileSync(path.join(__dirname, '../shared/policies/function-role-service-key-copy.json'), 'utf8'),
    ]);
    // The external recipient is outside the owner's resource directory: refused by default, so allowed here by name
    // (listing an account turns the allowlist on, so the directory, and with it its folders, is listed too).
    const allow = {
      SHARE_ALLOW_ACCOUNTS: `${DEMO.externalRecipient.uid},${DEMO.rdRecipient.uid}`,
      SHARE_ALLOW_RDS: DEMO.resourceDirectoryId,
    };
    // Service-key resources are copied with the demo CMK and the copy shared (the add-on policy lets the function copy).
    Object.assign(process.env, { SHARE_SERVICE_KEY_COPY: DEMO.cmkId });
    Object.assign(process.env, { ALIBABA_CLOUD_ENDPOINT_OVERRIDE: emu.endpoint, FC_REGION: DEMO.region, ...allow });
    const { file } = await buildFunction('on-tag', workDir);
    const { handler } = require(file) as { handler: Handler };

    say(`ecs-share demo: local emulator ${emu.endpoint}, region ${DEMO.region}, owner ${DEMO.owner.uid}`);
    say(`on-tag bundle ${file}, run under role ecs-share-fc-role (shared/policies/function-role.json)`);
    say(
      `configuration: SHARE_ALLOW_ACCOUNTS=${allow.SHARE_ALLOW_ACCOUNTS} allows that account, which is outside the owner's`,
    );
    say(
      `  resource directory (refused by default: ExternalNotAllowed); SHARE_ALLOW_RDS=${allow.SHARE_ALLOW_RDS} keeps the directory and its folders allowed;`,
    );
    say(
      `  SHARE_SERVICE_KEY_COPY=${DEMO.cmkId}: a service-key resource is copied with that CMK and the copy is shared`,
    );
    say();
    say('The owner tags, through the ECS SDK:');
    say(`  snapshot ${DEMO.snapshots.cmk} (encrypted with CMK ${DEMO.cmkId})  share-with=${SNAPSHOT_TAG}`);
    say(`  image    ${DEMO.images.cmk} (its snapshot uses the same CMK)       share-with=${IMAGE_TAG}`);
    say(`  snapshot ${DEMO.snapshots.serviceKey} (encrypted with the ECS service key) share-with=${SERVICE_KEY_TAG}`);
    say();
    reportRuns(await tagAndRun(emu, owner, handler, logFile));
    say();
    say('What exists now in the owner account (read back through RAM, ECS and Resource Sharing):');
    await reportRoles(owner);
    await reportShares(owner);
    say();
    say('The recipients:');
    await recipientsView(emu);
    say();
    say(
      failures.length === 0
        ? 'Every expected outcome held.'
        : `${failures.length} expected outcome(s) did not hold: ${failures.join('; ')}`,
    );
    say(`on-tag's JSON log lines: ${logFile}`);
  } catch (e) {
    say(`demo aborted: ${(e as Error).stack ?? e}`);
    failures.push('demo run');
  } finally {
    await emu.stop();
  }
  process.stdout.write(out.join('\n') + '\n');
  return failures.length === 0 ? 0 : 1;
}

main().then((code) => process.exit(code));
