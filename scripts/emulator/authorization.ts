// RAM authorization of an API call, as the server runs it before the handler: the RAM action (<prefix>:<Action>),
// the resources and condition keys the action's spec names, the caller's verdict (permissions.ts), and the 403 each
// product answers a denial with.
import { isCallerAllowed } from './permissions';
import { trustIdentity } from './services/sts';
import { ApiError, type ActionSpec, type CallContext, type Caller, type Product } from './types';

/** The RAM action prefix of each product (ecs:DescribeSnapshots, resourcesharing:CreateResourceShare, ...). */
const RAM_PREFIX: Record<Product, string> = {
  ecs: 'ecs',
  ram: 'ram',
  kms: 'kms',
  sts: 'sts',
  resourcesharing: 'resourcesharing',
  resourcemanager: 'resourcemanager',
  eventbridge: 'eventbridge',
  fc: 'fc',
};

/** The 403 each product answers a RAM denial with. */
const DENIAL: Record<Product, { code: string; message: string }> = {
  ecs: {
    code: 'Forbidden.RAM',
    message: "User not authorized to operate on the specified resource, or this API doesn't support RAM.",
  },
  ram: { code: 'NoPermission', message: 'You are not authorized to do this action. You should be authorized by RAM.' },
  sts: { code: 'NoPermission', message: 'You are not authorized to do this action. You should be authorized by RAM.' },
  kms: { code: 'Forbidden.NoPermission', message: 'This operation is forbidden by permission system.' },
  resourcesharing: { code: 'NoPermission', message: 'You are not authorized to perform the operation.' },
  resourcemanager: { code: 'NoPermission', message: 'You are not authorized to perform this operation.' },
  // Not documented for EventBridge: RAM's code.
  eventbridge: { code: 'NoPermission', message: 'You are not authorized to perform this operation.' },
  // FC's documented 403 (error codes: AccessDenied, message "%s").
  fc: { code: 'AccessDenied', message: 'You are not authorized to do this action. You should be authorized by RAM.' },
};

/** Throws the product's 403 unless RAM allows the caller the action on every resource it names (root: always). */
export function authorize(ctx: CallContext, spec: ActionSpec): void {
  if (ctx.caller.type === 'root' || spec.noAuthorization) return;
  const ramAction = spec.ramAction ?? `${RAM_PREFIX[ctx.product]}:${ctx.action}`;
  const resources = spec.resources?.(ctx) ?? ['*'];
  const context = {
    'acs:CurrentTime': ctx.emu.nowIso(),
    'acs:SourceIp': '127.0.0.1',
    // The caller's identity ARN, not the session ARN: a role session is acs:ram::<uid>:role/<name> (the role as
    // stored), a RAM user acs:ram::<uid>:user/<name>; the same identity a trust policy sees.
    'acs:PrincipalARN': trustIdentity(ctx.caller),
    ...(spec.conditionContext?.(ctx) ?? {}),
  };
  const perResource = spec.resourceConditionContext;
  const verdict = isCallerAllowed(
    ctx.state,
    ctx.caller,
    ramAction,
    resources,
    context,
    perResource && ((r) => perResource(ctx, r)),
  );
  if (verdict.allowed) return;
  const denial = DENIAL[ctx.product];
  const noPermissionType = verdict.explicitDeny ? 'ExplicitDeny' : 'ImplicitDeny';
  // RAM reports where the deciding policy is attached, not whether it is System or Custom.
  const policyType =
    verdict.policyType && !['System', 'Custom'].includes(verdict.policyType)
      ? verdict.policyType
      : 'AccountLevelIdentityBasedPolicy';
  const diagnostic = {
    AuthAction: ramAction,
    Resources: resources,
    Principal: ctx.caller.arn,
    NoPermissionType: noPermissionType,
    PolicyType: policyType,
  };
  throw new ApiError(403, denial.code, denial.message, {
    AccessDeniedDetail: {
      AuthAction: ramAction,
      AuthPrincipalType: ctx.caller.type === 'user' ? 'SubUser' : 'AssumedRoleUser',
      AuthPrincipalOwnerId: ctx.caller.accountId,
      AuthPrincipalDisplayName: callerName(ctx.caller),
      PolicyType: policyType,
      NoPermissionType: noPermissionType,
      EncodedDiagnosticMessage: Buffer.from(JSON.stringify(diagnostic)).toString('base64'),
    },
  });
}

export function callerName(c: Caller): string {
  if (c.type === 'user') return c.userName ?? '';
  if (c.type === 'role') return `${c.roleName}:${c.sessionName}`;
  return 'root';
}
