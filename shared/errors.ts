// One error type for every cloud call, and one place that decides what an error means.
// The SDK generations fail differently (openapi-core ClientError/ServerError/ThrottlingError; the old rpc-client
// throws a plain Error whose code has "Error" appended; network errors are plain Errors with errno codes), so the
// adapters turn all of them into CloudError before anything else looks at them.

export class CloudError extends Error {
  readonly code: string;
  readonly status?: number;
  readonly requestId?: string;
  readonly action: string;
  readonly retryAfterMs?: number;

  constructor(fields: {
    code: string;
    message: string;
    action: string;
    status?: number;
    requestId?: string;
    retryAfterMs?: number;
    cause?: unknown;
  }) {
    super(fields.message, { cause: fields.cause });
    this.name = 'CloudError';
    this.code = fields.code;
    this.status = fields.status;
    this.requestId = fields.requestId;
    this.action = fields.action;
    this.retryAfterMs = fields.retryAfterMs;
  }
}

/** A tag, an event or a command that cannot be acted on. Nothing is changed. */
export class InvalidInputError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

/** The share cannot be made as asked (service key, disabled key, quota...). Carries the fix for the user. */
export class ShareRefusedError extends Error {
  constructor(
    readonly reason: string,
    readonly code: string,
    readonly resourceId?: string,
  ) {
    super(reason);
    this.name = 'ShareRefusedError';
  }
}

/** Some resources failed for a transient reason: fail the invocation so the platform delivers the event again. */
export class TransientFailure extends Error {
  readonly code = 'TransientFailure';
  constructor(message: string) {
    super(message);
    this.name = 'TransientFailure';
  }
}

/** A document the tool must write would break a limit of the service (trust policy length, description length). */
export class LimitError extends ShareRefusedError {}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET',
]);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Normalise whatever an SDK call threw. */
export function toCloudError(err: unknown, action: string): CloudError {
  if (err instanceof CloudError) return err;
  const e = (err ?? {}) as Record<string, unknown>;
  const data = (e.data ?? {}) as Record<string, unknown>;
  let code: string = typeof data.Code === 'string' ? data.Code : typeof e.code === 'string' ? e.code : 'Unknown';
  if (code === 'undefined') code = 'Unknown';
  // The old rpc-client (KMS 1.2.0) appends "Error" to the code; the body still has the real one.
  if (!data.Code && /Error$/.test(code) && e.name === 'Error' && e.data) code = code.replace(/Error$/, '');
  const status: number | undefined =
    typeof e.statusCode === 'number' ? e.statusCode : typeof data.statusCode === 'number' ? data.statusCode : undefined;
  if (e.name === 'RequestTimeoutError' || /ReadTimeout|ConnectTimeout/i.test(String(e.message)))
    code = 'RequestTimeout';
  if (NETWORK_CODES.has(String(e.code))) code = String(e.code);
  if (/socket hang up/i.test(String(e.message))) code = 'ECONNRESET';
  const retryAfter = typeof e.retryAfter === 'number' ? e.retryAfter : undefined;
  return new CloudError({
    code,
    status,
    action,
    requestId: str(data.RequestId) ?? str(e.requestId),
    message: String(data.Message ?? e.message ?? err),
    retryAfterMs: retryAfter,
    cause: err,
  });
}

/**
 * One call's failed attempts, counted per kind for waitBeforeRetry: throttling and other failures each have their own
 * allowance, so a call that waited out several throttling windows still has its retries for a dropped connection or
 * a timeout (the fan-out bench's image checks failed on one ConnectTimeout after five throttled attempts).
 */
export class RetryCount {
  private throttled = 0;
  private other = 0;

  /** The attempt number of this failure among the failures of its kind. */
  of(err: CloudError): number {
    return /Throttling/i.test(err.code) ? ++this.throttled : ++this.other;
  }
}

export type ErrorClass = 'retryable' | 'already-done' | 'not-found' | 'terminal';

/**
 * Codes that end in NotFound but are about the caller, its credentials or the endpoint, never about the entity the
 * call was about: treating them as "absent" would make a missing credential look like a missing role.
 */
const NOT_ABOUT_THE_ENTITY =
  /^(InvalidAccessKeyId|InvalidSecurityToken|InvalidRegionId|InvalidRegion|InvalidVersion|InvalidAction|SignatureDoesNotMatch|Forbidden\.AccessKey|InvalidApi)\b/i;

