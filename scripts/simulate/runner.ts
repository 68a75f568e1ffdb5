// Runs one history against a fresh emulator world and checks the invariants of issue 7: never wider (sampled after
// every step through the emulator's recipient oracle), and after the history quiesces (pending events redelivered,
// invitations accepted, reconcile passes without faults): converged, nothing leaked, foreign grants unchanged,
// policy versions <= 5, and a replay that writes nothing. Checks are made through the real SDKs as the recipients
// and the owner; only the per-step sample reads the oracle in-process (it is what those SDK calls consult).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmulator, type CloudEvent, type Emulator, type FaultRule } from '../emulator';
import { recipientAccess, type SharedResource } from '../emulator/oracle';
import { seededRandom } from '../emulator/faults';
import { createFunctionRole, functionContext } from '../function-role';
import { sdkClients, type SdkClients } from '../sdk-clients';
import type { FcContext } from '../../shared/runtime';
import { handler as defaultOnTag } from '../../functions/on-tag/index';
import { handler as defaultReconcile } from '../../functions/reconcile/index';
import { WRITE_ACTIONS, describeStep, rng, type CrashSpec, type FaultSpec, type Step } from './history';
import {
  ACCOUNTS,
  ALL_TARGETS,
  buildState,
  FOLDERS,
  FOREIGN_POLICY,
  IMAGE_ROLE,
  KEYS,
  MANUAL_IMAGE,
  nameOf,
  OWNER,
  RD,
  reach,
  RECIPIENTS,
  resourceByName,
  RESOURCES,
  SNAPSHOT_ROLE,
  folderPath,
  targetText,
  type SimResource,
  type Target,
} from './model';
import * as api from './owner';
import { startProxy, type Proxy } from './proxy';

export type Invariant =
  'never-wider' | 'never-cut-off' | 'converged' | 'leaked' | 'foreign' | 'policy-versions' | 'replay';
export const INVARIANTS: Invariant[] = [
  'never-wider',
  'never-cut-off',
  'converged',
  'leaked',
  'foreign',
  'policy-versions',
  'replay',
];

export interface Violation {
  invariant: Invariant;
  /** Index of the step after which it was seen; -1: in the checks after the history quiesced. */
  step: number;
  message: string;
}

export interface RunStats {
  steps: number;
  invocations: number;
  faults: number;
  crashes: number;
  writes: number;
  eventsDelivered: number;
  eventsLost: number;
  ownerStepsRefused: number;
  /** After quiescing: (resource, recipient) pairs the tags ask for, how many can use it, and how many are excused (pending/refused). */
  askedPairs: number;
  usablePairs: number;
  excusedPairs: number;
}

export const emptyStats = (): RunStats => ({
  steps: 0,
  invocations: 0,
  faults: 0,
  crashes: 0,
  writes: 0,
  eventsDelivered: 0,
  eventsLost: 0,
  ownerStepsRefused: 0,
  askedPairs: 0,
  usablePairs: 0,
  excusedPairs: 0,
});

export interface RunResult {
  violations: Violation[];
  stats: RunStats;
  /** Owner steps the cloud refused (e.g. deleting a snapshot that is still shared): they changed nothing. */
  notes: string[];
}

type Handler = (event: unknown, context: FcContext) => Promise<any>;

export interface RunOptions {
  /**
   * A directory holding the functions to test (`on-tag/index`, `reconcile/index`: a `functions/` folder of another
   * checkout, or a `dist/` of bundles). Default: this checkout's functions/, in-process. The harness-level knob for
   * running the simulation against a deliberately broken product.
   */
  productDir?: string;
  /** Check never-wider after every step (default) or every Nth step. */
  sampleEvery?: number;
  /** Progress lines (one per step). */
  trace?: (line: string) => void;
}

function loadHandlers(dir?: string): { onTag: Handler; reconcile: Handler } {
  if (!dir) return { onTag: defaultOnTag as Handler, reconcile: defaultReconcile as Handler };
  const abs = path.resolve(dir);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = (fn: string) => require(path.join(abs, fn, 'index')).handler as Handler;
  return { onTag: load('on-tag'), reconcile: load('reconcile') };
}

const TAG_KEY_RE = /^share-with(\.([2-9]|10))?$/;
/** The product's writes a `*` commit-then-lose fault is spread over. */
const AFTER_WRITE_ACTIONS = WRITE_ACTIONS;
const MAX_EVENT_ATTEMPTS = 4; // the first push and EventBridge's 3 BACKOFF_RETRY retries

interface Pending {
  event: CloudEvent;
  attempts: number;
}

class Sim {
  tags = new Map<string, Record<string, Target[]>>(); // resource name -> tag key -> targets
  deleted = new Set<string>();
  everAsked = new Map<string, Set<string>>(); // resource name -> uids some tag asked for during the history
  handTrust = false;
  manual = false;
  foreignStatement?: string;
  foreignPolicyDoc?: string[];
  pending: Pending[] = [];
  seen = new Set<string>();
  lastEvent = new Map<string, CloudEvent>(); // resource id -> latest event naming it
  lastOutcome = new Map<string, any>(); // resource id -> latest per-resource outcome reported
  violations: Violation[] = [];
  notes: string[] = [];
  stats: RunStats = emptyStats();
  clients = new Map<string, SdkClients>();
  /** (resource, recipient) pairs seen usable, or promised by a reported success, that nothing since may take away. */
  promised = new Set<string>();

  constructor(
    readonly emu: Emulator,
    readonly proxy: Proxy,
    readonly owner: SdkClients,
    readonly checkpointFile: string,
    readonly handlers: { onTag: Handler; reconcile: Handler },
  ) {}

