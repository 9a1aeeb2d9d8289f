/**
 * Backup routes (admin only, `sandbox:backup`): back a sandbox up into `<dataDir>/backups`, list, download
 * (whole, or in base64 chunks for JSON clients such as the CLI), upload (whole, or in ordered chunks), restore
 * and delete backup files. Uploads are `application/octet-stream` bodies streamed to disk.
 */
import { createReadStream } from 'node:fs';
import { Type } from 'typebox';
import { authorize } from '../../access/principal.ts';
import { BackupFileView, BackupNameParams, BackupView, ChunkQuery, ChunkView, RestoreBody, RestoreView, UploadView } from '../../backup/payloads.ts';
import { RoundtripError } from '../../core/errors.ts';
import { parseContentRange } from '../../ingest/batch/uploads.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['backup'];
const inSandbox = { action: 'sandbox:backup' as const };
const global = { action: 'sandbox:backup' as const, scope: 'global' as const };
const FILE = '/backups/:name';

function assertRawBody(contentType: string | undefined): void {
  if (!contentType?.toLowerCase().startsWith('application/octet-stream')) {
    throw new RoundtripError('RT_UNSUPPORTED_MEDIA_TYPE', 'Send backup files as `Content-Type: application/octet-stream`.');
  }
}

export function backupRoutes(app: App, platform: Platform): void {
  const backups = platform.backups;
  void app.register((scope: App, _options, done) => {
    // Upload bodies stay unread here: the handlers stream `request.raw` to the file.
    scope.addContentTypeParser('application/octet-stream', (_request, _payload, parsed) => parsed(null, undefined));

    scope.post(
      '/backups',
      { config: inSandbox, schema: { tags, summary: 'Back up the sandbox (x-sandbox-name) into a new file of the backups folder', response: { 201: BackupView } } },
      async (req, reply) => reply.status(201).send(await backups.create(req.principal, req.sandbox)),
    );
    scope.get('/backups', { config: global, schema: { tags, summary: 'Backup files in the backups folder, newest first', response: { 200: Type.Object({ backups: Type.Array(BackupFileView) }) } } }, async () => ({
      backups: await backups.list(),
    }));
    scope.get(FILE, { config: global, schema: { tags, summary: 'Download a backup file (application/octet-stream)', params: BackupNameParams } }, async (req, reply) => {
      const { file, bytes } = await backups.stream(req.params.name);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(bytes))
        .header('content-disposition', `attachment; filename="${req.params.name}"`)
        .send(createReadStream(file));
    });
    scope.get(
      `${FILE}/chunks`,
      { config: global, schema: { tags, summary: 'Part of a backup file as base64 (downloads through JSON clients)', params: BackupNameParams, querystring: ChunkQuery, response: { 200: ChunkView } } },
      async (req) => backups.readChunk(req.params.name, req.query.offset, req.query.length),
    );
    scope.put(FILE, { config: global, schema: { tags, summary: 'Upload a whole backup file (application/octet-stream)', params: BackupNameParams, response: { 200: UploadView } } }, async (req) => {
      assertRawBody(req.headers['content-type']);
      return backups.receive(req.params.name, req.raw);
    });
    scope.patch(
      FILE,
      { config: global, schema: { tags, summary: 'Upload the next chunk (Content-Range: bytes start-end/total, in order; start 0 starts over)', params: BackupNameParams, response: { 200: UploadView } } },
      async (req) => {
        assertRawBody(req.headers['content-type']);
        return backups.receive(req.params.name, req.raw, parseContentRange(req.headers['content-range']));
      },
    );
    scope.post(
      `${FILE}/restore`,
      {
        config: global,
        schema: { tags, summary: 'Restore a backup file into a sandbox (refuses an existing one unless force)', params: BackupNameParams, body: RestoreBody, response: { 200: RestoreView } },
      },
      async (req) => backups.restore(req.principal, req.params.name, { ...req.body, check: (sandbox) => authorize(req.principal, 'sandbox:backup', sandbox) }),
    );
    scope.delete(FILE, { config: global, schema: { tags, summary: 'Delete a backup file', params: BackupNameParams } }, async (req, reply) => {
      await backups.remove(req.principal, req.params.name);
      return reply.status(204).send();
    });
    done();
  });
}
