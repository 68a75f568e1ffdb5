// ResourceManager 2020-03-31 over the state's resource directory: GetAccount (is a target account a member of the
// owner's directory?) and, for organisation mode's coordinator, ListAccounts (every account of the directory) and
// ListAccountsForParent (the accounts directly in one folder), paged by PageNumber/PageSize. Only the management
// account and a delegated administrator may ask.
import { folderOfAccount, folderPath, isFolderId, managementAccount, rdOfAccount } from '../rd';
import { pageByNumber } from '../paging';
import { ApiError, type ActionTable, type CallContext, type FullState, type ResourceDirectory } from '../types';

function readableDirectory(ctx: CallContext) {
  const caller = ctx.caller.accountId;
  const rd = rdOfAccount(ctx.state, caller);
  // Documented for the directory APIs: no directory, or a member that is neither manager nor delegated administrator.
  if (!rd)
    throw new ApiError(404, 'NotExists.ResourceDirectory', 'The resource directory for the account is not enabled.');
  if (managementAccount(rd) !== caller && !(rd.delegatedAdministrators ?? []).includes(caller)) {
    throw new ApiError(
      409,
      'NoPermission.ResourceDirectory.MemberAccount',
      'ResourceDirectory Member Account is not authorized to perform this operation.',
    );
  }
  return rd;
}

/** One account as GetAccount and the list calls return it. */
function accountView(state: FullState, rd: ResourceDirectory, uid: string) {
  const folder = folderOfAccount(rd, uid)!;
  const account = state.accounts.find((a) => a.uid === uid);
  const managed = managementAccount(rd) === uid;
  return {
    AccountId: uid,
    DisplayName: account?.name ?? uid,
    Type: 'CloudAccount',
    Status: managed ? 'CreateSuccess' : 'InviteSuccess',
    FolderId: folder.id,
    ResourceDirectoryId: rd.id,
    ResourceDirectoryPath: `${folderPath(state, folder.id) ?? `${rd.id}/${rd.rootFolderId}`}/${uid}`,
    JoinMethod: managed ? 'created' : 'invited',
  };
}

/** Every account of the directory, management account first, then folder by folder in the state's order. */
function directoryAccounts(rd: ResourceDirectory): string[] {
  const mgmt = managementAccount(rd);
  return [...new Set([...(mgmt ? [mgmt] : []), ...rd.folders.flatMap((f) => f.accounts)])];
}

/** The list calls' answer: PageSize 1–100 (default 10), the page's accounts and the total. */
function listAnswer(ctx: CallContext, rd: ResourceDirectory, uids: string[]) {
  const page = pageByNumber(uids, ctx.params, 10, 100);
  return {
    Accounts: { Account: page.items.map((uid) => accountView(ctx.state, rd, uid)) },
    PageNumber: page.pageNumber,
    PageSize: page.pageSize,
    TotalCount: uids.length,
  };
}

export const actions: ActionTable = {
  GetAccount: {
    required: ['AccountId'],
    resources: (ctx) => [`acs:resourcemanager::${ctx.caller.accountId}:account/${ctx.params.AccountId}`],
    handler: (ctx) => {
      const rd = readableDirectory(ctx);
      const uid = ctx.params.AccountId;
      const folder = rdOfAccount(ctx.state, uid) === rd ? folderOfAccount(rd, uid) : undefined;
      // The code for an account outside the directory is not documented per API; the service's list names this one.
      if (!folder) throw new ApiError(404, 'EntityNotExists.Account', 'The specified account does not exist.');
      return { Account: accountView(ctx.state, rd, uid) };
    },
  },

  ListAccounts: {
    resources: (ctx) => [`acs:resourcemanager::${ctx.caller.accountId}:account/*`],
    handler: (ctx) => {
      const rd = readableDirectory(ctx);
      return listAnswer(ctx, rd, directoryAccounts(rd));
    },
  },

  ListAccountsForParent: {
    required: ['ParentFolderId'],
    resources: (ctx) => [`acs:resourcemanager::${ctx.caller.accountId}:folder/${ctx.params.ParentFolderId}`],
    handler: (ctx) => {
      const rd = readableDirectory(ctx);
      const parent = ctx.params.ParentFolderId;
      if (!isFolderId(ctx.state, parent))
        throw new ApiError(404, 'EntityNotExists.Folder', 'The specified folder does not exist.');
      // Only the accounts directly in the folder (the management account sits in the root folder).
      return listAnswer(
        ctx,
        rd,
        directoryAccounts(rd).filter((uid) => folderOfAccount(rd, uid)?.id === parent),
      );
    },
  },
};