  client(uid: string): SdkClients {
    let c = this.clients.get(uid);
    if (!c) {
      const a = this.emu.state.accounts.find((x) => x.uid === uid)!;
      c = sdkClients(this.emu.endpoint, { accessKeyId: a.accessKeys[0].id, accessKeySecret: a.accessKeys[0].secret });
      this.clients.set(uid, c);
    }
    return c;
  }

  violate(invariant: Invariant, step: number, message: string): void {
    if (!this.violations.some((v) => v.invariant === invariant && v.message === message))
      this.violations.push({ invariant, step, message });
  }

  // ---------- the model: what the tags ask ----------

  askedTargets(name: string): Target[] {
    if (this.deleted.has(name)) return [];
    const byKey = this.tags.get(name) ?? {};
    const out: Target[] = [];
    for (const [k, ts] of Object.entries(byKey)) if (TAG_KEY_RE.test(k)) out.push(...ts);
    const seen = new Set<string>();
    return out.filter((t) => (seen.has(targetText(t)) ? false : (seen.add(targetText(t)), true)));
  }

  askedUids(name: string): Set<string> {
    return new Set(this.askedTargets(name).flatMap(reach));
  }

  /** Accounts a grant made by hand lets use the resource. */
  manualUids(name: string): Set<string> {
    return new Set(this.manual && name === MANUAL_IMAGE ? [ACCOUNTS.M] : []);
  }

  noteAsked(name: string): void {
    const set = this.everAsked.get(name) ?? new Set<string>();
    for (const u of this.askedUids(name)) set.add(u);
    this.everAsked.set(name, set);
  }

  // ---------- events ----------

  collectEvents(): void {
    for (const e of this.emu.events()) {
      if (this.seen.has(e.id)) continue;
      this.seen.add(e.id);
      this.pending.push({ event: e, attempts: 0 });
      for (const ids of Object.values(e.data?.referencedResources ?? {}))
        for (const id of ids) this.lastEvent.set(id, e);
    }
  }

  // ---------- product invocations ----------

  private context(fn: string): FcContext {
    return functionContext(this.emu, OWNER, fn);
  }

  private recordOutcomes(result: any): void {
    for (const r of Array.isArray(result?.results) ? result.results : []) {
      this.lastOutcome.set(r.resourceId, r);
      const res = RESOURCES.find((x) => x.id === r.resourceId);
      if (!res || !['shared', 'unchanged'].includes(r.outcome)) continue;
      // A reported success promises each target access (checked at the next sample while the tags still ask).
      for (const t of r.targets ?? [])
        for (const uid of uidsOfOutcomeTarget(String(t))) this.promised.add(`${res.name}|${uid}`);
    }
  }

  /** One invocation; crash: SIGKILL-like stop right after its Nth applied write. Returns undefined when it failed or crashed. */
  async invoke(fn: 'on-tag' | 'reconcile', event: unknown, crash?: CrashSpec): Promise<any | undefined> {
    const ctx = this.context(fn);
    this.stats.invocations++;
    let frozen: { at: boolean; content: string | null } = { at: false, content: null };
    if (crash) {
      this.proxy.crashes.set(ctx.credentials!.accessKeyId!, {
        afterWrites: crash.afterWrites,
        afterAction: crash.afterAction,
        writes: 0,
        crashed: false,
        onCrash: () => {
          // A dead process writes no checkpoint: keep the file as it was at the moment of the crash.
          frozen = {
            at: true,
            content: fs.existsSync(this.checkpointFile) ? fs.readFileSync(this.checkpointFile, 'utf8') : null,
          };
        },
      });
    }
    const h = fn === 'on-tag' ? this.handlers.onTag : this.handlers.reconcile;
    let result: any;
    let failed: unknown;
    try {
      result = await h(Buffer.from(JSON.stringify(event)), ctx);
    } catch (e) {
      failed = e ?? new Error('threw undefined');
    }
    const plan = crash ? this.proxy.crashes.get(ctx.credentials!.accessKeyId!) : undefined;
    if (plan?.crashed) {
      if (frozen.at) {
        if (frozen.content === null) fs.rmSync(this.checkpointFile, { force: true });
        else fs.writeFileSync(this.checkpointFile, frozen.content);
      }
      return undefined;
    }
    if (failed) {
      const code = (failed as { code?: string }).code;
      if (fn !== 'on-tag' || code !== 'TransientFailure') {
        const denied = this.emu
          .calls({ status: 403 })
          .filter((c) => c.caller?.type === 'role')
          .slice(-1)[0];
        this.notes.push(
          `${fn} threw ${code ?? ''} ${(failed as Error).message?.slice(0, 200)}${denied ? ` (last denied call: ${denied.action} ${JSON.stringify(denied.params).slice(0, 200)})` : ''}`,
        );
      }
      return undefined;
    }
    this.recordOutcomes(result);
    return result ?? {};
  }

  reconcileCommand(maxResources?: number): Record<string, unknown> {
    return { action: 'reconcile', ...(maxResources ? { maxResources } : {}) };
  }

  private installFaults(spec?: FaultSpec): void {
    if (!spec) return;
    for (const r of spec.rules) this.emu.addFault(r as FaultRule);
    // Commit-then-lose (the emulator's dropAfter/unavailableAfter): on writes only, so a lost answer is a write's.
    for (const a of spec.after)
      for (const action of a.action === '*' ? AFTER_WRITE_ACTIONS : [a.action])
        this.emu.addFault({ ...a, action, seed: a.seed + action.length });
  }

  private clearFaults(): void {
    this.stats.faults += this.emu.faults().reduce((n, r) => n + r.affected, 0);
    this.emu.clearFaults();
  }

