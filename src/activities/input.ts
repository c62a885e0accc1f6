import { z } from 'zod';
import { plainWords } from '../config/plain-words';
import type { Target } from '../contract/target';
import { BRANCH_NAME } from '../plan/preview';
import { permanent } from './failures';

export const fullSha = z.string().regex(/^[0-9a-f]{40}$/i, 'expected a full 40-character commit id');
export const branchName = z.string().regex(BRANCH_NAME, 'expected a branch name');
export const imageTag = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'expected an OCI tag');
export const prNumber = z.number().int().positive();
export const productionTarget = z.object({ kind: z.literal('production'), name: z.string().min(1) });
export const previewTarget = z.object({ kind: z.literal('preview'), pr: prNumber });
export const targetInput: z.ZodType<Target> = z.discriminatedUnion('kind', [productionTarget, previewTarget]);

/** Every step checks its input: a bad request is a permanent failure, never retried. */
export function checkInput<T>(schema: z.ZodType<T>, value: unknown, step: string): T {
  const parsed = schema.safeParse(value, { error: plainWords });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw permanent(`${step}: bad input: ${problems}`, 'BadInput');
  }
  return parsed.data;
}
