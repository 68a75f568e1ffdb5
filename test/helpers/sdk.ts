// The tests' real SDK clients are the demo's: one definition in scripts/sdk-clients.ts.
export * from '../../scripts/sdk-clients';