  /** Deliver some pending events: lost, delayed (left pending), reordered, duplicated; over N concurrent instances. */
  async deliver(step: Extract<Step, { t: 'deliver' }>): Promise<void> {
    const r = rng(step.seed);
    const chosen: Pending[] = [];
    const keep: Pending[] = [];
    for (const p of this.pending) {
      if (r.chance(0.07)) this.stats.eventsLost++;
      else if (r.chance(0.2)) keep.push(p);
      else chosen.push(p);
    }
    this.pending = keep;
    const ordered = r.chance(0.5) ? r.shuffle(chosen) : chosen;
    const deliveries = ordered.flatMap((p) => (r.chance(0.15) ? [p, p] : [p]));
    const groups: Pending[][] = Array.from({ length: step.instances }, () => []);
    deliveries.forEach((d, i) => groups[i % step.instances].push(d));
    const crashAt =
      step.crash && deliveries.length ? step.crash.invocation % (deliveries.length + (step.reconcile ? 1 : 0)) : -1;
    this.installFaults(step.faults);
    try {
      const work: Promise<unknown>[] = groups.map(async (group) => {
        for (const p of group) {
          const idx = deliveries.indexOf(p);
          const res = await this.invoke('on-tag', p.event, idx === crashAt ? step.crash : undefined);
          this.stats.eventsDelivered++;
          if (res === undefined) this.requeue(p);
        }
      });
      if (step.during) {
        const { step: edit, delayMs } = step.during;
        work.push(
          new Promise((r) => setTimeout(r, delayMs))
            .then(() => this.ownerStep(edit))
            .catch((e) => this.notes.push(`concurrent ${describeStep(edit)} failed: ${(e as { code?: string }).code}`)),
        );
      }
      if (step.reconcile)
        work.push(
          this.invoke(
            'reconcile',
            this.reconcileCommand(step.reconcile.maxResources),
            crashAt === deliveries.length ? step.crash : undefined,
          ),
        );
      await Promise.all(work);
    } finally {
      this.clearFaults();
    }
    // The step's faults hit the owner's concurrent edit too (a dropAfter may apply it and lose the answer): read back
    // what the tags really are.
    if (step.during) await this.resyncTags(step.during.step.r);
  }

  async resyncTags(name: string): Promise<void> {
    const res = resourceByName(name);
    if (this.deleted.has(name)) return;
    await this.settleReads();
    const tags = await api.tagsOf(this.owner, res.id);
    const byKey: Record<string, Target[]> = {};
    for (const [k, v] of Object.entries(tags)) {
      if (!TAG_KEY_RE.test(k)) continue;
      byKey[k] = v
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((text) => ALL_TARGETS.find((t) => targetText(t) === text))
        .filter((t): t is Target => Boolean(t));
    }
    this.tags.set(name, byKey);
    this.noteAsked(name);
  }

  private requeue(p: Pending): void {
    if (p.attempts + 1 >= MAX_EVENT_ATTEMPTS) this.stats.eventsLost++;
    else if (!this.pending.some((q) => q.event.id === p.event.id))
      this.pending.push({ event: p.event, attempts: p.attempts + 1 });
  }

  async reconcile(step: Extract<Step, { t: 'reconcile' }>): Promise<void> {
    this.installFaults(step.faults);
    try {
      await this.invoke('reconcile', this.reconcileCommand(step.maxResources), step.crash);
    } finally {
      this.clearFaults();
    }
  }

  // ---------- owner steps ----------

  async ownerStep(step: Step): Promise<void> {
    this.releasePromises(step);
    await this.ownerEdit(step);
    // A person's edit of a role, policy or share is visible to every read only once the reads' lag has passed (the
    // emulator's readLagMs). A product write within that window works from the world before the edit: it may undo a
    // drift (repaired by the next run) or, RAM having no conditional write, overwrite a hand-written statement (the
    // README's limits say so). The histories model a person who edits between runs, not within 100 ms of one.
    const lag = this.emu.state.options?.readLagMs ?? 0;
    if (lag > 0 && (step.t === 'handTrust' || step.t === 'manualShare' || step.t.startsWith('drift')))
      await new Promise((r) => setTimeout(r, lag + 20));
  }

