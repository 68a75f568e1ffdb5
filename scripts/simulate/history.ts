// A history is a list of steps drawn from one seed. Each step carries everything it needs as data (its own seed
// for the choices it makes while it runs, e.g. which pending events it delivers), so a prefix of a history is
// itself a history and re-running it reproduces the same choices.
import { seededRandom } from '../emulator/faults';
import { ALL_TARGETS, KEYS, MANUAL_IMAGE, RESOURCES, targetLabel, type KeyName, type Target } from './model';

export interface Rng {
  next(): number;
  int(lo: number, hi: number): number; // inclusive
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: readonly T[]): T[];
}

export function rng(seed: number): Rng {
  const next = seededRandom(seed);
  const r: Rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    shuffle: (items) => {
      const a = [...items];
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
  };
  return r;
}

/** Faults installed for one product step and cleared after it. */
export interface FaultSpec {
  /** Emulator fault rules (throttle, 5xx, latency, drop before applying), seeded. */
  rules: Array<{
    action: string;
    product?: 'ecs' | 'ram' | 'kms' | 'resourcesharing';
    kind: 'throttle' | 'unavailable' | 'internal' | 'latency' | 'drop';
    rate?: number;
    nth?: number;
    times?: number;
    seed?: number;
    latencyMs?: number;
    retryAfterMs?: number;
  }>;
  /** Commit-then-lose: the write is applied, then its answer dropped or replaced by a 503. */
  after: Array<{ action: string; kind: 'dropAfter' | 'unavailableAfter'; rate: number; seed: number }>;
}

export interface CrashSpec {
  /** Which invocation of the step crashes (index into the step's invocations; wraps around). */
  invocation: number;
  afterWrites: number;
  /** Or crash right after the invocation's first write of this action (the seams between two writes that matter). */
  afterAction?: string;
}

/** Writes whose next write is the one that records or confirms them: where a crash would leave an orphan. */
const SEAMS = [
  'ModifyImageSharePermission',
  'TagResources',
  'UpdateRole',
  'CreateResourceShare',
  'CreatePolicyVersion',
  'DeletePolicy',
];

export type Step =
  | { t: 'tag'; r: string; tags: Record<string, Target[]> }
  | { t: 'untag'; r: string; keys: string[] }
  | { t: 'delete'; r: string }
  | { t: 'disableKey'; k: KeyName }
  | { t: 'enableKey'; k: KeyName }
  | { t: 'handTrust' }
  | { t: 'manualShare' }
  | { t: 'driftTrust'; role: 'snapshot' | 'image'; seed: number }
  | { t: 'driftDetach'; role: 'snapshot' | 'image' }
  | { t: 'driftShare'; seed: number }
  | { t: 'accept' }
  | {
      t: 'deliver';
      seed: number;
      instances: number;
      faults?: FaultSpec;
      crash?: CrashSpec;
      reconcile?: { maxResources?: number };
      /** An owner tag edit made while the invocations run, this long after they start (races with their reads). */
      during?: { step: Extract<Step, { t: 'tag' | 'untag' }>; delayMs: number };
    }
  | { t: 'reconcile'; maxResources?: number; faults?: FaultSpec; crash?: CrashSpec };

const TAG_KEY = 'share-with';
const SHARE_KEYS = [TAG_KEY, `${TAG_KEY}.2`, `${TAG_KEY}.3`];
/** The product's writes a fault may target (a `*` fault is spread over all of them). */
export const WRITE_ACTIONS = [
  'UpdateRole',
  'CreateRole',
  'CreatePolicyVersion',
  'CreatePolicy',
  'AttachPolicyToRole',
  'DeletePolicyVersion',
  'ModifyImageSharePermission',
  'TagResources',
  'UntagResources',
  'CreateResourceShare',
  'AssociateResourceShare',
  'DisassociateResourceShare',
  'DeleteResourceShare',
  'UpdateResourceShare',
];

