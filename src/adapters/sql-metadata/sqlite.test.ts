import path from 'node:path';
import { describeMetadataStoreContract } from '../../ports/metadata-store.contract.ts';
import { tempDir } from '../../testing/temp.ts';
import { openSqliteMetadataStore } from './sql-metadata-store.ts';

const temp = tempDir();
describeMetadataStoreContract('SQLite (better-sqlite3)', {
  open: () => Promise.resolve(openSqliteMetadataStore(path.join(temp.dir, 'metadata.sqlite'))),
  dispose: () => Promise.resolve(temp.remove()),
});