  private async ownerEdit(step: Step): Promise<void> {
    const o = this.owner;
    switch (step.t) {
      case 'tag': {
        const res = resourceByName(step.r);
        if (this.deleted.has(step.r)) return;
        await api.ecs(o, 'TagResources', {
          ResourceType: res.kind,
          ResourceId: [res.id],
          Tag: Object.entries(step.tags).map(([Key, ts]) => ({ Key, Value: ts.map(targetText).join(',') })),
        });
        this.tags.set(step.r, { ...(this.tags.get(step.r) ?? {}), ...step.tags });
        this.noteAsked(step.r);
        return;
      }
      case 'untag': {
        const res = resourceByName(step.r);
        if (this.deleted.has(step.r)) return;
        await api.ecs(o, 'UntagResources', { ResourceType: res.kind, ResourceId: [res.id], TagKey: step.keys });
        const t = { ...(this.tags.get(step.r) ?? {}) };
        for (const k of step.keys) delete t[k];
        this.tags.set(step.r, t);
        return;
      }
      case 'delete': {
        const res = resourceByName(step.r);
        const done = await api.attempt(() =>
          res.kind === 'image'
            ? api.ecs(o, 'DeleteImage', { ImageId: res.id })
            : api.ecs(o, 'DeleteSnapshot', { SnapshotId: res.id }),
        );
        if (done.ok) this.deleted.add(step.r);
        else this.refused(step, done);
        return;
      }
      case 'disableKey':
      case 'enableKey':
        await api.kms(o, step.t === 'disableKey' ? 'DisableKey' : 'EnableKey', { KeyId: KEYS[step.k] });
        return;
      case 'handTrust':
        return this.writeHandTrust();
      case 'manualShare': {
        if (this.deleted.has(MANUAL_IMAGE)) return;
        const done = await api.attempt(() =>
          api.ecs(o, 'ModifyImageSharePermission', {
            ImageId: resourceByName(MANUAL_IMAGE).id,
            AddAccount: [ACCOUNTS.M],
          }),
        );
        if (done.ok) this.manual = true;
        else this.refused(step, done);
        return;
      }
      case 'driftTrust': {
        await this.settleReads();
        const roleName = step.role === 'image' ? IMAGE_ROLE : SNAPSHOT_ROLE;
        const role = await api.readRole(o, roleName);
        if (!role) return;
        const r = rng(step.seed);
        const candidates: Array<{ s: any; p: string }> = [];
        for (const s of role.trust.Statement) {
          const services = [s.Principal?.Service ?? []].flat().map(String);
          for (const p of services)
            if (
              /^\d{16}@/.test(p) &&
              !p.startsWith(OWNER) &&
              !(this.foreignStatement && api.semantic(s) === this.foreignStatement)
            )
              candidates.push({ s, p });
        }
        if (candidates.length === 0) return;
        const { s, p } = r.pick(candidates);
        const rest = [s.Principal.Service].flat().filter((x: string) => x !== p);
        const statements = rest.length
          ? role.trust.Statement.map((x: any) => (x === s ? { ...s, Principal: { ...s.Principal, Service: rest } } : x))
          : role.trust.Statement.filter((x: any) => x !== s);
        if (statements.length === 0) return;
        await api.ram(o, 'UpdateRole', {
          RoleName: roleName,
          NewAssumeRolePolicyDocument: JSON.stringify({ ...role.trust, Statement: statements }),
        });
        return;
      }
      case 'driftDetach': {
        const roleName = step.role === 'image' ? IMAGE_ROLE : SNAPSHOT_ROLE;
        const role = await api.readRole(o, roleName);
        const mine = (role?.attached ?? []).filter((p) => p.startsWith(`Custom/ecs-share-${step.role}-kms`));
        if (mine.length === 0) return;
        await api.ram(o, 'DetachPolicyFromRole', {
          RoleName: roleName,
          PolicyName: mine[0].slice('Custom/'.length),
          PolicyType: 'Custom',
        });
        return;
      }
      case 'driftShare': {
        await this.settleReads();
        const shares = (await api.resourceShares(o)).filter(
          (s) => s.name.startsWith('ecs-share-') && s.status === 'Active',
        );
        const pairs = shares.flatMap((s) => s.targets.filter((t) => t.status === 'Associated').map((t) => ({ s, t })));
        if (pairs.length === 0) return;
        const { s, t } = rng(step.seed).pick(pairs);
        const done = await api.attempt(() =>
          api.rs(o, 'DisassociateResourceShare', { ResourceShareId: s.id, Targets: [t.id] }),
        );
        if (!done.ok) this.refused(step, done);
        return;
      }
      case 'accept':
        for (const uid of [ACCOUNTS.X, ACCOUNTS.Y, ACCOUNTS.M]) await api.acceptInvitations(this.client(uid));
        return;
      default:
        throw new Error(`not an owner step: ${step.t}`);
    }
  }

  /** Steps that may rightly take access away (hand edits, a disabled key, a deletion) release the pairs they touch. */
  private releasePromises(step: Step): void {
    const release = (pred: (res: SimResource, uid: string) => boolean) => {
      for (const key of [...this.promised]) {
        const [name, uid] = key.split('|');
        if (pred(resourceByName(name), uid)) this.promised.delete(key);
      }
    };
    if (step.t === 'driftTrust' || step.t === 'driftDetach') release((res) => res.kind === step.role);
    else if (step.t === 'driftShare') release(() => true);
    else if (step.t === 'disableKey') release((res) => res.key === step.k);
    else if (step.t === 'delete') release((res) => res.name === step.r);
  }

  /** Never cut off: a pair seen usable (or reported shared) stays usable while its tags ask and nothing took it away. */
  sampleNeverCutOff(step: number): void {
    for (const key of [...this.promised]) {
      const [name, uid] = key.split('|');
      const res = resourceByName(name);
      const shared = this.sharedResource(res);
      if (!shared || !this.askedUids(name).has(uid)) {
        this.promised.delete(key);
        continue;
      }
      const a = recipientAccess(this.emu.state, uid, shared);
      if (!a.ok && this.ownAssociationInFlight(res.id, uid)) continue; // a narrowing: its account waits for Resource Sharing (README Limits)
      if (!a.ok) {
        this.violate(
          'never-cut-off',
          step,
          `${nameOf(uid)} lost ${name} (${res.id}) while its tags (${this.tagText(name)}) still ask for it: ${a.code}`,
        );
        this.promised.delete(key);
      }
    }
    for (const res of RESOURCES) {
      const shared = this.sharedResource(res);
      if (!shared) continue;
      for (const uid of this.askedUids(res.name))
        if (recipientAccess(this.emu.state, uid, shared).ok) this.promised.add(`${res.name}|${uid}`);
    }
  }

  private refused(step: Step, a: api.Attempt): void {
    this.stats.ownerStepsRefused++;
    if (!a.ok) this.notes.push(`${describeStep(step)}: refused by the cloud (${a.code})`);
  }

  /** The owner's reads lag behind writes (readLagMs): wait it out before reading what to edit or check. */
  async settleReads(): Promise<void> {
    const lag = Number((this.emu.state.options as any).readLagMs ?? 0);
    if (lag > 0) await new Promise((r) => setTimeout(r, lag + 20));
  }

