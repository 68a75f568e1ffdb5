// RAM adapter: the share roles, their trust policy and description, and the KMS permission policies.
import { castAs, type CloudApi } from './api';
import type { RamPort } from '../share/ports';
import { CloudError, classify } from '../errors';
import type { PolicyVersionInfo } from '../domain/kms-policy';

export interface RoleInfo {
  roleName: string;
  arn?: string;
  trustPolicy: string;
  description: string;
}

export interface AttachedPolicyInfo {
  policyName: string;
  policyType: 'System' | 'Custom';
}

/** Writes built from an earlier read, and creates: a failure is re-observed by the caller, never resent as is. */
const NO_RESEND = { resend: false };
const GLOBAL = 'cn-hangzhou'; // RAM is central (ram.aliyuncs.com): any region will do for the client

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof CloudError && classify(e) === 'not-found') return undefined;
    throw e;
  }
}

export class RamAdapter implements RamPort {
  constructor(private readonly api: CloudApi) {}

  async getRole(roleName: string): Promise<RoleInfo | undefined> {
    const raw = await orUndefined(this.api.call('ram', 'GetRole', { RoleName: roleName }, GLOBAL));
    if (!raw) return undefined;
    const role = (await castAs(raw, 'GetRoleResponseBody')).role;
    return {
      roleName,
      arn: role?.arn,
      trustPolicy: role?.assumeRolePolicyDocument ?? '',
      description: role?.description ?? '',
    };
  }

  async createRole(roleName: string, trustPolicy: string, description: string): Promise<void> {
    await this.api.call(
      'ram',
      'CreateRole',
      { RoleName: roleName, AssumeRolePolicyDocument: trustPolicy, Description: description },
      GLOBAL,
      NO_RESEND,
    );
  }

  /** One write for the trust policy and the ownership record in the description, so they never disagree. */
  async updateRole(roleName: string, trustPolicy: string, description: string): Promise<void> {
    await this.api.call(
      'ram',
      'UpdateRole',
      { RoleName: roleName, NewAssumeRolePolicyDocument: trustPolicy, NewDescription: description },
      GLOBAL,
      NO_RESEND,
    );
  }

  async listPoliciesForRole(roleName: string): Promise<AttachedPolicyInfo[]> {
    const raw = await orUndefined(this.api.call('ram', 'ListPoliciesForRole', { RoleName: roleName }, GLOBAL));
    if (!raw) return [];
    const body = await castAs(raw, 'ListPoliciesForRoleResponseBody');
    return (body.policies?.policy ?? []).map((p) => ({
      policyName: p.policyName!,
      policyType: p.policyType === 'System' ? 'System' : 'Custom',
    }));
  }

  async attachPolicy(roleName: string, policyName: string, policyType: 'System' | 'Custom'): Promise<void> {
    try {
      await this.api.call(
        'ram',
        'AttachPolicyToRole',
        { RoleName: roleName, PolicyName: policyName, PolicyType: policyType },
        GLOBAL,
      );
    } catch (e) {
      if (e instanceof CloudError && classify(e) === 'already-done') return; // EntityAlreadyExists.Role.Policy
      throw e;
    }
  }

  async detachPolicy(roleName: string, policyName: string, policyType: 'System' | 'Custom'): Promise<void> {
    await orUndefined(
      this.api.call(
        'ram',
        'DetachPolicyFromRole',
        { RoleName: roleName, PolicyName: policyName, PolicyType: policyType },
        GLOBAL,
      ),
    );
  }

  /** The default version's document of a custom policy, or undefined when the policy does not exist. */
  async getPolicyDocument(policyName: string): Promise<string | undefined> {
    const raw = await orUndefined(
      this.api.call('ram', 'GetPolicy', { PolicyName: policyName, PolicyType: 'Custom' }, GLOBAL),
    );
    if (!raw) return undefined;
    const body = await castAs(raw, 'GetPolicyResponseBody');
    return body.defaultPolicyVersion?.policyDocument ?? body.policy?.policyDocument ?? '';
  }

  async createPolicy(policyName: string, document: string, description: string): Promise<void> {
    await this.api.call(
      'ram',
      'CreatePolicy',
      { PolicyName: policyName, PolicyDocument: document, Description: description },
      GLOBAL,
      NO_RESEND,
    );
  }

  async listPolicyVersions(policyName: string): Promise<PolicyVersionInfo[]> {
    const raw = await this.api.call(
      'ram',
      'ListPolicyVersions',
      { PolicyName: policyName, PolicyType: 'Custom' },
      GLOBAL,
    );
    const body = await castAs(raw, 'ListPolicyVersionsResponseBody');
    return (body.policyVersions?.policyVersion ?? []).map((v) => ({
      versionId: v.versionId!,
      isDefault: Boolean(v.isDefaultVersion),
      document: v.policyDocument ?? '',
      createDate: v.createDate,
    }));
  }

  async deletePolicyVersion(policyName: string, versionId: string): Promise<void> {
    await orUndefined(
      this.api.call('ram', 'DeletePolicyVersion', { PolicyName: policyName, VersionId: versionId }, GLOBAL),
    );
  }

  async createPolicyVersion(policyName: string, document: string): Promise<void> {
    await this.api.call(
      'ram',
      'CreatePolicyVersion',
      { PolicyName: policyName, PolicyDocument: document, SetAsDefault: true },
      GLOBAL,
      NO_RESEND,
    );
  }

  async deletePolicy(policyName: string): Promise<void> {
    await orUndefined(this.api.call('ram', 'DeletePolicy', { PolicyName: policyName }, GLOBAL));
  }
}
