// Resource Directory membership (ResourceManager 2020-03-31 GetAccount): is an account a member of the owner's
// resource directory? Only the management account and a delegated administrator may ask; anyone else learns
// nothing, and then every account counts as outside the directory (the secure default, docs/security.md).
import type { CloudApi } from './api';
import { CloudError, classify } from '../errors';
import type { DirectoryPort, Membership } from '../share/ports';

/** GetAccount's answer for an account that is not in the caller's resource directory. */
const NOT_A_MEMBER = /^EntityNotExists\.Account$/i;

export class DirectoryAdapter implements DirectoryPort {
  constructor(private readonly api: CloudApi) {}

  async membership(uid: string): Promise<Membership> {
    try {
      const body = await this.api.call<{
        Account?: Partial<Record<'AccountId' | 'ResourceDirectoryId' | 'FolderId' | 'ResourceDirectoryPath', unknown>>;
      }>('resourcemanager', 'GetAccount', { AccountId: uid }, 'cn-hangzhou');
      const account = body?.Account ?? {};
      // Every documented Status (CreateSuccess, InviteSuccess, Promote*) is a member; an invitation not yet
      // accepted is not an account of the directory, so GetAccount does not find it.
      if (String(account.AccountId ?? '') !== uid) return { kind: 'external' };
      const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
      return {
        kind: 'member',
        rdId: text(account.ResourceDirectoryId),
        folderId: text(account.FolderId),
        path: text(account.ResourceDirectoryPath),
      };
    } catch (e) {
      if (!(e instanceof CloudError)) throw e;
      if (NOT_A_MEMBER.test(e.code)) return { kind: 'external' };
      // Throttling, a timeout, a 5xx: the caller fails retryably rather than deciding on nothing.
      if (classify(e) === 'retryable') throw e;
      // No directory, a member account, no permission: membership cannot be read here.
      return { kind: 'unknown', code: e.code };
    }
  }
}
