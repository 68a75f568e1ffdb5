// RAM 2015-05-01: roles, custom policies and their versions, attachments, and the few user calls tests need.
// Responses follow the @alicloud/ram20150501 models (PascalCase, lists always arrays). No locking: the last writer
// wins, as with the real RAM.
import { randomBytes, randomInt } from 'node:crypto';
import {
  ApiError,
  intParam,
  type ActionTable,
  type AttachedPolicy,
  type CallContext,
  type CustomPolicy,
  type PolicyVersion,
  type RamUser,
  type Role,
} from '../types';
import { derivedId } from '../signature';
import { SYSTEM_POLICIES, findCustomPolicy, findRole } from '../permissions';
import { formatPolicyDocument, parsePolicyDocument } from '../policy';
import { laggedRead, recordingWrites, type Tracked } from '../lag';

const MAX_POLICY_VERSIONS = 5;
const MAX_CUSTOM_PER_PRINCIPAL = 5;
const MAX_SYSTEM_PER_PRINCIPAL = 20;

// ---------------------------------------------------------------- ids, ARNs, validation

/** RAM ids are long digit strings (roles start with 3, users with 2 in the real service). */
function numericId(first: string): string {
  let s = first;
  while (s.length < 19) s += String(randomInt(10));
  return s;
}

const roleArn = (accountId: string, roleName: string) => `acs:ram::${accountId}:role/${roleName}`;
const policyArn = (accountId: string, policyName: string) => `acs:ram::${accountId}:policy/${policyName}`;
const userArn = (accountId: string, userName: string) => `acs:ram::${accountId}:user/${userName}`;

function checkName(value: string, field: string, max: number, chars: RegExp): void {
  if (value.length < 1 || value.length > max) {
    throw new ApiError(
      400,
      `InvalidParameter.${field}.Length`,
      `The parameter "${field}" must be 1 to ${max} characters long.`,
    );
  }
  if (!chars.test(value)) {
    throw new ApiError(
      400,
      `InvalidParameter.${field}.InvalidChars`,
      `The parameter "${field}" contains invalid characters.`,
    );
  }
}

const checkRoleName = (name: string) => checkName(name, 'RoleName', 64, /^[A-Za-z0-9.-]+$/);
const checkPolicyName = (name: string) => checkName(name, 'PolicyName', 128, /^[A-Za-z0-9-]+$/);
const checkUserName = (name: string) => checkName(name, 'UserName', 64, /^[A-Za-z0-9._@-]+$/);

function checkDescription(text: string | undefined, field = 'Description'): void {
  if (text !== undefined && text.length > 1024) {
    throw new ApiError(
      400,
      `InvalidParameter.${field}.Length`,
      `The parameter "${field}" must be at most 1024 characters long.`,
    );
  }
}

/** A role description is 1 to 1,024 characters (SDK CreateRole/UpdateRole models): sent empty, it is refused too. */
function checkRoleDescription(ctx: CallContext, field: 'Description' | 'NewDescription'): void {
  const text = ctx.params[field];
  if (field in ctx.params && (text === undefined || text.length === 0)) {
    throw new ApiError(
      400,
      `InvalidParameter.${field}.Length`,
      `The parameter "${field}" must be 1 to 1024 characters long.`,
    );
  }
  checkDescription(text, field);
}

function policyType(ctx: CallContext, required: boolean): 'System' | 'Custom' | undefined {
  const t = ctx.params.PolicyType;
  if (t === undefined || t === '') {
    if (required)
      throw new ApiError(
        400,
        'MissingParameter',
        'The input parameter "PolicyType" that is mandatory for processing this request is not supplied.',
      );
    return undefined;
  }
  if (t !== 'System' && t !== 'Custom')
    throw new ApiError(400, 'InvalidParameter.PolicyType', `The parameter "PolicyType" is invalid: ${t}.`);
  return t;
}

function checkVersionId(id: string): void {
  if (!/^v\d+$/.test(id))
    throw new ApiError(
      400,
      'InvalidParameter.VersionId.Format',
      `The format of the parameter "VersionId" is invalid: ${id}.`,
    );
}

function formatPermission(ctx: CallContext, text: string): string {
  return formatPolicyDocument(parsePolicyDocument(text, 'permission', ctx.emu.options.policyDocumentMaxLength));
}

