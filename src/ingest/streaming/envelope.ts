/**
 * The collection envelope (`reference/adobe-reference.md` §3.3): `{header: {schemaRef, datasetId}, body:
 * {xdmEntity}}`, one per request on `/collection/{id}` or many on `/collection/batch/{id}`. This module routes
 * each message to one of its connection's datasets and offers its record to the request's entry; the result
 * per message says whether it was stored (200), kept as a failed record (202) or refused (400/413).
 */
import { RoundtripError } from '../../core/errors.ts';
import { compileSchema } from '../../core/validation.ts';
import type { LiveConnection, Target } from './connections.ts';
import type { EntryBuilder } from './intake.ts';
import { CollectionMessage, type CollectionMessageT, type MessageResultT } from './payloads.ts';

const isMessage = compileSchema(CollectionMessage);

/**
 * The dataset a message goes to: the one its header names (which must be one of the connection's), else the
 * one whose schema its `schemaRef` names, else the connection's event dataset (or its only one). An unknown
 * `schemaRef` is not refused, so clients written for another platform's schema URIs keep working.
 */
export function pickTarget(connection: LiveConnection, header: CollectionMessageT['header']): Target {
  const fallback = connection.targets.event ?? connection.targets.profile!;
  if (header?.datasetId === undefined && header?.schemaRef?.id === undefined) return fallback;
  const targets = Object.values(connection.targets);
  if (header?.datasetId !== undefined) {
    const named = targets.find((t) => t.dataset.id === header.datasetId || t.dataset.name === header.datasetId);
    if (!named) throw new RoundtripError('RT_STREAM_DATASET_NOT_ALLOWED', `Streaming connection ${connection.id} does not write to dataset "${header.datasetId}".`);
    return named;
  }
  const schemaId = header?.schemaRef?.id;
  const bySchema = schemaId === undefined ? undefined : targets.find((t) => t.schemaRefs.includes(schemaId));
  return bySchema ?? fallback;
}

/** Offers every message to the entry; returns one result per message, in order. */
export function collectMessages(builder: EntryBuilder, messages: readonly unknown[], synchronous: boolean): MessageResultT[] {
  return messages.map((message, index) => {
    const xactionId = `${builder.xactionId}:${index}`;
    if (!isMessage(message)) {
      return { xactionId, status: 400, error: { code: 'RT_RECORD_MALFORMED', message: `messages[${index}] needs body.xdmEntity, an object (header is optional).` } };
    }
    const envelope = message as CollectionMessageT;
    let target: Target;
    try {
      target = pickTarget(builder.connection, envelope.header);
    } catch (error) {
      const refused = error as RoundtripError;
      return { xactionId, status: refused.status, error: { code: refused.code, message: refused.message } };
    }
    const verdict = builder.offer(target, envelope.body.xdmEntity, index + 1, () => JSON.stringify(message), { synchronous, refuseOversize: true });
    return { xactionId, ...verdict };
  });
}