  private async writeHandTrust(): Promise<void> {
    const o = this.owner;
    const statement = {
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: [`${ACCOUNTS.M}@ecs.aliyuncs.com`] },
    };
    await this.settleReads();
    const role = await api.readRole(o, IMAGE_ROLE);
    if (!role) {
      await api.ram(o, 'CreateRole', {
        RoleName: IMAGE_ROLE,
        AssumeRolePolicyDocument: JSON.stringify({ Version: '1', Statement: [statement] }),
        Description: 'made by hand',
      });
    } else {
      await api.ram(o, 'UpdateRole', {
        RoleName: IMAGE_ROLE,
        NewAssumeRolePolicyDocument: JSON.stringify({ ...role.trust, Statement: [...role.trust.Statement, statement] }),
      });
    }
    const doc = {
      Version: '1',
      Statement: [
        { Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [`acs:kms:cn-hangzhou:${OWNER}:key/${KEYS.K3}`] },
      ],
    };
    await api.ram(o, 'CreatePolicy', { PolicyName: FOREIGN_POLICY, PolicyDocument: JSON.stringify(doc) });
    await api.ram(o, 'AttachPolicyToRole', { RoleName: IMAGE_ROLE, PolicyName: FOREIGN_POLICY, PolicyType: 'Custom' });
    this.handTrust = true;
    this.foreignStatement = api.semantic(statement);
    this.foreignPolicyDoc = api.documentSemantic(doc);
  }

  // ---------- invariants ----------

  private sharedResource(res: SimResource): SharedResource | undefined {
    if (res.kind === 'image') {
      const image = this.emu.state.images.find((i) => i.imageId === res.id && i.accountId === OWNER);
      return image && { type: 'Image', image };
    }
    const snapshot = this.emu.state.snapshots.find((s) => s.snapshotId === res.id && s.accountId === OWNER);
    return snapshot && { type: 'Snapshot', snapshot };
  }

  /** Never wider, sampled: nobody can use a resource unless some tag asked for them during the history, or a hand grant allows it. */
  sampleNeverWider(step: number): void {
    for (const res of RESOURCES) {
      const shared = this.sharedResource(res);
      if (!shared) continue;
      const allowed = new Set([...(this.everAsked.get(res.name) ?? []), ...this.manualUids(res.name)]);
      for (const uid of RECIPIENTS) {
        if (allowed.has(uid)) continue;
        if (recipientAccess(this.emu.state, uid, shared).ok) {
          this.violate(
            'never-wider',
            step,
            `${nameOf(uid)} can use ${res.name} (${res.id}) although no tag ever asked for it`,
          );
        }
      }
    }
  }

  async quiesce(): Promise<any> {
    this.clearFaults();
    for (let round = 0; round < 6 && this.pending.length; round++) {
      const batch = this.pending;
      this.pending = [];
      for (const p of batch) {
        const res = await this.invoke('on-tag', p.event);
        this.stats.eventsDelivered++;
        if (res === undefined) this.requeue(p);
      }
      this.collectEvents();
    }
    this.pending = [];
    let last: any;
    // Two passes at least; more while a pass leaves new invitations (a recipient outside the directory accepts
    // what it is sent, so "pending" at the end means the product is waiting for something that never comes).
    const accept = async () => {
      let n = 0;
      for (const uid of [ACCOUNTS.X, ACCOUNTS.Y, ACCOUNTS.M]) n += await api.acceptInvitations(this.client(uid));
      return n;
    };
    await accept();
    // After each pass, accept what it sent; a pass that sent nothing new (after the second) is the last.
    for (let pass = 0, accepted = 0; pass < 2 || (accepted > 0 && pass < 5); pass++, accepted = await accept()) {
      this.lastOutcome.clear();
      // A pass left incomplete by the history is resumed first; then one full pass.
      for (let run = 0; run < 8; run++) {
        last = await this.invoke('reconcile', this.reconcileCommand());
        if (last?.complete) break;
      }
      this.collectEvents();
    }
    this.pending = [];
    await this.settleReads();
    return last;
  }

  /**
   * The account's own association on ecs-share's resource share of the resource is still Associating: a share
   * narrowed from a folder to the account takes the folder back at once (never wider) and the account waits.
   */
  ownAssociationInFlight(resourceId: string, uid: string): boolean {
    const st = this.emu.state as any;
    return (st.resourceShares ?? []).some(
      (rs: any) =>
        rs.name === `ecs-share-${resourceId}` &&
        rs.status === 'Active' &&
        rs.targets.some((t: any) => t.targetId === uid && t.status === 'Associating'),
    );
  }

  /** What the emulator holds for a resource and a recipient (resource shares, their targets, invitations): for the report. */
  shareDiagnosis(resourceId: string, uid: string): string {
    const st = this.emu.state as any;
    const shares = (st.resourceShares ?? []).filter((rs: any) =>
      rs.resources.some((r: any) => r.resourceId === resourceId),
    );
    if (shares.length === 0) return '; no resource share holds it';
    return shares
      .map((rs: any) => {
        const invitations = (st.invitations ?? [])
          .filter((i: any) => i.resourceShareId === rs.resourceShareId && i.receiverAccountId === uid)
          .map((i: any) => i.status);
        const targets = rs.targets.map((t: any) => `${nameOf(t.targetId)}:${t.status}`).join(',');
        return `; share ${rs.name} ${rs.status} external=${rs.allowExternalTargets} resource ${rs.resources.map((r: any) => r.status).join(',')} targets [${targets}] invitations of ${nameOf(uid)} [${invitations.join(',')}]`;
      })
      .join('');
  }

  async finalChecks(lastSummary: any): Promise<void> {
    const o = this.owner;
    if (!lastSummary?.complete)
      this.notes.push(
        `the final reconcile did not complete: ${JSON.stringify(lastSummary?.errors ?? lastSummary)?.slice(0, 300)}`,
      );
    // Recipient side: who can use what, through the real SDKs.
    for (const res of RESOURCES) {
      if (this.deleted.has(res.name)) continue;
      const asked = this.askedUids(res.name);
      const manual = this.manualUids(res.name);
      const outcome = this.lastOutcome.get(res.id);
      const excused = outcome && ['pending', 'refused'].includes(outcome.outcome) && (outcome.reason || outcome.error);
      for (const uid of RECIPIENTS) {
        const a = await api.use(this.client(uid), res.id);
        if (asked.has(uid)) {
          this.stats.askedPairs++;
          if (a.ok) this.stats.usablePairs++;
          else if (excused) {
            this.stats.excusedPairs++;
            this.notes.push(
              `excused: ${res.name} for ${nameOf(uid)}: ${outcome.outcome} ${outcome.reason ?? outcome.error?.code}${this.shareDiagnosis(res.id, uid)}`,
            );
          }
        }
        if (asked.has(uid) && !a.ok && !excused) {
          this.violate(
            'converged',
            -1,
            `${res.name} (${res.id}) is asked for ${nameOf(uid)} (tags ${this.tagText(res.name)}) but ${nameOf(uid)} cannot use it: ${a.code}; last outcome ${outcome ? outcome.outcome : 'none (unchanged)'}${this.shareDiagnosis(res.id, uid)}`,
          );
        }
        if (!asked.has(uid) && !manual.has(uid) && a.ok) {
          this.violate(
            'leaked',
            -1,
            `${nameOf(uid)} can still use ${res.name} (${res.id}) although its tags (${this.tagText(res.name)}) do not ask for it`,
          );
        }
      }
    }
    // Owner side: what ecs-share holds.
    const askedOf = (kind: 'snapshot' | 'image') => {
      const ts = RESOURCES.filter((r) => r.kind === kind).flatMap((r) => this.askedTargets(r.name));
      return {
        accounts: new Set(ts.filter((t) => t.kind === 'account').map(targetText)),
        rd: ts.some((t) => t.kind === 'rd'),
        folders: new Set(ts.filter((t) => t.kind === 'folder').map(targetText)),
        keys: new Set(
          RESOURCES.filter((r) => r.kind === kind && r.key && this.askedTargets(r.name).length > 0).map(
            (r) => KEYS[r.key!],
          ),
        ),
      };
    };
    for (const kind of ['snapshot', 'image'] as const) {
      const roleName = kind === 'image' ? IMAGE_ROLE : SNAPSHOT_ROLE;
      const asked = askedOf(kind);
      const role = await api.readRole(o, roleName);
      const held = RESOURCES.filter(
        (r) => r.kind === kind && ['refused', 'failed'].includes(this.lastOutcome.get(r.id)?.outcome),
      ).map((r) => `${r.name} ${this.lastOutcome.get(r.id).outcome}`);
      const trimHeld = (lastSummary?.trimHeld ?? []).filter((h: any) => h.roleName === roleName || h.type === kind);
      const heldNote = `${held.length ? ` (last pass: ${held.join(', ')})` : ''}${trimHeld.length ? `; the last trim held ${JSON.stringify(trimHeld).slice(0, 600)}` : ''}`;
      if (role) {
        const line = role.description.split('\n').find((l) => l.startsWith('[ecs-share]'));
        let ledger: { a?: string[]; rd?: string[]; fd?: string[] } = {};
        try {
          ledger = line ? JSON.parse(line.slice('[ecs-share]'.length)) : {};
        } catch {
          this.violate('leaked', -1, `${roleName}: the trust ledger in the description does not parse: ${line}`);
        }
        for (const a of ledger.a ?? [])
          if (!asked.accounts.has(a))
            this.violate(
              'leaked',
              -1,
              `${roleName} trust ledger still holds account ${nameOf(a)} that no ${kind} asks for${heldNote}`,
            );
        for (const r of ledger.rd ?? [])
          if (!asked.rd || r !== RD)
            this.violate('leaked', -1, `${roleName} trust ledger still holds ${r} that no ${kind} asks for${heldNote}`);
        for (const f of ledger.fd ?? [])
          if (!asked.folders.has(f.replace(/\*$/, '')))
            this.violate(
              'leaked',
              -1,
              `${roleName} trust ledger still holds folder ${f} that no ${kind} asks for${heldNote}`,
            );
        for (const s of role.trust.Statement ?? []) {
          if (this.foreignStatement && kind === 'image' && api.semantic(s) === this.foreignStatement) continue;
          for (const p of [s.Principal?.Service ?? []].flat().map(String)) {
            const uid = /^(\d{16})@/.exec(p)?.[1];
            if (uid && uid !== OWNER && !asked.accounts.has(uid))
              this.violate(
                'leaked',
                -1,
                `${roleName} trust policy still trusts ${nameOf(uid)} that no ${kind} asks for${heldNote}`,
              );
          }
          const cond = s.Condition ?? {};
          const rdIds = [cond.StringEquals?.['sts:ServiceOwnerRDId'] ?? []].flat();
          const paths = [cond.StringLike?.['sts:ServiceOwnerRDPath'] ?? []]
            .flat()
            .map((x: string) => x.replace(/\*$/, ''));
          if (rdIds.length && !asked.rd)
            this.violate(
              'leaked',
              -1,
              `${roleName} trust policy still trusts ${rdIds.join(',')} that no ${kind} asks for${heldNote}`,
            );
          for (const p of paths)
            if (!asked.folders.has(p))
              this.violate(
                'leaked',
                -1,
                `${roleName} trust policy still trusts folder ${p} that no ${kind} asks for${heldNote}`,
              );
        }
        if (kind === 'image' && this.handTrust) {
          if (!(role.trust.Statement ?? []).some((s: any) => api.semantic(s) === this.foreignStatement)) {
            this.violate(
              'foreign',
              -1,
              `${roleName}: the hand-written trust statement for M is gone or changed: ${JSON.stringify(role.trust.Statement)}`,
            );
          }
          if (!role.attached.includes(`Custom/${FOREIGN_POLICY}`))
            this.violate('foreign', -1, `${roleName}: the hand-attached policy ${FOREIGN_POLICY} was detached`);
        }
      } else if (kind === 'image' && this.handTrust) {
        this.violate('foreign', -1, `${roleName}, which holds a hand-written statement, was deleted`);
      }
      // KMS policies: only keys of resources that still ask for something.
      const policies = this.emu.state.policies.filter(
        (p) => p.accountId === OWNER && p.policyName.startsWith(`ecs-share-${kind}-kms`),
      );
      for (const p of policies) {
        const doc = await api.policyDefault(o, p.policyName);
        const keys = new Set(JSON.stringify(doc ?? {}).match(/key\/key-[a-z0-9]+/g) ?? []);
        for (const k of keys) {
          const id = k.slice('key/'.length);
          if (!asked.keys.has(id as never))
            this.violate(
              'leaked',
              -1,
              `${p.policyName} still grants ${Object.entries(KEYS).find(([, v]) => v === id)?.[0] ?? id}, which no tagged ${kind} uses`,
            );
        }
        const versions = await api.policyVersionCount(o, p.policyName);
        if (versions > 5) this.violate('policy-versions', -1, `${p.policyName} has ${versions} versions`);
      }
    }
    if (this.handTrust) {
      const doc = await api.policyDefault(o, FOREIGN_POLICY);
      if (JSON.stringify(api.documentSemantic(doc)) !== JSON.stringify(this.foreignPolicyDoc))
        this.violate('foreign', -1, `${FOREIGN_POLICY} changed: ${JSON.stringify(doc)}`);
    }
    // Images: the account shares and ecs-share's ledger tag.
    for (const res of RESOURCES.filter((r) => r.kind === 'image' && !this.deleted.has(r.name))) {
      const askedAccounts = new Set(
        this.askedTargets(res.name)
          .filter((t) => t.kind === 'account')
          .map(targetText),
      );
      const accounts = await api.imageAccounts(o, res.id);
      for (const a of accounts) {
        if (!askedAccounts.has(a) && !this.manualUids(res.name).has(a))
          this.violate(
            'leaked',
            -1,
            `${res.name} is still shared with account ${nameOf(a)}, which its tags (${this.tagText(res.name)}) do not ask for${this.outcomeNote(res.id)}`,
          );
      }
      if (this.manual && res.name === MANUAL_IMAGE && !accounts.includes(ACCOUNTS.M))
        this.violate('foreign', -1, `the manual share of ${res.name} with M was taken back`);
      const tags = await api.tagsOf(o, res.id);
      const tokens = Object.entries(tags)
        .filter(([k]) => /^ecs-share:granted(\.\d+)?$/.test(k))
        .flatMap(([, v]) => v.split(/[\s,]+/).filter(Boolean));
      // Confirmed grants (`<uid>`) must all be asked for; an intent (`+<uid>`) grants nothing unless the image is shared
      // with it (then the share list above reports it), and is forgotten once stale, so only a shared one counts.
      const ledger = tokens.filter((t) => /^\d{16}$/.test(t));
      const intents = tokens.filter((t) => /^\+\d{16}$/.test(t)).map((t) => t.slice(1));
      for (const a of ledger)
        if (!askedAccounts.has(a))
          this.violate(
            'leaked',
            -1,
            `${res.name}'s ecs-share:granted record still holds ${nameOf(a)}, which its tags do not ask for`,
          );
      const claims = [...ledger, ...intents.filter((a) => accounts.includes(a))];
      if (this.manual && res.name === MANUAL_IMAGE && claims.includes(ACCOUNTS.M))
        this.violate('foreign', -1, `${res.name}'s ecs-share:granted record claims M, which the owner shared by hand`);
    }
    // Resource shares named ecs-share-<id>.
    const shares = (await api.resourceShares(o)).filter(
      (s) => s.name.startsWith('ecs-share-') && s.status === 'Active',
    );
    for (const s of shares) {
      const id = s.name.slice('ecs-share-'.length);
      const res = RESOURCES.find((r) => r.id === id);
      const asked = new Set(
        res
          ? this.askedTargets(res.name)
              .filter((t) => t.kind !== 'account' || res.kind === 'snapshot')
              .flatMap(sharingIds)
          : [],
      );
      for (const t of s.targets) {
        if (!/^Associat(ed|ing)$/.test(t.status)) continue;
        if (!asked.has(t.id))
          this.violate(
            'leaked',
            -1,
            `resource share ${s.name} (${s.id}) still targets ${nameOf(t.id)}, which ${res?.name ?? id}'s tags do not ask for`,
          );
      }
    }
    const twins = shares.map((s) => s.name).filter((n, i, a) => a.indexOf(n) !== i);
    for (const n of new Set(twins)) this.notes.push(`twin resource shares named ${n}`);
  }

  /** ", last outcome refused (KeyNotEnabled)" when the last pass did not report the resource as fine. */
  outcomeNote(id: string): string {
    const o = this.lastOutcome.get(id);
    return o ? `; last outcome ${o.outcome}${o.error?.code || o.code ? ` (${o.error?.code ?? o.code})` : ''}` : '';
  }

  tagText(name: string): string {
    const t = this.askedTargets(name);
    return t.length
      ? t.map((x) => (x.kind === 'account' ? x.name : x.kind === 'rd' ? 'rd' : x.name)).join(',')
      : 'none';
  }

  /** Replay: on-tag of every resource again, then a reconcile: zero writes by the function role. */
  async replay(): Promise<void> {
    this.emu.clearCalls();
    for (const res of RESOURCES) {
      const e = this.lastEvent.get(res.id);
      if (e) await this.invoke('on-tag', e);
    }
    await this.invoke('reconcile', this.reconcileCommand());
    const writes = this.emu.writes().filter((c) => c.caller?.type === 'role');
    if (writes.length) {
      this.violate(
        'replay',
        -1,
        `a replay made ${writes.length} write(s): ${writes.map((w) => `${w.action}(${w.params.RoleName ?? w.params.ImageId ?? w.params.ResourceShareId ?? w.params['ResourceId.1'] ?? w.params.PolicyName ?? ''})`).join(', ')}`,
      );
    }
  }
}

