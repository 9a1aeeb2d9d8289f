/**
 * Which nodes denote a collection by their shape alone (no schema needed): both engines use it so that
 * member access over them maps over the items and a comparison against them means "some item".
 */
import type { PqlNode } from './ast.ts';

export const COLLECTION_CALLS = new Set(['filter', 'map', 'topN', 'bottomN', 'distinct', 'intersection']);

export function isCollectionNode(node: PqlNode): boolean {
  if (node.kind === 'ref') return node.binding === 'xEvent';
  if (node.kind === 'select' || node.kind === 'array') return true;
  if (node.kind === 'call') return COLLECTION_CALLS.has(node.name);
  if (node.kind === 'member') return isCollectionNode(node.object);
  return false;
}

/** `xEvent.metrics.commerce.abandons.value > 0`: a collection compared with a value holds when some item does. */
export function isExistentialCompare(node: PqlNode): boolean {
  return node.kind === 'compare' && node.left.kind === 'member' && isCollectionNode(node.left) && !isCollectionNode(node.right);
}
