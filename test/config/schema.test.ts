import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { didYouMean, formatPath } from '../../src/config/problems.js';
import { ConfigFile, SecretRef, SINK_SCHEMAS, TokenEntry, TokensFile } from '../../src/config/schema.js';

describe('config schema', () => {
  const objects: Record<string, z.ZodObject> = {
    ConfigFile,
    SecretRef,
    TokenEntry,
    TokensFile,
    ...Object.fromEntries(Object.entries(SINK_SCHEMAS).map(([k, v]) => [`${k} sink`, v])),
  };

  it.each(Object.entries(objects))('describes every field of %s', (_, schema) => {
    expect(schema.description).toBeTruthy();
    for (const [key, field] of Object.entries(schema.shape)) {
      expect((field as z.ZodType).description, key).toBeTruthy();
    }
  });
});

describe('didYouMean', () => {
  it('suggests close candidates, swaps and case included', () => {
    expect(didYouMean('rotues', ['env', 'routes', 'sinks'])).toBe('routes');
    expect(didYouMean('evn', ['env', 'file'])).toBe('env');
    expect(didYouMean('Sinks', ['sinks'])).toBe('sinks');
    expect(didYouMean('routingkey', ['routingKey', 'url'])).toBe('routingKey');
  });

  it('stays quiet when nothing is close', () => {
    expect(didYouMean('colour', ['env', 'file'])).toBeUndefined();
    expect(didYouMean('to', ['type'])).toBeUndefined();
    expect(didYouMean('x', [])).toBeUndefined();
  });
});

describe('formatPath', () => {
  it('joins keys with dots and indexes with brackets', () => {
    expect(formatPath(['routes', 'default', 0])).toBe('routes.default[0]');
    expect(formatPath([])).toBe('');
  });
});