function formatTrust(ctx: CallContext, text: string, lengthCode: string): string {
  return formatPolicyDocument(parsePolicyDocument(text, 'trust', ctx.emu.options.trustPolicyMaxLength, lengthCode));
}

// ---------------------------------------------------------------- lookups that throw the real codes

function roleOrThrow(ctx: CallContext, roleName: string): Role {
  const role = findRole(ctx.state, ctx.caller.accountId, roleName);
  if (!role) throw new ApiError(404, 'EntityNotExist.Role', `The role not exists: ${roleName}.`);
  return role;
}

function customPolicyOrThrow(ctx: CallContext, policyName: string): CustomPolicy {
  const policy = findCustomPolicy(ctx.state, ctx.caller.accountId, policyName);
  if (!policy) throw new ApiError(404, 'EntityNotExist.Policy', `The policy not exists: ${policyName}.`);
  return policy;
}

function userOrThrow(ctx: CallContext, userName: string): RamUser {
  const account = ctx.state.accounts.find((a) => a.uid === ctx.caller.accountId);
  const user = account?.users?.find((u) => u.userName === userName);
  if (!user) throw new ApiError(404, 'EntityNotExist.User', `The user not exists: ${userName}.`);
  return user;
}

function versionOrThrow(policy: CustomPolicy, versionId: string): PolicyVersion {
  const v = policy.versions.find((x) => x.versionId === versionId);
  if (!v)
    throw new ApiError(
      404,
      'EntityNotExist.Policy.Version',
      `The policy version not exists: ${policy.policyName}/${versionId}.`,
    );
  return v;
}

/** A system or custom policy as GetPolicy describes it, or 404 when it does not exist (`seen`: the custom policy as read). */
function describedPolicy(
  ctx: CallContext,
  name: string,
  type: 'System' | 'Custom',
  seen: CustomPolicy | undefined | null = null,
) {
  if (type === 'System') {
    const sys = SYSTEM_POLICIES[name];
    if (!sys) throw new ApiError(404, 'EntityNotExist.Policy', `The policy not exists: ${name}.`);
    const document = formatPolicyDocument(sys.document);
    return {
      description: sys.description,
      defaultVersion: 'v1',
      document,
      createDate: '2015-04-28T16:00:00Z',
      updateDate: '2015-04-28T16:00:00Z',
    };
  }
  const p = seen === null ? customPolicyOrThrow(ctx, name) : seen;
  if (!p) throw new ApiError(404, 'EntityNotExist.Policy', `The policy not exists: ${name}.`);
  const v = versionOrThrow(p, p.defaultVersion);
  return {
    description: p.description ?? '',
    defaultVersion: p.defaultVersion,
    document: v.document,
    createDate: p.createDate,
    updateDate: p.updateDate,
  };
}

/** Every role and user of the account that has this policy attached. */
function attachments(ctx: CallContext, name: string, type: 'System' | 'Custom') {
  const matches = (a: AttachedPolicy) => a.policyName === name && a.policyType === type;
  const roles = ctx.state.roles.filter(
    (r) => r.accountId === ctx.caller.accountId && (r.attachedPolicies ?? []).some(matches),
  );
  const account = ctx.state.accounts.find((a) => a.uid === ctx.caller.accountId);
  const users = (account?.users ?? []).filter((u) => (u.attachedPolicies ?? []).some(matches));
  return { roles, users };
}

// ---------------------------------------------------------------- response shapes

function roleBody(role: Role) {
  return {
    // Roles seeded from a state file may carry no id: the same derived id the signature layer uses.
    RoleId: role.roleId ?? derivedId('3', role.accountId, 'role', role.roleName),
    RoleName: role.roleName,
    Arn: roleArn(role.accountId, role.roleName),
    Description: role.description ?? '',
    AssumeRolePolicyDocument: role.assumeRolePolicyDocument,
    MaxSessionDuration: role.maxSessionDuration ?? 3600,
    CreateDate: role.createDate,
    UpdateDate: role.updateDate ?? role.createDate,
  };
}

function versionBody(policy: CustomPolicy, v: PolicyVersion) {
  return {
    VersionId: v.versionId,
    IsDefaultVersion: v.versionId === policy.defaultVersion,
    PolicyDocument: v.document,
    CreateDate: v.createDate,
  };
}

