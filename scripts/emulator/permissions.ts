// What RAM lets an identity do: the system policies the emulator knows, the documents attached to a role or RAM user,
// and the verdict on a caller (its policies and, for a role session, its session policy). The policy language itself
// is policy.ts.
import {
  defaultContext,
  evaluate,
  parsePolicyDocument,
  type ConditionContext,
  type EvaluationRequest,
  type PolicyDocument,
  type Statement,
} from './policy';
import type { Caller, FullState } from './types';

// ---------------------------------------------------------------- system policies and attachments

function systemPolicy(statements: Array<Omit<Statement, 'Effect'>>): PolicyDocument {
  return { Version: '1', Statement: statements.map((s) => ({ Effect: 'Allow', ...s })) };
}

/** The built-in system policies the emulator knows (simplified to their effect on the five emulated products). */
export const SYSTEM_POLICIES: Record<string, { description: string; document: PolicyDocument }> = {
  AdministratorAccess: {
    description: 'Provides full access to Alibaba Cloud services and resources.',
    document: systemPolicy([{ Action: '*', Resource: '*' }]),
  },
  ReadOnlyAccess: {
    description: 'Provides read-only access to Alibaba Cloud services and resources.',
    document: systemPolicy([{ Action: ['*:Describe*', '*:List*', '*:Get*', '*:Query*'], Resource: '*' }]),
  },
  AliyunKMSFullAccess: {
    description: 'Provides full access to Key Management Service (KMS).',
    document: systemPolicy([{ Action: 'kms:*', Resource: '*' }]),
  },
  AliyunECSDiskEncryptRolePolicy: {
    description: 'The policy for the ECS disk encryption default role (AliyunECSDiskEncryptDefaultRole).',
    document: systemPolicy([
      {
        Action: [
          'kms:List*',
          'kms:DescribeKey',
          'kms:TagResource',
          'kms:UntagResource',
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ],
        Resource: '*',
      },
    ]),
  },
  AliyunECSDiskEncryptDefaultRolePolicy: {
    description: 'The policy for the ECS disk encryption default role.',
    document: systemPolicy([
      {
        Action: [
          'kms:List*',
          'kms:DescribeKey',
          'kms:TagResource',
          'kms:UntagResource',
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ],
        Resource: '*',
      },
    ]),
  },
  AliyunECSFullAccess: {
    description: 'Provides full access to Elastic Compute Service (ECS).',
    document: systemPolicy([{ Action: 'ecs:*', Resource: '*' }]),
  },
  AliyunECSReadOnlyAccess: {
    description: 'Provides read-only access to Elastic Compute Service (ECS).',
    document: systemPolicy([{ Action: 'ecs:Describe*', Resource: '*' }]),
  },
  AliyunRAMFullAccess: {
    description: 'Provides full access to Resource Access Management (RAM).',
    document: systemPolicy([{ Action: 'ram:*', Resource: '*' }]),
  },
  AliyunSTSAssumeRoleAccess: {
    description: 'Provides access to call the AssumeRole operation of STS.',
    document: systemPolicy([{ Action: 'sts:AssumeRole', Resource: '*' }]),
  },
  AliyunResourceSharingFullAccess: {
    description: 'Provides full access to Resource Sharing.',
    document: systemPolicy([{ Action: 'resourcesharing:*', Resource: '*' }]),
  },
};

/** Role names are matched case-insensitively, as RAM treats them (the emulator's choice where unconfirmed). */
export function findRole(state: FullState, accountId: string, roleName: string) {
  const wanted = roleName.toLowerCase();
  return state.roles.find((r) => r.accountId === accountId && r.roleName.toLowerCase() === wanted);
}

export function findCustomPolicy(state: FullState, accountId: string, policyName: string) {
  return state.policies.find((p) => p.accountId === accountId && p.policyName === policyName);
}

interface TypedDocument {
  type: 'System' | 'Custom';
  name: string;
  document: PolicyDocument;
}

