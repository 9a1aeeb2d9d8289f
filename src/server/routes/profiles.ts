/**
 * Profile routes: lookup by any identity under a merge policy, the person's events (paged), the profile
 * snapshot tables, merge policies, privacy delete with its jobs, and sandbox compaction (which belongs with
 * privacy: it is what makes deleted bytes leave the disk).
 */
import { Type } from 'typebox';
import { authorize } from '../../access/principal.ts';
import {
  CompactionView,
  EventPage,
  EventsQuery,
  MergePolicyBody,
  MergePolicyPatch,
  MergePolicyView,
  PrivacyDeleteBody,
  PrivacyJobView,
  ProfileQuery,
  ProfileView,
  SnapshotInfo,
  SnapshotRefreshBody,
} from '../../profile/payloads.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const read = { action: 'profile:read' as const };
const write = { action: 'profile:write' as const };
const privacy = { action: 'privacy:delete' as const };
const IdParams = Type.Object({ id: Type.String() });

export function profileRoutes(app: App, platform: Platform): void {
  const { profiles, privacy: privacyService } = platform;
  const tags = ['profiles'];
  app.get(
    '/profiles',
    { config: read, schema: { tags, summary: 'The merged profile of an identity (any namespace)', querystring: ProfileQuery, response: { 200: ProfileView } } },
    async (req) => profiles.lookup(req.sandbox, { namespace: req.query.namespace, id: req.query.id }, { mergePolicyId: req.query.mergePolicyId, events: req.query.events }),
  );
  app.get(
    '/profiles/events',
    { config: read, schema: { tags, summary: "The person's events, newest first", querystring: EventsQuery, response: { 200: EventPage } } },
    async (req) => profiles.events(req.sandbox, { namespace: req.query.namespace, id: req.query.id }, req.query),
  );
  app.get('/profiles/snapshots', { config: read, schema: { tags, summary: 'Profile snapshot tables, one per merge policy', response: { 200: Type.Object({ snapshots: Type.Array(SnapshotInfo) }) } } }, async (req) => ({
    snapshots: await profiles.store.info(req.sandbox),
  }));
  app.post(
    '/profiles/snapshot/refresh',
    { config: write, schema: { tags, summary: 'Rebuild profile snapshot tables now', body: Type.Optional(SnapshotRefreshBody), response: { 200: Type.Object({ snapshots: Type.Array(SnapshotInfo) }) } } },
    async (req) => ({ snapshots: await profiles.refreshSnapshots(req.sandbox, req.body?.mergePolicyId) }),
  );

  const policyTags = ['merge policies'];
  app.get('/merge-policies', { config: read, schema: { tags: policyTags, response: { 200: Type.Object({ mergePolicies: Type.Array(MergePolicyView) }) } } }, async (req) => ({
    mergePolicies: await profiles.policies.list(req.sandbox),
  }));
  app.post(
    '/merge-policies',
    { config: write, schema: { tags: policyTags, summary: 'Create a merge policy (at most 5 per sandbox)', body: MergePolicyBody, response: { 201: MergePolicyView } } },
    async (req, reply) => reply.status(201).send(await profiles.createPolicy(req.principal, req.sandbox, req.body)),
  );
  app.get('/merge-policies/:id', { config: read, schema: { tags: policyTags, params: IdParams, response: { 200: MergePolicyView } } }, async (req) =>
    profiles.policies.get(req.sandbox, req.params.id),
  );
  app.patch(
    '/merge-policies/:id',
    { config: write, schema: { tags: policyTags, summary: 'Change a merge policy (its snapshot table is rebuilt)', params: IdParams, body: MergePolicyPatch, response: { 200: MergePolicyView } } },
    async (req) => profiles.updatePolicy(req.principal, req.sandbox, req.params.id, req.body),
  );
  app.delete('/merge-policies/:id', { config: write, schema: { tags: policyTags, params: IdParams } }, async (req, reply) => {
    await profiles.deletePolicy(req.principal, req.sandbox, req.params.id);
    return reply.status(204).send();
  });

  const privacyTags = ['privacy'];
  app.post(
    '/privacy/delete',
    { config: privacy, schema: { tags: privacyTags, summary: 'Delete a person by any identity; returns the job report', body: PrivacyDeleteBody, response: { 201: PrivacyJobView } } },
    async (req, reply) =>
      reply.status(201).send(await privacyService.delete(req.principal, req.sandbox, { namespace: req.body.namespace, id: req.body.id }, { compact: req.body.compact })),
  );
  app.get('/privacy/jobs', { config: privacy, schema: { tags: privacyTags, response: { 200: Type.Object({ jobs: Type.Array(PrivacyJobView) }) } } }, async (req) => ({
    jobs: await privacyService.jobs(req.sandbox),
  }));
  app.get('/privacy/jobs/:id', { config: privacy, schema: { tags: privacyTags, params: IdParams, response: { 200: PrivacyJobView } } }, async (req) =>
    privacyService.job(req.sandbox, req.params.id),
  );
  app.post(
    '/sandboxes/:name/compact',
    {
      config: { action: 'sandbox:manage', scope: 'global' },
      schema: { tags: ['sandboxes'], summary: 'Rewrite the sandbox database so deleted rows leave the disk', params: Type.Object({ name: Type.String() }), response: { 200: CompactionView } },
    },
    async (req) => {
      authorize(req.principal, 'sandbox:manage', req.params.name);
      await platform.sandboxes.get(req.params.name);
      return privacyService.compact(req.principal, req.params.name);
    },
  );
}