function drawFaults(r: Rng): FaultSpec | undefined {
  if (!r.chance(0.55)) return undefined;
  const spec: FaultSpec = { rules: [], after: [] };
  const n = r.int(1, 2);
  for (let i = 0; i < n; i++) {
    const seed = r.int(1, 1e9);
    switch (r.int(0, 7)) {
      case 0:
        spec.rules.push({
          action: '*',
          product: r.pick(['ram', 'ecs', 'resourcesharing'] as const),
          kind: 'throttle',
          rate: 0.1 + r.next() * 0.25,
          seed,
          retryAfterMs: r.int(5, 80),
        });
        break;
      case 1:
        spec.rules.push({
          action: '*',
          kind: r.pick(['unavailable', 'internal'] as const),
          rate: 0.04 + r.next() * 0.1,
          seed,
        });
        break;
      case 2:
        spec.rules.push({ action: '*', kind: 'latency', rate: 0.3, seed, latencyMs: r.int(5, 60) });
        break;
      case 3:
        spec.rules.push({ action: '*', kind: 'drop', rate: 0.03 + r.next() * 0.07, seed });
        break;
      case 4:
        // A throttled read-merge-write that lands late, after another instance's write (issue 7, stale writes).
        spec.rules.push({
          action: r.pick(['UpdateRole', 'CreatePolicyVersion'] as const),
          kind: 'throttle',
          nth: r.int(1, 2),
          times: 1,
          retryAfterMs: r.int(200, 400),
        });
        break;
      case 5:
        // Every ledger tag write of the step fails: the image is shared but its ecs-share:granted record is not written.
        spec.rules.push({ action: 'TagResources', kind: r.pick(['unavailable', 'internal'] as const), rate: 1, seed });
        break;
      default:
        spec.after.push({
          action: r.chance(0.5) ? '*' : r.pick(WRITE_ACTIONS),
          kind: r.pick(['dropAfter', 'unavailableAfter'] as const),
          rate: 0.1 + r.next() * 0.3,
          seed,
        });
    }
  }
  return spec;
}

function drawCrash(r: Rng): CrashSpec | undefined {
  if (!r.chance(0.25)) return undefined;
  const spec: CrashSpec = { invocation: r.int(0, 7), afterWrites: r.int(1, 5) };
  return r.chance(0.5) ? { ...spec, afterAction: r.pick(SEAMS) } : spec;
}

function drawTargets(r: Rng): Target[] {
  return r.shuffle(ALL_TARGETS).slice(0, r.int(1, 3));
}

/** Tag values: usually the base key; sometimes split over continuation keys, sometimes continuation keys only. */
function drawTagSet(r: Rng, targets: Target[]): Record<string, Target[]> {
  const mode = r.next();
  if (mode < 0.7 || targets.length === 1) {
    if (targets.length === 1 && mode > 0.9) return { [`${TAG_KEY}.2`]: targets };
    return packed(targets, TAG_KEY);
  }
  if (mode < 0.9) return { [TAG_KEY]: targets.slice(0, 1), [`${TAG_KEY}.2`]: targets.slice(1) };
  return { [`${TAG_KEY}.2`]: targets.slice(0, 1), [`${TAG_KEY}.3`]: targets.slice(1) };
}

/** One key unless the value would pass 128 characters; then the rest goes to the next key. */
function packed(targets: Target[], base: string): Record<string, Target[]> {
  const out: Record<string, Target[]> = {};
  let key = 0;
  let len = 0;
  for (const t of targets) {
    const l = t.kind === 'folder' ? 46 : 16;
    if (len + l + 1 > 128) {
      key++;
      len = 0;
    }
    const k = key === 0 ? base : `${base}.${key + 1}`;
    (out[k] ??= []).push(t);
    len += l + 1;
  }
  return out;
}

