/**
 * Test support: temporary folders that clean themselves up, and the paths of the shared reference data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function tempDir(prefix = 'roundtrip-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Where `../shared/data` is, or `ROUNDTRIP_SHARED_DATA`; tests that need it skip with this path in the reason. */
export const SHARED_DATA_DIR = path.resolve(process.env.ROUNDTRIP_SHARED_DATA ?? path.join(import.meta.dirname, '../../../shared/data'));