function attachmentList(attached: AttachedPolicy[] | undefined, ctx: CallContext) {
  return (attached ?? []).map((a) => {
    const described = (() => {
      try {
        return describedPolicy(ctx, a.policyName, a.policyType);
      } catch {
        return undefined;
      }
    })();
    return {
      PolicyName: a.policyName,
      PolicyType: a.policyType,
      DefaultVersion: described?.defaultVersion ?? 'v1',
      Description: described?.description ?? '',
      AttachDate: a.attachDate,
    };
  });
}

/** Attach a system or custom policy to a role's or user's list, with RAM's duplicate and quota checks. */
function attach(
  ctx: CallContext,
  list: AttachedPolicy[],
  kind: 'Role' | 'User',
  principalName: string,
): AttachedPolicy[] {
  const name = ctx.params.PolicyName;
  const type = policyType(ctx, true)!;
  describedPolicy(ctx, name, type);
  if (list.some((a) => a.policyName === name && a.policyType === type)) {
    throw new ApiError(
      409,
      `EntityAlreadyExists.${kind}.Policy`,
      `The policy already attached to the ${kind.toLowerCase()}: ${principalName}/${name}.`,
    );
  }
  const customLimit = kind === 'Role' ? ctx.state.options.customPoliciesPerRole : MAX_CUSTOM_PER_PRINCIPAL;
  const limit = type === 'Custom' ? customLimit : MAX_SYSTEM_PER_PRINCIPAL;
  if (list.filter((a) => a.policyType === type).length >= limit) {
    throw new ApiError(
      409,
      `LimitExceeded.${kind}.Policy`,
      `The count of ${type} policies attached to the ${kind.toLowerCase()} exceeds the limit of ${limit}.`,
    );
  }
  return [...list, { policyName: name, policyType: type, attachDate: ctx.emu.nowIso() }];
}

function detach(
  ctx: CallContext,
  list: AttachedPolicy[],
  kind: 'Role' | 'User',
  principalName: string,
): AttachedPolicy[] {
  const name = ctx.params.PolicyName;
  const type = policyType(ctx, true)!;
  const rest = list.filter((a) => !(a.policyName === name && a.policyType === type));
  if (rest.length === list.length) {
    throw new ApiError(
      404,
      `EntityNotExist.${kind}.Policy`,
      `The policy not attached to the ${kind.toLowerCase()}: ${principalName}/${name}.`,
    );
  }
  return rest;
}

// ---------------------------------------------------------------- handlers

const roleResource = (ctx: CallContext) => [roleArn(ctx.caller.accountId, ctx.params.RoleName)];
const policyResource = (ctx: CallContext) => [policyArn(ctx.caller.accountId, ctx.params.PolicyName)];
const userResource = (ctx: CallContext) => [userArn(ctx.caller.accountId, ctx.params.UserName)];

/** Paging of ListRoles: Marker is the (opaque) index of the next item. */
function page<T>(items: T[], marker: string | undefined, maxItems: number) {
  const start = marker ? Number(Buffer.from(marker, 'base64url').toString('utf8')) : 0;
  if (!Number.isInteger(start) || start < 0)
    throw new ApiError(400, 'InvalidParameter.Marker', 'The parameter "Marker" is invalid.');
  const slice = items.slice(start, start + maxItems);
  const truncated = start + maxItems < items.length;
  return {
    slice,
    truncated,
    next: truncated ? Buffer.from(String(start + maxItems)).toString('base64url') : undefined,
  };
}

// ---------------------------------------------------------------- read-after-write lag

const roleKey = (ctx: CallContext) => `role:${ctx.caller.accountId}:${ctx.params.RoleName.toLowerCase()}`;
const policyKey = (ctx: CallContext) => `policy:${ctx.caller.accountId}:${ctx.params.PolicyName}`;
const tracksRole = (ctx: CallContext): Tracked[] => [
  { key: roleKey(ctx), read: () => findRole(ctx.state, ctx.caller.accountId, ctx.params.RoleName) },
];
const tracksPolicy = (ctx: CallContext): Tracked[] => [
  { key: policyKey(ctx), read: () => findCustomPolicy(ctx.state, ctx.caller.accountId, ctx.params.PolicyName) },
];

