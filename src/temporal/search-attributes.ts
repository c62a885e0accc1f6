import { temporal } from '@temporalio/proto';
import type { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes';

/** The commands an operator runs once per namespace on a cluster where the worker may not add them itself. */
export function searchAttributeCommands(namespace: string): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).map(
    ([name, type]) =>
      `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${type}`,
  );
}

/**
 * Makes sure the deploy search attributes exist: a workflow that upserts an unknown one cannot
 * complete its task, so this runs before the worker starts polling.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(customAttributes ?? {}));
  const missing = Object.keys(SEARCH_ATTRIBUTES).filter((name) => !known.has(name));
  if (!missing.length) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
  } catch (err) {
    throw new Error(
      `search attributes ${missing.join(', ')} are missing in namespace ${namespace} and could not be added (${(err as Error).message}). Ask an operator to run:\n  ${searchAttributeCommands(namespace).join('\n  ')}`,
    );
  }
  return missing;
}
