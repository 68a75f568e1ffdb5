// ResourceManager 2020-03-31, the one call ecs-share makes: GetAccount, to learn whether a target account is a member
// of the owner's resource directory. Only the management account and a delegated administrator may ask.
import { folderOfAccount, folderPath, managementAccount, rdOfAccount } from '../rd';
import { ApiError, type ActionTable, type CallContext } from '../types';

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
      const account = ctx.state.accounts.find((a) => a.uid === uid);
      return {
        Account: {
          AccountId: uid,
          DisplayName: account?.name ?? uid,
          Type: 'CloudAccount',
          Status: managementAccount(rd) === uid ? 'CreateSuccess' : 'InviteSuccess',
          FolderId: folder.id,
          ResourceDirectoryId: rd.id,
          ResourceDirectoryPath: `${folderPath(ctx.state, folder.id) ?? `${rd.id}/${rd.rootFolderId}`}/${uid}`,
          JoinMethod: managementAccount(rd) === uid ? 'created' : 'invited',
        },
      };
    },
  },
};
