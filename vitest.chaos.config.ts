import { defineConfig } from 'vitest/config';

/** `npm run test:chaos`: the full chaos run alone (test/chaos/*.chaos.ts), not part of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 60_000,
  },
});
