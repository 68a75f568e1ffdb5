// Resource Directory's accounts (ResourceManager 2020-03-31 ListAccounts), for the organisation fan-out: every
// account of the central account's directory with its folder and path. Only the management account and a delegated
// administrator may ask. Paged by PageNumber; the listing ends at the first short page (TotalCount is not trusted
// for the end, the same rule as every other listing of the product).
import { castAs, type CloudApi } from './api';

export interface DirectoryAccount {
  accountId: string;
  folderId?: string;
  /** rd-…/r-…/fd-…/…/<uid> */
  path?: string;
  status?: string;
}

const PAGE_SIZE = 100; // the documented maximum
const MAX_PAGES = 1_000; // 100,000 accounts: far past a directory's quota; a guard against a listing that never ends

export async function listDirectoryAccounts(api: CloudApi, region: string): Promise<DirectoryAccount[]> {
  const out = new Map<string, DirectoryAccount>();
  for (let page = 1; page <= MAX_PAGES; page++) {
    const raw = await api.call('resourcemanager', 'ListAccounts', { PageNumber: page, PageSize: PAGE_SIZE }, region);
    const body = await castAs(raw, 'ListAccountsResponseBody');
    const accounts = body.accounts?.account ?? [];
    for (const a of accounts) {
      const id = String(a.accountId ?? '');
      if (!/^\d{16}$/.test(id) || out.has(id)) continue; // a page that shifted repeats an account: once is enough
      out.set(id, {
        accountId: id,
        folderId: a.folderId || undefined,
        path: a.resourceDirectoryPath || undefined,
        status: a.status || undefined,
      });
    }
    if (accounts.length < PAGE_SIZE) break;
  }
  return [...out.values()];
}
