// KMS adapter: key state, owner and the ECS service key. Signed V1 (HMAC-SHA1) like KMS's own SDK.
import type { CloudApi } from './api';
import type { KmsPort } from '../share/ports';
import { CloudError, classify } from '../errors';

export interface KeyInfo {
  keyId: string;
  arn: string;
  state: string;
  /** Owner account, parsed from the ARN acs:kms:<region>:<account>:key/<id>. */
  accountId: string;
  region: string;
}

/** The ECS service key's alias in every region. */
const ECS_SERVICE_KEY_ALIAS = 'alias/acs/ecs';

export class KmsAdapter implements KmsPort {
  private readonly serviceKeys = new Map<string, Promise<string | undefined>>();

  constructor(private readonly api: CloudApi) {}

  async describeKey(region: string, keyIdOrAlias: string): Promise<KeyInfo | undefined> {
    let raw: { KeyMetadata?: Partial<Record<'Arn' | 'KeyId' | 'KeyState', string>> };
    try {
      raw = await this.api.call('kms', 'DescribeKey', { RegionId: region, KeyId: keyIdOrAlias }, region);
    } catch (e) {
      if (e instanceof CloudError && classify(e) === 'not-found') return undefined;
      throw e;
    }
    const m = raw?.KeyMetadata ?? {};
    const arn = String(m.Arn ?? '');
    const parts = arn.split(':'); // acs:kms:<region>:<account>:key/<id>
    return {
      keyId: String(m.KeyId ?? ''),
      arn,
      state: String(m.KeyState ?? ''),
      region: parts[2] || region,
      accountId: parts[3] ?? '',
    };
  }

  /** Id of the region's ECS service key (alias/acs/ecs), cached per instance; undefined if the account has none. */
  serviceKeyId(region: string): Promise<string | undefined> {
    let p = this.serviceKeys.get(region);
    if (!p) {
      p = this.describeKey(region, ECS_SERVICE_KEY_ALIAS).then((k) => k?.keyId);
      this.serviceKeys.set(region, p);
    }
    return p;
  }
}