/** The custom policy as GetPolicy/GetPolicyVersion see it (readLagMs ago); undefined when it did not exist then. */
function laggedPolicy(ctx: CallContext): CustomPolicy | undefined {
  return laggedRead(ctx, policyKey(ctx), () =>
    findCustomPolicy(ctx.state, ctx.caller.accountId, ctx.params.PolicyName),
  );
}

const ROLE_WRITES = ['CreateRole', 'UpdateRole', 'DeleteRole'];
const POLICY_WRITES = [
  'CreatePolicy',
  'CreatePolicyVersion',
  'DeletePolicyVersion',
  'SetDefaultPolicyVersion',
  'DeletePolicy',
];

const table: ActionTable = {
  CreateRole: {
    required: ['RoleName', 'AssumeRolePolicyDocument'],
    resources: roleResource,
    write: true,
    handler(ctx) {
      const { RoleName, AssumeRolePolicyDocument, Description } = ctx.params;
      checkRoleName(RoleName);
      checkRoleDescription(ctx, 'Description');
      const maxSessionDuration = intParam(ctx.params, 'MaxSessionDuration', 3600, 3600, 43200);
      const document = formatTrust(ctx, AssumeRolePolicyDocument, 'InvalidParameter.AssumeRolePolicyDocument.Length');
      if (findRole(ctx.state, ctx.caller.accountId, RoleName)) {
        throw new ApiError(409, 'EntityAlreadyExists.Role', `The role already exists: ${RoleName}.`);
      }
      const now = ctx.emu.nowIso();
      const role: Role = {
        accountId: ctx.caller.accountId,
        roleName: RoleName,
        roleId: numericId('3'),
        description: Description ?? '',
        assumeRolePolicyDocument: document,
        maxSessionDuration,
        createDate: now,
        updateDate: now,
        attachedPolicies: [],
      };
      ctx.state.roles.push(role);
      const { UpdateDate: _omit, ...body } = roleBody(role);
      return { Role: body };
    },
  },

  GetRole: {
    required: ['RoleName'],
    resources: roleResource,
    handler(ctx) {
      // Read-after-write lag: the role as it was readLagMs ago (possibly not there yet, or still there).
      const role = laggedRead(ctx, roleKey(ctx), () => findRole(ctx.state, ctx.caller.accountId, ctx.params.RoleName));
      if (!role) throw new ApiError(404, 'EntityNotExist.Role', `The role not exists: ${ctx.params.RoleName}.`);
      return { Role: roleBody(role) };
    },
  },

  UpdateRole: {
    required: ['RoleName'],
    resources: roleResource,
    write: true,
    handler(ctx) {
      const role = roleOrThrow(ctx, ctx.params.RoleName);
      const { NewAssumeRolePolicyDocument: doc, NewDescription: description } = ctx.params;
      checkRoleDescription(ctx, 'NewDescription');
      const duration = ctx.params.NewMaxSessionDuration
        ? intParam(ctx.params, 'NewMaxSessionDuration', 3600, 3600, 43200)
        : undefined;
      const document = doc ? formatTrust(ctx, doc, 'InvalidParameter.NewAssumeRolePolicyDocument.Length') : undefined;
      if (document !== undefined) role.assumeRolePolicyDocument = document;
      if (description !== undefined) role.description = description;
      if (duration !== undefined) role.maxSessionDuration = duration;
      role.updateDate = ctx.emu.nowIso();
      return { Role: roleBody(role) };
    },
  },

  DeleteRole: {
    required: ['RoleName'],
    resources: roleResource,
    write: true,
    handler(ctx) {
      const role = roleOrThrow(ctx, ctx.params.RoleName);
      if ((role.attachedPolicies ?? []).length > 0) {
        throw new ApiError(
          409,
          'DeleteConflict.Role.Policy',
          `The role still has policies attached: ${role.roleName}.`,
        );
      }
      ctx.state.roles.splice(ctx.state.roles.indexOf(role), 1);
      return {};
    },
  },

  ListRoles: {
    resources: (ctx) => [roleArn(ctx.caller.accountId, '*')],
    handler(ctx) {
      const maxItems = intParam(ctx.params, 'MaxItems', 100, 1, 1000);
      const roles = ctx.state.roles.filter((r) => r.accountId === ctx.caller.accountId);
      const { slice, truncated, next } = page(roles, ctx.params.Marker, maxItems);
      return {
        IsTruncated: truncated,
        ...(next ? { Marker: next } : {}),
        Roles: {
          Role: slice.map((r) => {
            const { AssumeRolePolicyDocument: _omit, ...rest } = roleBody(r);
            return rest;
          }),
        },
      };
    },
  },

  CreatePolicy: {
    required: ['PolicyName', 'PolicyDocument'],
    resources: policyResource,
    write: true,
    handler(ctx) {
      const { PolicyName, PolicyDocument, Description } = ctx.params;
      checkPolicyName(PolicyName);
      checkDescription(Description);
      const document = formatPermission(ctx, PolicyDocument);
      if (findCustomPolicy(ctx.state, ctx.caller.accountId, PolicyName) || SYSTEM_POLICIES[PolicyName]) {
        throw new ApiError(409, 'EntityAlreadyExists.Policy', `The policy already exists: ${PolicyName}.`);
      }
      const now = ctx.emu.nowIso();
      const policy: CustomPolicy = {
        accountId: ctx.caller.accountId,
        policyName: PolicyName,
        description: Description ?? '',
        createDate: now,
        updateDate: now,
        defaultVersion: 'v1',
        versions: [{ versionId: 'v1', document, createDate: now }],
        nextVersion: 2,
      };
      ctx.state.policies.push(policy);
      return {
        Policy: {
          PolicyName,
          PolicyType: 'Custom',
          DefaultVersion: 'v1',
          Description: policy.description,
          CreateDate: now,
        },
      };
    },
  },

  GetPolicy: {
    required: ['PolicyName', 'PolicyType'],
    resources: policyResource,
    handler(ctx) {
      const type = policyType(ctx, true)!;
      const name = ctx.params.PolicyName;
      const d = describedPolicy(ctx, name, type, laggedPolicy(ctx));
      const { roles, users } = attachments(ctx, name, type);
      return {
        Policy: {
          PolicyName: name,
          PolicyType: type,
          Description: d.description,
          DefaultVersion: d.defaultVersion,
          PolicyDocument: d.document,
          AttachmentCount: roles.length + users.length,
          CreateDate: d.createDate,
          UpdateDate: d.updateDate,
        },
        DefaultPolicyVersion: {
          VersionId: d.defaultVersion,
          IsDefaultVersion: true,
          PolicyDocument: d.document,
          CreateDate: d.createDate,
        },
      };
    },
  },

  GetPolicyVersion: {
    required: ['PolicyName', 'PolicyType', 'VersionId'],
    resources: policyResource,
    handler(ctx) {
      const type = policyType(ctx, true)!;
      checkVersionId(ctx.params.VersionId);
      if (type === 'System') {
        const d = describedPolicy(ctx, ctx.params.PolicyName, type);
        if (ctx.params.VersionId !== d.defaultVersion) {
          throw new ApiError(
            404,
            'EntityNotExist.Policy.Version',
            `The policy version not exists: ${ctx.params.PolicyName}/${ctx.params.VersionId}.`,
          );
        }
        return {
          PolicyVersion: {
            VersionId: d.defaultVersion,
            IsDefaultVersion: true,
            PolicyDocument: d.document,
            CreateDate: d.createDate,
          },
        };
      }
      const policy = laggedPolicy(ctx);
      if (!policy) throw new ApiError(404, 'EntityNotExist.Policy', `The policy not exists: ${ctx.params.PolicyName}.`);
      return { PolicyVersion: versionBody(policy, versionOrThrow(policy, ctx.params.VersionId)) };
    },
  },

  ListPolicyVersions: {
    required: ['PolicyName', 'PolicyType'],
    resources: policyResource,
    handler(ctx) {
      const type = policyType(ctx, true)!;
      if (type === 'System') {
        const d = describedPolicy(ctx, ctx.params.PolicyName, type);
        return {
          PolicyVersions: {
            PolicyVersion: [
              {
                VersionId: d.defaultVersion,
                IsDefaultVersion: true,
                PolicyDocument: d.document,
                CreateDate: d.createDate,
              },
            ],
          },
        };
      }
      const policy = customPolicyOrThrow(ctx, ctx.params.PolicyName);
      return { PolicyVersions: { PolicyVersion: policy.versions.map((v) => versionBody(policy, v)) } };
    },
  },

  CreatePolicyVersion: {
    required: ['PolicyName', 'PolicyDocument'],
    resources: policyResource,
    write: true,
    handler(ctx) {
      const policy = customPolicyOrThrow(ctx, ctx.params.PolicyName);
      const rotate = ctx.params.RotateStrategy || 'None';
      if (rotate !== 'None' && rotate !== 'DeleteOldestNonDefaultVersionWhenLimitExceeded') {
        throw new ApiError(
          400,
          'InvalidParameter.RotateStrategy',
          `The parameter "RotateStrategy" is invalid: ${rotate}.`,
        );
      }
      const document = formatPermission(ctx, ctx.params.PolicyDocument);
      if (policy.versions.length >= MAX_POLICY_VERSIONS) {
        if (rotate === 'None') {
          throw new ApiError(
            409,
            'LimitExceeded.Policy.Version',
            `The count of versions of the policy exceeds the limit of ${MAX_POLICY_VERSIONS}: ${policy.policyName}.`,
          );
        }
        const oldest = policy.versions.find((v) => v.versionId !== policy.defaultVersion)!;
        policy.versions.splice(policy.versions.indexOf(oldest), 1);
      }
      const next = policy.nextVersion ?? Math.max(0, ...policy.versions.map((v) => Number(v.versionId.slice(1)))) + 1;
      const now = ctx.emu.nowIso();
      const version: PolicyVersion = { versionId: `v${next}`, document, createDate: now };
      policy.versions.push(version);
      policy.nextVersion = next + 1;
      if (ctx.params.SetAsDefault === 'true') policy.defaultVersion = version.versionId;
      policy.updateDate = now;
      return { PolicyVersion: versionBody(policy, version) };
    },
  },

  DeletePolicyVersion: {
    required: ['PolicyName', 'VersionId'],
    resources: policyResource,
    write: true,
    handler(ctx) {
      checkVersionId(ctx.params.VersionId);
      const policy = customPolicyOrThrow(ctx, ctx.params.PolicyName);
      const version = versionOrThrow(policy, ctx.params.VersionId);
      if (version.versionId === policy.defaultVersion) {
        throw new ApiError(
          409,
          'DeleteConflict.Policy.Version.Default',
          `The default version of the policy cannot be deleted: ${policy.policyName}/${version.versionId}.`,
        );
      }
      policy.versions.splice(policy.versions.indexOf(version), 1);
      return {};
    },
  },

  SetDefaultPolicyVersion: {
    required: ['PolicyName', 'VersionId'],
    resources: policyResource,
    write: true,
    handler(ctx) {
      checkVersionId(ctx.params.VersionId);
      const policy = customPolicyOrThrow(ctx, ctx.params.PolicyName);
      policy.defaultVersion = versionOrThrow(policy, ctx.params.VersionId).versionId;
      policy.updateDate = ctx.emu.nowIso();
      return {};
    },
  },

  DeletePolicy: {
    required: ['PolicyName'],
    resources: policyResource,
    write: true,
    handler(ctx) {
      const policy = customPolicyOrThrow(ctx, ctx.params.PolicyName);
      // Attachments are checked before versions (the emulator's choice of order).
      const { roles, users } = attachments(ctx, policy.policyName, 'Custom');
      if (users.length > 0)
        throw new ApiError(
          409,
          'DeleteConflict.Policy.User',
          `The policy is still attached to a user: ${policy.policyName}.`,
        );
      if (roles.length > 0)
        throw new ApiError(
          409,
          'DeleteConflict.Policy.Role',
          `The policy is still attached to a role: ${policy.policyName}.`,
        );
      if (policy.versions.length > 1) {
        throw new ApiError(
          409,
          'DeleteConflict.Policy.Version',
          `The policy still has non-default versions: ${policy.policyName}.`,
        );
      }
      ctx.state.policies.splice(ctx.state.policies.indexOf(policy), 1);
      return {};
    },
  },

  AttachPolicyToRole: {
    required: ['PolicyType', 'PolicyName', 'RoleName'],
    resources: (ctx) => [...roleResource(ctx), ...policyResource(ctx)],
    write: true,
    handler(ctx) {
      const role = roleOrThrow(ctx, ctx.params.RoleName);
      role.attachedPolicies = attach(ctx, role.attachedPolicies ?? [], 'Role', role.roleName);
      return {};
    },
  },

  DetachPolicyFromRole: {
    required: ['PolicyType', 'PolicyName', 'RoleName'],
    resources: (ctx) => [...roleResource(ctx), ...policyResource(ctx)],
    write: true,
    handler(ctx) {
      const role = roleOrThrow(ctx, ctx.params.RoleName);
      role.attachedPolicies = detach(ctx, role.attachedPolicies ?? [], 'Role', role.roleName);
      return {};
    },
  },

  ListPoliciesForRole: {
    required: ['RoleName'],
    resources: roleResource,
    handler(ctx) {
      const role = roleOrThrow(ctx, ctx.params.RoleName);
      return { Policies: { Policy: attachmentList(role.attachedPolicies, ctx) } };
    },
  },

  CreateUser: {
    required: ['UserName'],
    resources: userResource,
    write: true,
    handler(ctx) {
      const { UserName, DisplayName } = ctx.params;
      checkUserName(UserName);
      const account = ctx.state.accounts.find((a) => a.uid === ctx.caller.accountId)!;
      account.users = account.users ?? [];
      if (account.users.some((u) => u.userName === UserName)) {
        throw new ApiError(409, 'EntityAlreadyExists.User', `The user already exists: ${UserName}.`);
      }
      const user: RamUser = { userName: UserName, userId: numericId('2'), accessKeys: [], attachedPolicies: [] };
      account.users.push(user);
      return {
        User: { UserName, UserId: user.userId, DisplayName: DisplayName ?? UserName, CreateDate: ctx.emu.nowIso() },
      };
    },
  },

  AttachPolicyToUser: {
    required: ['PolicyType', 'PolicyName', 'UserName'],
    resources: (ctx) => [...userResource(ctx), ...policyResource(ctx)],
    write: true,
    handler(ctx) {
      const user = userOrThrow(ctx, ctx.params.UserName);
      user.attachedPolicies = attach(ctx, user.attachedPolicies ?? [], 'User', user.userName);
      return {};
    },
  },

  DetachPolicyFromUser: {
    required: ['PolicyType', 'PolicyName', 'UserName'],
    resources: (ctx) => [...userResource(ctx), ...policyResource(ctx)],
    write: true,
    handler(ctx) {
      const user = userOrThrow(ctx, ctx.params.UserName);
      user.attachedPolicies = detach(ctx, user.attachedPolicies ?? [], 'User', user.userName);
      return {};
    },
  },

  ListPoliciesForUser: {
    required: ['UserName'],
    resources: userResource,
    handler: (ctx) => ({
      Policies: { Policy: attachmentList(userOrThrow(ctx, ctx.params.UserName).attachedPolicies, ctx) },
    }),
  },

  CreateAccessKey: {
    // Without UserName the key is for the caller: root keys for root, the user's own keys for a RAM user.
    resources: (ctx) => [userArn(ctx.caller.accountId, ctx.params.UserName || ctx.caller.userName || '*')],
    write: true,
    handler(ctx) {
      const name = ctx.params.UserName || ctx.caller.userName;
      const key = { id: 'LTAI' + randomBytes(10).toString('hex'), secret: randomBytes(15).toString('base64url') };
      if (name) {
        const user = userOrThrow(ctx, name);
        user.accessKeys = [...(user.accessKeys ?? []), key];
      } else {
        ctx.state.accounts.find((a) => a.uid === ctx.caller.accountId)!.accessKeys.push(key);
      }
      return {
        AccessKey: { AccessKeyId: key.id, AccessKeySecret: key.secret, Status: 'Active', CreateDate: ctx.emu.nowIso() },
      };
    },
  },
};

export const actions: ActionTable = Object.fromEntries(
  Object.entries(table).map(([name, spec]) => [
    name,
    ROLE_WRITES.includes(name)
      ? recordingWrites(spec, tracksRole)
      : POLICY_WRITES.includes(name)
        ? recordingWrites(spec, tracksPolicy)
        : spec,
  ]),
);
