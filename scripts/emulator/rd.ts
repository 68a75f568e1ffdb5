// Resource Directory helpers over state.resourceDirectory: membership, folder paths and "who is under this target".
// The emulator holds at most one RD (the one the owner and the RD recipients live in).
import type { FullState, RdFolder, ResourceDirectory } from './types';

/** All folders of the RD, the root folder included even when the state file leaves it out. */
function rdFolders(rd: ResourceDirectory): RdFolder[] {
  const hasRoot = rd.folders.some((f) => f.id === rd.rootFolderId);
  return hasRoot ? rd.folders : [{ id: rd.rootFolderId, parentId: null, accounts: [] }, ...rd.folders];
}

/** The management account: declared, else the first account of the root folder. */
export function managementAccount(rd: ResourceDirectory): string | undefined {
  return rd.managementAccount ?? rdFolders(rd).find((f) => f.id === rd.rootFolderId)?.accounts[0];
}

/** The folder that directly holds the account; the management account sits in the root folder if listed nowhere. */
export function folderOfAccount(rd: ResourceDirectory, uid: string): RdFolder | undefined {
  const folders = rdFolders(rd);
  const direct = folders.find((f) => f.accounts.includes(uid));
  if (direct) return direct;
  return managementAccount(rd) === uid ? folders.find((f) => f.id === rd.rootFolderId) : undefined;
}

export function isMember(state: FullState, uid: string): boolean {
  return rdOfAccount(state, uid) !== null;
}

/** The RD the account belongs to (as member or management account), else null. */
export function rdOfAccount(state: FullState, uid: string): ResourceDirectory | null {
  const rd = state.resourceDirectory;
  return rd && folderOfAccount(rd, uid) ? rd : null;
}

/** "rd-x/r-y/fd-a/fd-b", the shape GetFolder.ResourceDirectoryPath returns; undefined for an unknown folder. */
export function folderPath(state: FullState, folderId: string): string | undefined {
  const rd = state.resourceDirectory;
  if (!rd) return undefined;
  const byId = new Map(rdFolders(rd).map((f) => [f.id, f]));
  const chain: string[] = [];
  for (let f = byId.get(folderId); f; f = f.parentId ? byId.get(f.parentId) : undefined) {
    if (chain.includes(f.id)) break; // a cyclic state file must not hang the emulator
    chain.unshift(f.id);
  }
  if (chain.length === 0) return undefined;
  return [rd.id, ...chain].join('/');
}

/**
 * The member's RD path: its folder's path + "/" + uid. The real member path format is unconfirmed
 * (GetAccount documents the field without an example); this choice makes a folder pattern "…/fd-x*" match
 * every account in and below fd-x, as the ECS doc's folder trust policy intends.
 */
export function accountRdPath(state: FullState, uid: string): string | undefined {
  const rd = state.resourceDirectory;
  const folder = rd ? folderOfAccount(rd, uid) : undefined;
  if (!folder) return undefined;
  return `${folderPath(state, folder.id)}/${uid}`;
}

export function isFolderId(state: FullState, id: string): boolean {
  const rd = state.resourceDirectory;
  return !!rd && rdFolders(rd).some((f) => f.id === id);
}

/** Accounts reached by a target: the RD id (every member), a folder id (recursive), or a member uid (itself). */
export function accountsUnder(state: FullState, targetId: string): string[] {
  const rd = state.resourceDirectory;
  if (!rd) return [];
  const folders = rdFolders(rd);
  if (targetId === rd.id)
    return uniq([...(managementAccount(rd) ? [managementAccount(rd)!] : []), ...folders.flatMap((f) => f.accounts)]);
  if (folders.some((f) => f.id === targetId)) return uniq(collectFolder(folders, targetId, rd, new Set()));
  return isMember(state, targetId) ? [targetId] : [];
}

function collectFolder(folders: RdFolder[], folderId: string, rd: ResourceDirectory, seen: Set<string>): string[] {
  if (seen.has(folderId)) return [];
  seen.add(folderId);
  const own = folders.find((f) => f.id === folderId)?.accounts ?? [];
  const mgmt = folderId === rd.rootFolderId && managementAccount(rd) ? [managementAccount(rd)!] : [];
  const children = folders
    .filter((f) => f.parentId === folderId)
    .flatMap((f) => collectFolder(folders, f.id, rd, seen));
  return [...mgmt, ...own, ...children];
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}
