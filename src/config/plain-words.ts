import type { z } from 'zod';

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a section of fields',
};

/** What a value is, in words; strings are not quoted, since a misplaced one may be a secret. */
function kindOf(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return 'a section of fields';
  return typeof value;
}

/**
 * zod's default messages in plain words (schema-level messages, more specific, still win), for
 * what people write or send: the config file, webhook payloads, step inputs. Passed per parse
 * rather than through z.config, so other schemas in the process keep zod's defaults.
 */
export const plainWords: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      if (issue.input === null) return 'required (the value is empty)';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${kindOf(issue.input)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${kindOf(issue.input)}`;
    case 'unrecognized_keys': {
      const shape = (issue.inst as { shape?: Record<string, unknown> } | undefined)?.shape;
      return shape ? `unknown field (this section takes ${Object.keys(shape).join(', ')})` : 'unknown field';
    }
    case 'too_small':
      if (issue.origin === 'array')
        return Number(issue.minimum) === 1 ? 'list at least one entry' : `list at least ${issue.minimum} entries`;
      if (issue.origin === 'string')
        return Number(issue.minimum) === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      // positive() is an exclusive minimum of 0.
      return issue.inclusive === false ? `must be more than ${issue.minimum}` : `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `list at most ${issue.maximum} entries`;
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      return `must be at most ${issue.maximum}`;
    case 'invalid_format':
      return issue.format === 'url' ? 'expected a URL like https://host' : `expected ${issue.format} format`;
    default:
      return undefined;
  }
};
