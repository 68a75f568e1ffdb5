// STS adapter: who am I (the owner account of everything the function shares).
import * as $dara from '@darabonba/typescript';
import { GetCallerIdentityResponseBody } from '@alicloud/sts20150401/dist/models/GetCallerIdentityResponseBody';
import type { CloudApi } from './api';
import type { StsPort } from '../share/ports';

export class StsAdapter implements StsPort {
  constructor(private readonly api: CloudApi) {}

  async accountId(region: string): Promise<string> {
    const raw = await this.api.call('sts', 'GetCallerIdentity', {}, region);
    // Read as a string from the raw body as well: a 16-digit uid must never pass through a JS number.
    return String(raw?.AccountId ?? $dara.cast(raw, new GetCallerIdentityResponseBody({})).accountId ?? '');
  }
}
