// STS 2015-04-01: GetCallerIdentity and AssumeRole. AssumeRole needs both the caller's sts:AssumeRole permission on
// the role ARN (checked by the server from `resources`) and the role's trust policy (checked here).
import { ApiError, intParam, type ActionTable, type CallContext, type Caller, type Role } from '../types';
import { findRole } from '../permissions';
import { parsePolicyDocument, trustAllows } from '../policy';
import { roleIdOf } from '../signature';
import { newStsSession } from '../state';

/** Session policies passed to AssumeRole may be at most this long (STS documents 2,048 characters). */
const SESSION_POLICY_MAX_LENGTH = 2048;

const ROLE_ARN = /^acs:ram::(\d+):role\/(.+)$/i;

/** The RAM identity a trust policy sees: the account root, a user, or (for a role session) the role itself. */
export function trustIdentity(caller: Caller): string {
  if (caller.type === 'user') return `acs:ram::${caller.accountId}:user/${caller.userName}`;
  if (caller.type === 'role') return `acs:ram::${caller.accountId}:role/${caller.roleName}`;
  return `acs:ram::${caller.accountId}:root`;
}

function noPermission(): ApiError {
  return new ApiError(
    403,
    'NoPermission',
    'You are not authorized to do this action. You should be authorized by RAM.',
  );
}

function roleOf(ctx: CallContext): Role {
  const m = ROLE_ARN.exec(ctx.params.RoleArn);
  if (!m)
    throw new ApiError(400, 'InvalidParameter.RoleArn', `The parameter "RoleArn" is invalid: ${ctx.params.RoleArn}.`);
  const role = findRole(ctx.state, m[1], m[2]);
  if (!role) throw new ApiError(404, 'EntityNotExist.Role', `The role not exists: ${ctx.params.RoleArn}.`);
  return role;
}

function checkSessionName(name: string): void {
  if (!/^[\w.@-]{2,64}$/.test(name)) {
    throw new ApiError(400, 'InvalidParameter.RoleSessionName', `The parameter "RoleSessionName" is invalid: ${name}.`);
  }
}

/** STS reports session-policy problems with its own codes (the emulator's reading; the mapping is unconfirmed). */
function checkSessionPolicy(text: string): void {
  try {
    parsePolicyDocument(text, 'permission', SESSION_POLICY_MAX_LENGTH, 'InvalidParameter.PolicyLength');
  } catch (e) {
    if (e instanceof ApiError && e.code === 'MalformedPolicyDocument') {
      throw new ApiError(
        400,
        'InvalidParameter.PolicyGrammar',
        `The parameter "Policy" has a grammar error: ${e.message}`,
      );
    }
    throw e;
  }
}

export const actions: ActionTable = {
  GetCallerIdentity: {
    noAuthorization: true,
    handler(ctx) {
      const c = ctx.caller;
      if (c.type === 'root') {
        return {
          AccountId: c.accountId,
          UserId: c.accountId,
          PrincipalId: c.accountId,
          Arn: `acs:ram::${c.accountId}:root`,
          IdentityType: 'Account',
        };
      }
      if (c.type === 'user') {
        const user = ctx.state.accounts
          .find((a) => a.uid === c.accountId)
          ?.users?.find((u) => u.userName === c.userName);
        const id = user?.userId ?? c.principalId;
        return {
          AccountId: c.accountId,
          UserId: id,
          PrincipalId: id,
          Arn: `acs:ram::${c.accountId}:user/${c.userName}`,
          IdentityType: 'RAMUser',
        };
      }
      const roleId = roleIdOf(ctx.state, c.accountId, c.roleName ?? '');
      const principal = `${roleId}:${c.sessionName}`;
      return {
        AccountId: c.accountId,
        UserId: principal,
        PrincipalId: principal,
        RoleId: roleId,
        Arn: `acs:ram::${c.accountId}:assumed-role/${c.roleName}/${c.sessionName}`,
        IdentityType: 'AssumedRoleUser',
      };
    },
  },

  AssumeRole: {
    required: ['RoleArn', 'RoleSessionName'],
    resources: (ctx) => [ctx.params.RoleArn],
    handler(ctx) {
      checkSessionName(ctx.params.RoleSessionName);
      const role = roleOf(ctx);
      const duration = intParam(ctx.params, 'DurationSeconds', 3600, 900, role.maxSessionDuration ?? 3600);
      if (ctx.params.Policy) checkSessionPolicy(ctx.params.Policy);
      if (!trustAllows(role.assumeRolePolicyDocument, { ram: trustIdentity(ctx.caller) }, {})) throw noPermission();

      const session = newStsSession(ctx.state, {
        accountId: role.accountId,
        roleName: role.roleName,
        sessionName: ctx.params.RoleSessionName,
        durationSeconds: duration,
        policy: ctx.params.Policy || undefined,
        now: ctx.emu.now().getTime(),
      });
      return {
        Credentials: {
          AccessKeyId: session.accessKeyId,
          AccessKeySecret: session.secret,
          SecurityToken: session.token,
          Expiration: session.expiration,
        },
        AssumedRoleUser: {
          Arn: `acs:ram::${role.accountId}:role/${role.roleName}/${session.sessionName}`,
          AssumedRoleId: `${roleIdOf(ctx.state, role.accountId, role.roleName)}:${session.sessionName}`,
        },
      };
    },
  },
};