/** Documents stored in state were validated when written; a state file may still hold junk, which then grants nothing. */
function parseStored(text: string): PolicyDocument | undefined {
  try {
    return parsePolicyDocument(text, 'permission', Number.MAX_SAFE_INTEGER);
  } catch {
    return undefined;
  }
}

function attachedTypedDocuments(
  state: FullState,
  accountId: string,
  principal: { roleName: string } | { userName: string },
): TypedDocument[] {
  const attached =
    'roleName' in principal
      ? findRole(state, accountId, principal.roleName)?.attachedPolicies
      : state.accounts.find((a) => a.uid === accountId)?.users?.find((u) => u.userName === principal.userName)
          ?.attachedPolicies;
  const out: TypedDocument[] = [];
  for (const p of attached ?? []) {
    if (p.policyType === 'System') {
      const sys = SYSTEM_POLICIES[p.policyName];
      if (sys) out.push({ type: 'System', name: p.policyName, document: sys.document });
      continue;
    }
    const custom = findCustomPolicy(state, accountId, p.policyName);
    const version = custom?.versions.find((v) => v.versionId === custom.defaultVersion);
    const doc = version && parseStored(version.document);
    if (doc) out.push({ type: 'Custom', name: p.policyName, document: doc });
  }
  return out;
}

/** The permission documents attached to a role or RAM user (custom policies at their default version). */
export function attachedPolicyDocuments(
  state: FullState,
  accountId: string,
  principal: { roleName: string } | { userName: string },
): PolicyDocument[] {
  return attachedTypedDocuments(state, accountId, principal).map((t) => t.document);
}

// ---------------------------------------------------------------- caller authorization

interface AuthorizationResult {
  allowed: boolean;
  explicitDeny: boolean;
  /** Type of the policy that denied explicitly (a session policy counts as Custom). */
  policyType?: 'System' | 'Custom';
  deniedResource?: string;
}

function explicitDenier(docs: TypedDocument[], req: EvaluationRequest): TypedDocument | undefined {
  return docs.find((d) => evaluate([d.document], req) === 'Deny');
}

/**
 * Root may do anything. A RAM user is limited by its attached policies; a role session by its role's attached
 * policies and, on top, by the session policy given to AssumeRole. Every resource must be allowed.
 * `contextFor` adds the keys of one resource (e.g. its `acs:ResourceTag/<key>`) over `context` when that resource is
 * evaluated, so a call touching several resources is judged per resource. An explicit deny on any resource is
 * reported before an implicit one on another.
 */
export function isCallerAllowed(
  state: FullState,
  caller: Caller,
  action: string,
  resources: string[],
  context: ConditionContext,
  contextFor?: (resource: string) => ConditionContext,
): AuthorizationResult {
  if (caller.type === 'root') return { allowed: true, explicitDeny: false };
  const docs =
    caller.type === 'role'
      ? attachedTypedDocuments(state, caller.accountId, { roleName: caller.roleName ?? '' })
      : attachedTypedDocuments(state, caller.accountId, { userName: caller.userName ?? '' });
  const session = caller.type === 'role' && caller.sessionPolicy ? parseStored(caller.sessionPolicy) : undefined;
  const base = { ...defaultContext(), ...context };
  const requests = (resources.length ? resources : ['*']).map((resource) => ({
    action,
    resource,
    context: contextFor ? { ...base, ...contextFor(resource) } : base,
  }));
  for (const req of requests) {
    const denier = explicitDenier(docs, req);
    if (denier) return { allowed: false, explicitDeny: true, policyType: denier.type, deniedResource: req.resource };
    if (session && evaluate([session], req) === 'Deny') {
      return { allowed: false, explicitDeny: true, policyType: 'Custom', deniedResource: req.resource };
    }
  }
  for (const req of requests) {
    const resource = req.resource;
    const identityAllows =
      evaluate(
        docs.map((d) => d.document),
        req,
      ) === 'Allow';
    const sessionAllows = !caller.sessionPolicy || (session !== undefined && evaluate([session], req) === 'Allow');
    if (!identityAllows || !sessionAllows) return { allowed: false, explicitDeny: false, deniedResource: resource };
  }
  return { allowed: true, explicitDeny: false };
}