/** Codes Terraform's alicloud provider retries (NeedRetry) besides throttling and 5xx: the resource is busy or not ready. */
const BUSY = new Set([
  'OperationConflict',
  'IncorrectImageStatus',
  'IncorrectSnapshotStatus',
  'IncorrectDiskStatus',
  'UnknownError',
  'ServiceBusy',
  'LastTokenProcessing',
  'ConcurrentExecutionError',
  'InternalError',
  'ServiceUnavailable',
]);

/**
 * The error taxonomy: retry it, treat it as success, treat it as absent, or stop with a message. Decided by code
 * (and status); `action` only narrows "absent" to the entity the call was about.
 */
export function classify(err: CloudError): ErrorClass {
  const c = err.code;
  if (
    /Throttling/i.test(c) ||
    BUSY.has(c) ||
    /^IncorrectImageStatus|^IncorrectSnapshotStatus|^Operation\.Conflict/.test(c)
  )
    return 'retryable';
  if (c === 'RequestTimeout' || NETWORK_CODES.has(c)) return 'retryable';
  if (err.status !== undefined && err.status >= 500) return 'retryable';
  if (/please retry|try again later/i.test(err.message)) return 'retryable';
  if (c.startsWith('EntityAlreadyExists')) return 'already-done';
  if (NOT_ABOUT_THE_ENTITY.test(c)) return 'terminal';
  if (
    c.startsWith('EntityNotExist') ||
    /NotFound$/.test(c) ||
    c === 'Forbidden.KeyNotFound' ||
    c === 'InvalidResourceShare.NotFound'
  )
    return 'not-found';
  return 'terminal';
}

/** What a person should do about a terminal error the tool cannot fix itself. */
export function adviceFor(code: string): string | undefined {
  const table: Record<string, string> = {
    'InvalidOperation.ServiceKeyEncryptedImageUnsupported':
      'Alibaba Cloud does not share resources encrypted with the ECS service key. Copy it with CopyImage/CopySnapshot and a customer master key (KMSKeyId), then tag the copy.',
    AssumeRoleError:
      'The share role is missing or does not trust the recipient; run the share again so ecs-share repairs the role.',
    'QuotaExceed.ShareImageUser':
      'An image can be shared with at most 50 accounts (Quota Center can raise it). Share with a resource directory or folder instead.',
    'InvalidAccount.NotFound': 'The account id does not exist; check the share-with tag.',
    'InvalidAccount.Forbbiden':
      'An image cannot be shared with its own account; remove the owner from the share-with tag.',
    'InvalidParameter.KMSKeyId.CMKNotEnabled':
      'The KMS key is disabled or pending deletion; enable it (kms:EnableKey) and run the share again.',
    'InvalidImageId.BidMismatch': 'Images cannot be shared between the China site and the international site.',
    NotEnableSharingWithResourceDirectory:
      'Enable resource sharing for the resource directory (EnableSharingWithResourceDirectory) before sharing with an RD or folder.',
    AccountNotInResourceDirectory: 'The target account is not in the resource directory.',
    'Forbidden.RAM':
      'The function role lacks a permission; compare it with shared/policies/function-role.json (README "Deploy").',
    NoPermission:
      'The function role lacks a permission; compare it with shared/policies/function-role.json (README "Deploy").',
    'Forbidden.NoPermission':
      'The function role lacks a permission; compare it with shared/policies/function-role.json (README "Deploy").',
    'LimitExceeded.Policy.Version':
      'The KMS policy has 5 versions; ecs-share deletes the oldest non-default one, so this means another writer raced it. Run again.',
    'InvalidParameter.AssumeRolePolicyDocument.Length':
      'The trust policy is too long; share with a resource directory or folder instead of many single accounts.',
    'InvalidParameter.NewAssumeRolePolicyDocument.Length':
      'The trust policy is too long; share with a resource directory or folder instead of many single accounts.',
    'OperationDeined.FullImage':
      'Alibaba Cloud does not share an encrypted image made of several snapshots. Share its snapshots instead, or build an image from one encrypted system disk.',
    'InvalidParameter.KMSKeyId.CMKUnauthorized':
      'The KMS key lacks the authorization ECS needs to share it: run the share again so ecs-share repairs the share role and its KMS policy; if it persists, check the key policy and that AliyunECSDiskEncryptDefaultRole exists.',
    'InvalidAccessKeyId.NotFound':
      "The function's credentials are not valid: check the function role (s.yaml role) and its STS credentials.",
  };
  return table[code];
}
