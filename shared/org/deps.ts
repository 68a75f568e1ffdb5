// What the fan-out needs from the cloud, made from the central engine context: the directory's account listing and
// an FC 3.0 invoker of this account's functions, in the function's own region.
import { CloudApi } from '../cloud/api';
import { listDirectoryAccounts } from '../cloud/accounts';
import { FunctionInvoker, type InvokerPort } from '../cloud/fc';
import type { EngineContext } from '../share/context';
import type { ListAccounts } from './fan-out';

export function fanOutPorts(ctx: EngineContext): { list: ListAccounts; invoker: InvokerPort } {
  const api = ctx.api;
  if (!(api instanceof CloudApi)) throw new Error('organisation mode needs the cloud client');
  return {
    // ResourceManager is a global service, answered in cn-hangzhou (as GetAccount is asked).
    list: () => listDirectoryAccounts(api, 'cn-hangzhou'),
    invoker: new FunctionInvoker(api, ctx.ownerUid),
  };
}

/** The region functions of this deployment run in: FC's own (FC_REGION), else the first configured region. */
export const functionRegion = (runRegion: string | undefined, ctx: EngineContext) => runRegion || ctx.cfg.regions[0];
