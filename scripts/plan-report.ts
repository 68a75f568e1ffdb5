// Render a run summary's plan for a person: one line per change, grouped by resource.
import type { PlanAction } from '../shared/share/model';

function describe(a: PlanAction): string {
  switch (a.kind) {
    case 'createRole':
      return `create role ${a.roleName} trusting ${a.grants.length} recipient grant(s)`;
    case 'mergeTrust':
      return `trust policy of ${a.roleName}: ${[...a.add.map((g) => `+${JSON.stringify(g)}`), ...a.remove.map((g) => `-${JSON.stringify(g)}`)].join(' ')}`;
    case 'writeKmsPolicies':
      return `KMS policies of ${a.roleName}: ${[...a.add.map((k) => `+${k.keyId}`), ...a.remove.map((k) => `-${k.keyId}`)].join(' ') || 'rewritten'}`;
    case 'attachPolicy':
      return `attach ${a.policyType} policy ${a.policyName} to ${a.roleName}`;
    case 'shareImageAccounts':
      return `share image with account(s) ${a.add.join(', ')}`;
    case 'unshareImageAccounts':
      return `stop sharing image with account(s) ${a.remove.join(', ')}`;
    case 'writeGrantLedger':
      return `grant record on the image: ${[...(a.intend ?? []).map((u) => `intend ${u}`), ...(a.confirm ?? []).map((u) => `confirm ${u}`), ...(a.forget ?? []).map((u) => `forget ${u}`)].join(', ')}`;
    case 'createResourceShare':
      return `create resource share ${a.name} with ${a.targets.join(', ')}${a.allowExternalTargets ? ' (external targets allowed)' : ''}`;
    case 'allowExternalTargets':
      return `allow external targets on ${a.shareId}`;
    case 'associateTargets':
      return `add ${a.targets.join(', ')} to ${a.shareId}`;
    case 'disassociateTargets':
      return `remove ${a.targets.join(', ')} from ${a.shareId}`;
    case 'deleteResourceShare':
      return `delete resource share ${a.shareId}`;
    default:
      return JSON.stringify(a);
  }
}

export function formatPlan(summary: unknown): string {
  const s = summary as {
    results?: Array<{ resourceId: string; region: string; outcome: string; reason?: string; actions?: PlanAction[] }>;
    roleActions?: PlanAction[];
  };
  const lines: string[] = [];
  for (const r of s.results ?? []) {
    const acts = r.actions ?? [];
    lines.push(
      `${r.region} ${r.resourceId}: ${acts.length ? `${acts.length} change(s)` : r.outcome}${r.reason ? ` — ${r.reason}` : ''}`,
    );
    for (const a of acts) lines.push(`  - ${describe(a)}`);
  }
  if (s.roleActions?.length) {
    lines.push(`share roles: ${s.roleActions.length} change(s)`);
    for (const a of s.roleActions) lines.push(`  - ${describe(a)}`);
  }
  return lines.length ? lines.join('\n') : 'nothing to change';
}