/** The recipients an outcome's target text ("account <uid>", "resource directory rd-…", "folder <path>") reaches. */
function uidsOfOutcomeTarget(text: string): string[] {
  const [kind, ...rest] = text.split(' ');
  const value = rest.join(' ').replace(/^directory /, '');
  if (kind === 'account') return RECIPIENTS.includes(value as never) ? [value] : [];
  if (kind === 'resource') return reach({ kind: 'rd' });
  if (kind === 'folder') {
    const name = (Object.keys(FOLDERS) as Array<keyof typeof FOLDERS>).find((n) => folderPath(n) === value);
    return name ? reach({ kind: 'folder', name }) : [];
  }
  return [];
}

/** The ids Resource Sharing may use for a target: an account uid, the RD id, a folder's id or its path. */
function sharingIds(t: Target): string[] {
  if (t.kind === 'folder') return [folderPath(t.name), FOLDERS[t.name].id];
  return [targetText(t)];
}

export async function runHistory(seed: number, history: Step[], opts: RunOptions = {}): Promise<RunResult> {
  const savedRandom = Math.random;
  const savedEnv = { ...process.env };
  // Determinism: the product's jitter, request ids and anything else drawn from Math.random follow the seed.
  Math.random = seededRandom((seed * 2654435761) >>> 0);
  const emu = await startEmulator({ state: buildState() });
  const proxy = await startProxy(emu.endpoint);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-sim-'));
  const checkpointFile = path.join(dir, 'checkpoint.json');
  const owner = sdkClients(emu.endpoint, { accessKeyId: 'LTAIownerDemoKey0001', accessKeySecret: 'ownerDemoSecret' });
  try {
    await createFunctionRole(owner.ram);
    Object.assign(process.env, {
      ALIBABA_CLOUD_ENDPOINT_OVERRIDE: proxy.endpoint,
      SHARE_CHECKPOINT_FILE: checkpointFile,
      SHARE_ASSOCIATION_WAIT_MS: '150',
      SHARE_LOG_LEVEL: 'off',
      FC_REGION: 'cn-hangzhou',
      SHARE_ALLOW_EXTERNAL: 'true', // the world's recipients outside the directory are targets too
    });
    delete process.env.SHARE_REGIONS;
    const sim = new Sim(emu, proxy, owner, checkpointFile, loadHandlers(opts.productDir));
    const every = Math.max(1, opts.sampleEvery ?? 1);
    for (const [i, step] of history.entries()) {
      opts.trace?.(`  ${String(i + 1).padStart(3)}. ${describeStep(step)}`);
      const before = emu.calls().at(-1)?.seq ?? 0;
      if (step.t === 'deliver') await sim.deliver(step);
      else if (step.t === 'reconcile') await sim.reconcile(step);
      else {
        try {
          await sim.ownerStep(step);
        } catch (e) {
          sim.notes.push(
            `step ${i + 1} (${describeStep(step)}) failed: ${(e as { code?: string }).code ?? (e as Error).message}`,
          );
        }
      }
      sim.collectEvents();
      sim.stats.steps++;
      if (opts.trace && process.env.ECS_SHARE_SIMULATE_TRACE_WRITES === '1') {
        // What the product wrote in this step, in order: the trail a violation's cause is read from.
        for (const c of emu.calls({ since: before }).filter((x) => x.write && x.caller?.type === 'role')) {
          const p = c.params as Record<string, unknown>;
          const what = ['RoleName', 'PolicyName', 'ResourceId.1', 'ImageId', 'ResourceShareId', 'ResourceShareName']
            .map((k) => (p[k] ? `${k}=${String(p[k])}` : ''))
            .filter(Boolean);
          const doc =
            typeof p.NewAssumeRolePolicyDocument === 'string' ? ` trust=${p.NewAssumeRolePolicyDocument}` : '';
          opts.trace(
            `       ${c.time.slice(11, 23)} ${c.caller?.accessKeyId?.slice(-6) ?? ''} ${c.action} ${c.status}${c.applied ? ' (applied, answer lost)' : ''} ${what.join(' ')}${doc.slice(0, 400)}`,
          );
        }
      }
      if ((i + 1) % every === 0 || i === history.length - 1) {
        sim.sampleNeverWider(i);
        sim.sampleNeverCutOff(i);
      }
    }
    const last = await sim.quiesce();
    sim.sampleNeverWider(-1);
    await sim.finalChecks(last);
    sim.stats.writes = emu.writes().filter((c) => c.caller?.type === 'role').length;
    await sim.replay();
    sim.stats.crashes = proxy.stats.crashes;
    sim.stats.faults += proxy.stats.crashes;
    return { violations: sim.violations, stats: sim.stats, notes: sim.notes };
  } finally {
    Math.random = savedRandom;
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
    await proxy.stop();
    await emu.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
