// Function Compute glue shared by the handlers: the FC context, credentials and the time budget.
import type { Credentials } from './cloud/api';
import { readConfig, type Config } from './config';
import { createLogger, type Logger } from './log';
import { createContext, type EngineContext } from './share/context';

/** The parts of the FC 3.0 context the handlers use (https://www.alibabacloud.com/help/en/functioncompute/user-guide/context). */
export interface FcContext {
  requestId?: string;
  accountId?: string;
  region?: string;
  credentials?: { accessKeyId?: string; accessKeySecret?: string; securityToken?: string };
  function?: { name?: string; timeout?: number };
}

/** The function role's credentials from the context; absent locally, where the default credential chain applies. */
function contextCredentials(context: FcContext): Credentials | undefined {
  const c = context.credentials;
  if (!c?.accessKeyId || !c.accessKeySecret) return undefined;
  return {
    accessKeyId: c.accessKeyId,
    accessKeySecret: c.accessKeySecret,
    securityToken: c.securityToken || undefined,
  };
}

export interface Invocation {
  cfg: Config;
  log: Logger;
  engine: () => Promise<EngineContext>;
  remainingMs: () => number;
  /** The FC request id, the function's region and name, from the context (absent locally). */
  requestId?: string;
  region?: string;
  functionName?: string;
}

/** Read configuration once, make the logger, and build the engine lazily (bad input fails before any call). */
export function startInvocation(fn: string, context: FcContext, env: NodeJS.ProcessEnv = process.env): Invocation {
  const started = Date.now();
  const timeoutMs = (context.function?.timeout || 300) * 1000; // FC passes the function's timeout in seconds
  const remainingMs = () => timeoutMs - (Date.now() - started);
  const log = createLogger({ fn, requestId: context.requestId });
  const cfg = readConfig(env);
  let engine: Promise<EngineContext> | undefined;
  return {
    cfg,
    log,
    remainingMs,
    requestId: context.requestId,
    region: context.region || env.FC_REGION || undefined,
    functionName: context.function?.name || env.FC_FUNCTION_NAME || undefined,
    engine: () =>
      (engine ??= createContext({
        cfg,
        log,
        credentials: contextCredentials(context),
        accountId: context.accountId || env.FC_ACCOUNT_ID,
        remainingMs,
      })),
  };
}
