/**
 * Batch ingestion payloads: the one TypeBox source for the batch API's requests and answers (Adobe's batch API
 * shape, reference §3.1), the failed-records listing and the per-dataset ingestion overview.
 */
import { Type, type Static, type TSchema } from 'typebox';

export const INPUT_FORMATS = ['json', 'jsonl', 'csv', 'parquet'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export const DEFAULT_FAILURE_THRESHOLD = 0.1;

const Status = Type.Union([Type.Literal('loading'), Type.Literal('processing'), Type.Literal('success'), Type.Literal('failed'), Type.Literal('aborted')]);

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const InputFormatBody = Type.Object(
  {
    format: Type.Union([Type.Literal('json'), Type.Literal('jsonl'), Type.Literal('csv'), Type.Literal('parquet')], { description: 'json (JSON Lines, or one JSON array), jsonl, csv or parquet' }),
    isMultiLineJson: Type.Optional(Type.Boolean({ description: 'json only: records span lines (pretty-printed values, or an array)' })),
    delimiter: Type.Optional(Type.String({ minLength: 1, maxLength: 1, pattern: '^[^"\\r\\n]$', description: 'csv only: the column separator (default ,)' })),
  },
  { additionalProperties: false },
);
export type InputFormatInput = Static<typeof InputFormatBody>;

export const BatchBody = Type.Object(
  {
    datasetId: Type.String({ minLength: 1, description: 'Dataset id (or name)' }),
    inputFormat: InputFormatBody,
    failureThreshold: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'The batch fails, writing nothing, when more than this share of its rows is rejected (default 0.1)' }),
    ),
  },
  { additionalProperties: false },
);
export type BatchInput = Static<typeof BatchBody>;

export const FileView = Type.Object({
  name: Type.String(),
  bytes: Type.Integer({ description: 'Bytes received so far' }),
  totalBytes: Nullable(Type.Integer({ description: 'Size announced by Content-Range (chunked uploads)' })),
  complete: Type.Boolean(),
  chunked: Type.Boolean(),
  records: Type.Optional(Type.Integer({ description: 'Records read from the file (after processing)' })),
  rejected: Type.Optional(Type.Integer()),
  firstRow: Type.Optional(Type.Integer({ description: 'Batch row number of its first record: failed records of this file have rowNumber >= firstRow' })),
});
export type BatchFile = Static<typeof FileView>;

export const BatchView = Type.Object({
  id: Type.String(),
  datasetId: Type.String(),
  status: Status,
  inputFormat: Type.Record(Type.String(), Type.Unknown(), { description: '{ format, isMultiLineJson?, delimiter? }; format `stream` for streaming commits' }),
  failureThreshold: Type.Optional(Type.Number()),
  files: Type.Array(Type.Unknown()),
  rowsRead: Type.Integer(),
  rowsWritten: Type.Integer(),
  rowsRejected: Type.Integer(),
  snapshotId: Nullable(Type.Integer()),
  errorCode: Nullable(Type.String()),
  errorMessage: Nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  completedAt: Nullable(Type.String()),
});
export type BatchViewT = Static<typeof BatchView>;

export const BatchIdParams = Type.Object({ batchId: Type.String() });
export const FileParams = Type.Object({ batchId: Type.String(), datasetId: Type.String(), fileName: Type.String() });

export const BatchListQuery = Type.Object({
  datasetId: Type.Optional(Type.String({ description: 'Dataset id or name' })),
  status: Type.Optional(Status),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});

export const FailedRecordsQuery = Type.Object({
  batchId: Type.Optional(Type.String()),
  datasetId: Type.Optional(Type.String({ description: 'Dataset id or name' })),
  code: Type.Optional(Type.String({ description: 'Code of the first issue, e.g. RT_FIELD_ENUM' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  offset: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type FailedRecordsFilterInput = Static<typeof FailedRecordsQuery>;

const Issue = Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() });

export const FailedRecordView = Type.Object({
  batchId: Type.String(),
  datasetId: Type.String(),
  source: Type.String({ description: 'batch or streaming' }),
  rowNumber: Type.Integer({ description: '1-based position in the batch (files in upload order) or request' }),
  raw: Type.String({ description: 'The row as received: JSON text, the CSV line, or the Parquet row as JSON' }),
  code: Type.String(),
  path: Type.String(),
  issues: Type.Array(Issue),
  receivedAt: Type.String(),
});

export type FailedRecordViewT = Static<typeof FailedRecordView>;

export const FailedRecordsPage = Type.Object({ total: Type.Integer(), failedRecords: Type.Array(FailedRecordView) });

const Counts = Type.Object({
  batches: Type.Integer(),
  rowsRead: Type.Integer(),
  rowsWritten: Type.Integer(),
  rowsRejected: Type.Integer(),
  /** rowsRejected / rowsRead, 0 when nothing was read. */
  failureRate: Type.Number(),
});

export const IngestionOverview = Type.Object({
  dataset: Type.Object({ id: Type.String(), name: Type.String() }),
  window: Type.Integer({ description: 'How many of the most recent batches (and streaming commits) the counts cover' }),
  batch: Type.Intersect([Counts, Type.Object({ byStatus: Type.Record(Type.String(), Type.Integer()), lastAt: Nullable(Type.String()) })]),
  streaming: Type.Intersect([Counts, Type.Object({ lastAt: Nullable(Type.String()) })]),
  failedRecords: Type.Object({
    total: Type.Integer(),
    bySource: Type.Record(Type.String(), Type.Integer()),
    byCode: Type.Record(Type.String(), Type.Integer()),
  }),
  recentBatches: Type.Array(BatchView),
});
export type IngestionOverviewT = Static<typeof IngestionOverview>;
