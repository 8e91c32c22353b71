/**
 * The library surface for the merchant's own functions, kept for `import … from './lib'`: the same
 * exports as lib/client.ts, the package's entry point.
 */
export * from './client';
