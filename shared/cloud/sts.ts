// STS adapter: who am I (the owner account of everything the function shares).
import { castAs, type CloudApi } from './api';
import type { StsPort } from '../share/ports';

export class StsAdapter implements StsPort {
  constructor(private readonly api: CloudApi) {}

  async accountId(region: string): Promise<string> {
    const raw = await this.api.call<{ AccountId?: string }>('sts', 'GetCallerIdentity', {}, region);
    // Read as a string from the raw body as well: a 16-digit uid must never pass through a JS number.
    return String(raw?.AccountId ?? (await castAs(raw, 'GetCallerIdentityResponseBody')).accountId ?? '');
  }
}