export function generateHistory(seed: number, steps: number): Step[] {
  const r = rng(seed);
  const out: Step[] = [];
  let handTrust = false;
  let manual = false;
  const deleted = new Set<string>();
  const disabled = new Set<KeyName>();
  if (r.chance(0.5)) {
    out.push({ t: 'handTrust' });
    handTrust = true;
    if (r.chance(0.6)) {
      out.push({ t: 'manualShare' });
      manual = true;
    }
  }
  const alive = () => RESOURCES.filter((x) => !deleted.has(x.name));
  while (out.length < steps) {
    const w = r.next();
    if (w < 0.3) {
      const res = r.pick(alive());
      out.push({ t: 'tag', r: res.name, tags: drawTagSet(r, drawTargets(r)) });
    } else if (w < 0.38) {
      const res = r.pick(alive());
      out.push({ t: 'untag', r: res.name, keys: r.chance(0.7) ? SHARE_KEYS : [r.pick(SHARE_KEYS)] });
    } else if (w < 0.62) {
      const res = r.pick(alive());
      const during = r.chance(0.3)
        ? {
            step: r.chance(0.7)
              ? { t: 'tag' as const, r: res.name, tags: drawTagSet(r, drawTargets(r)) }
              : { t: 'untag' as const, r: res.name, keys: SHARE_KEYS },
            delayMs: r.int(0, 250),
          }
        : undefined;
      out.push({
        t: 'deliver',
        seed: r.int(1, 1e9),
        instances: r.int(1, 8),
        faults: drawFaults(r),
        crash: drawCrash(r),
        ...(r.chance(0.3) ? { reconcile: { maxResources: r.chance(0.6) ? r.int(1, 3) : undefined } } : {}),
        ...(during ? { during } : {}),
      });
    } else if (w < 0.74) {
      out.push({
        t: 'reconcile',
        maxResources: r.chance(0.5) ? r.int(1, 3) : undefined,
        faults: drawFaults(r),
        crash: drawCrash(r),
      });
    } else if (w < 0.78) {
      out.push({ t: 'accept' });
    } else if (w < 0.82) {
      const k = r.pick(Object.keys(KEYS) as KeyName[]);
      if (disabled.has(k)) {
        disabled.delete(k);
        out.push({ t: 'enableKey', k });
      } else if (disabled.size === 0) {
        disabled.add(k);
        out.push({ t: 'disableKey', k });
      }
    } else if (w < 0.86) {
      const k = [...disabled][0];
      if (k) {
        disabled.delete(k);
        out.push({ t: 'enableKey', k });
      }
    } else if (w < 0.88) {
      if (deleted.size < 2) {
        const res = r.pick(alive().filter((x) => x.name !== MANUAL_IMAGE || !manual));
        deleted.add(res.name);
        out.push({ t: 'delete', r: res.name });
      }
    } else if (w < 0.92) {
      out.push({ t: 'driftTrust', role: r.pick(['snapshot', 'image'] as const), seed: r.int(1, 1e9) });
    } else if (w < 0.94) {
      out.push({ t: 'driftDetach', role: r.pick(['snapshot', 'image'] as const) });
    } else if (w < 0.96) {
      out.push({ t: 'driftShare', seed: r.int(1, 1e9) });
    } else if (!handTrust) {
      out.push({ t: 'handTrust' });
      handTrust = true;
    } else if (!manual && !deleted.has(MANUAL_IMAGE)) {
      out.push({ t: 'manualShare' });
      manual = true;
    }
  }
  return out.slice(0, steps);
}

function faultText(f?: FaultSpec): string {
  if (!f) return '';
  const parts = [
    ...f.rules.map(
      (x) =>
        `${x.kind}${x.product ? `:${x.product}` : ''}${x.action !== '*' ? `:${x.action}` : ''}${x.rate !== undefined ? `@${x.rate.toFixed(2)}` : ''}${x.nth !== undefined ? `#${x.nth}` : ''}${x.retryAfterMs ? `/${x.retryAfterMs}ms` : ''}`,
    ),
    ...f.after.map((x) => `${x.kind}${x.action !== '*' ? `:${x.action}` : ''}@${x.rate.toFixed(2)}`),
  ];
  return ` faults[${parts.join(' ')}]`;
}

export function describeStep(s: Step): string {
  switch (s.t) {
    case 'tag':
      return `tag ${s.r} ${Object.entries(s.tags)
        .map(([k, ts]) => `${k}=${ts.map(targetLabel).join(',')}`)
        .join(' ')}`;
    case 'untag':
      return `untag ${s.r} ${s.keys.join(',')}`;
    case 'delete':
      return `delete ${s.r}`;
    case 'disableKey':
    case 'enableKey':
      return `${s.t} ${s.k}`;
    case 'driftTrust':
      return `drift: remove a trust principal from the ${s.role} role (seed ${s.seed})`;
    case 'driftDetach':
      return `drift: detach the ${s.role} KMS policy`;
    case 'driftShare':
      return `drift: disassociate a target from an ecs-share resource share (seed ${s.seed})`;
    case 'handTrust':
      return 'hand-written trust statement for M on the image role + a foreign policy';
    case 'manualShare':
      return `manual share of ${MANUAL_IMAGE} with M`;
    case 'accept':
      return 'external recipients accept their invitations';
    case 'deliver':
      return `deliver events (seed ${s.seed}) on ${s.instances} instance(s)${s.during ? ` while the owner does "${describeStep(s.during.step)}" after ${s.during.delayMs} ms` : ''}${s.reconcile ? ` + concurrent reconcile${s.reconcile.maxResources ? ` maxResources=${s.reconcile.maxResources}` : ''}` : ''}${faultText(s.faults)}${s.crash ? ` crash(invocation ${s.crash.invocation}, ${crashPoint(s.crash)})` : ''}`;
    case 'reconcile':
      return `reconcile${s.maxResources ? ` maxResources=${s.maxResources}` : ''}${faultText(s.faults)}${s.crash ? ` crash(${crashPoint(s.crash)})` : ''}`;
  }
}

function crashPoint(c: CrashSpec): string {
  return c.afterAction ? `after its first ${c.afterAction}` : `after write ${c.afterWrites}`;
}
