// The emulator's public surface for tests, scripts and the demo.
export { startEmulator, newRequestId } from './server';
export type { Emulator, CallRecord, CallFilter, ServiceCredentials, StartOptions, AppliedWrite, WriteHook } from './server';
export type { FaultRule, FaultRuleState, FaultKind, RateLimit, ThrottlingOptions } from './faults';
export { FAULT_KINDS, DEFAULT_THROTTLING } from './faults';
export type { CloudEvent, ActionTrailRecord, EventDeliveryOptions, EventListener, PushRetryStrategy, DeliveryAttempt, DeadLetter, EventStats } from './events';
export { buildTrailEvent, retryDelaysMs } from './events';
export { normaliseState, snapshotState, loadStateFile, InvalidStateError } from './state';
export { demoState, DEMO } from './demo-state';
export * from './types';
